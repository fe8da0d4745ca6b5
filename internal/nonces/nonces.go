// Package nonces is the store of push nonces shared by every ingest
// replica: the stream PN_EVENTS (streams.Events), deduplicated by
// Nats-Msg-Id over the nonce window (NewDeduplicated), in which a nonce is
// checked and recorded in one atomic step (a publish the server stores or
// answers "duplicate"), bound to a digest of the push body, and forgotten
// after the stream's duplicate window (PN_STREAM_NONCE_WINDOW, at least
// PN_PUSH_MAX_AGE + PN_PUSH_CLOCK_SKEW). A single-event push's event is
// itself the nonce's message (ClaimWith); other pushes claim with a small
// message of their own (Claim). It survives restarts of ingest and of the
// server (file storage).
//
// An entry is kept small, because at 1,000 pushes/s a 6 h window holds
// about 22 million nonces. Measured by the nonces stage of `make bench`
// (nats-server 2.15.2, file storage, 1 million nonces): on the
// deduplicated stream a nonce takes 98 bytes of disk and the server's RSS
// grows by ~175–205 MB per million (the index of message ids), so a full
// window needs ~2.2 GB of disk and 4–4.5 GB of server memory, restarting
// in ~4.5 s per million. The JetStream KV bucket with a TTL per key (New,
// kept as the bench's comparison) needs twice that: 192 bytes of disk and
// ~300–420 MB of RSS per million (its per-subject index and TTL wheel,
// ~270 bytes of live heap per key), ~4 GB and 6.5–9 GB for the window.
//
//   - the key (the message id) is 12 bytes of SHA-256 over (appKey,
//     nonce), base64url without padding: 16 characters. Two distinct
//     (appKey, nonce) pairs share a key with probability about
//     n²/2⁹⁷ ≈ 3·10⁻¹⁵ for n = 22 million live nonces; a collision costs a
//     false 401 (or acceptance of an identical body), never a forgery,
//     because the key is also bound to the body.
//   - the value (the message data) is 12 bytes of SHA-256 over the body.
//     Passing a forged body under a captured nonce needs a second preimage
//     of a 96-bit truncated SHA-256 (about 2⁹⁶ hashes); the attacker
//     cannot choose the original body, so birthday collisions do not help.
package nonces

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/streams"
)

// KeyBytes and DigestBytes are the lengths of the truncated SHA-256 hashes
// that make an entry's key (message id) and value (data) (see the package comment for the
// collision figures).
const (
	KeyBytes    = 12
	DigestBytes = 12
)

// ErrReused means the nonce was seen before with another body: a replay
// of captured headers with a forged body. Ingest answers 401.
var ErrReused = errors.New("nonce reused with another body")

// Store records push nonces on a deduplicated stream (NewDeduplicated),
// or in a KV bucket with per-key TTL (New). It is safe for concurrent use,
// and any number of Stores on any number of connections share the stream's
// or bucket's state.
type Store struct {
	dd *dedupe            // the deduplicated stream, or nil for a bucket
	kv jetstream.KeyValue // the bucket
}

// New returns a Store on kv, a KV bucket with LimitMarkerTTL set
// (nats-server ≥ 2.11): the scheme `make bench` compares NewDeduplicated
// with, not what ingest uses. It does no I/O.
func New(kv jetstream.KeyValue) *Store {
	return &Store{kv: kv}
}

// Claim atomically records (appKey, nonce) bound to a digest of body for
// ttl (at least 1s, whole seconds; the server's TTL resolution; a
// deduplicated stream keeps it for its duplicate window instead). It returns
// nil when the nonce is new, or when it was seen before with the same body
// (the platform re-sent the push with its original headers; the records'
// identities absorb it). It returns an error matching ErrReused when the
// nonce was seen before with another body. Any other error means the store
// could not be reached or answered unexpectedly: the caller answers 503.
func (s *Store) Claim(ctx context.Context, appKey, nonce string, body []byte, ttl time.Duration) error {
	if ttl < time.Second {
		return fmt.Errorf("claim nonce: ttl %s: want at least 1s", ttl)
	}
	key := Key(appKey, nonce)
	sum := Digest(body)
	if s.dd != nil {
		return s.dd.claim(ctx, key, sum, streams.Message{Subject: s.dd.subject, Data: sum})
	}
	// One retry: the entry may expire between a refused Create and the Get.
	for range 2 {
		_, err := s.kv.Create(ctx, key, sum, jetstream.KeyTTL(ttl))
		if err == nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("claim nonce: create: %w", err)
		}
		e, err := s.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("claim nonce: get: %w", err)
		}
		if !bytes.Equal(e.Value(), sum) {
			return ErrReused
		}
		return nil
	}
	return errors.New("claim nonce: entry kept expiring between create and get")
}

// ErrClaimWithUnsupported is returned by ClaimWith on a Store of New.
var ErrClaimWithUnsupported = errors.New("claim with a message: only on a deduplicated stream")

// ClaimWith is Claim that stores m, a message for the Store's stream, in
// the same step: m becomes the nonce's message, with the nonce's key as
// its Nats-Msg-Id and the body's digest in its header
// streams.HeaderPushDigest. So a push of one record costs one stored
// message rather than two. It returns nil when m was stored, or when the
// nonce was seen before with the same body (a re-push: its first message
// is kept); an error matching ErrReused when it was seen with another
// body, and then m was not stored; any other error when the store could
// not be reached. Only a Store of NewDeduplicated can:
// ErrClaimWithUnsupported otherwise.
func (s *Store) ClaimWith(ctx context.Context, appKey, nonce string, body []byte, m streams.Message) error {
	if s.dd == nil {
		return ErrClaimWithUnsupported
	}
	sum := Digest(body)
	h := make(nats.Header, len(m.Header)+2)
	for k, v := range m.Header {
		h[k] = v
	}
	h[streams.HeaderPushDigest] = []string{base64.RawURLEncoding.EncodeToString(sum)}
	m.Header = h
	return s.dd.claim(ctx, Key(appKey, nonce), sum, m)
}

// Key is the message id (bucket key) of (appKey, nonce): KeyBytes of SHA-256 over both,
// length-prefixed so that no two pairs share an input, base64url without
// padding.
func Key(appKey, nonce string) string {
	h := sha256.New()
	var n [8]byte
	for i := range n {
		n[i] = byte(uint64(len(appKey)) >> (8 * i))
	}
	h.Write(n[:])
	h.Write([]byte(appKey))
	h.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:KeyBytes])
}

// Digest is the stored data for body: DigestBytes of its SHA-256.
func Digest(body []byte) []byte {
	sum := sha256.Sum256(body)
	return sum[:DigestBytes]
}
