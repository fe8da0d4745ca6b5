package nonces

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/streams"
)

// NewDeduplicated returns a Store on a stream deduplicated by Nats-Msg-Id,
// PN_EVENTS as streams.Provision creates it (what ingest uses; the package
// comment has the figures). Every nonce is one message with the key as
// its Nats-Msg-Id: a claim on subject with the body digest as its data
// (Claim), or a record stored with the claim, with the digest in its
// header streams.HeaderPushDigest (ClaimWith). stream must have
// Duplicates = the nonce window (at least PN_PUSH_MAX_AGE +
// PN_PUSH_CLOCK_SKEW), MaxAge a little longer, so that a remembered id's
// message can still be read, and Discard new when full. Claim's ttl is
// then ignored: the stream's Duplicates is the window. It does no I/O.
//
// Claims go through a streams.JetStreamPublisher of their own, so that the
// claims of concurrent pushes reach the server in one write.
func NewDeduplicated(js jetstream.JetStream, stream jetstream.Stream, subject string) *Store {
	return &Store{dd: &dedupe{pub: streams.NewJetStreamPublisher(js.Conn(), js), stream: stream, subject: subject}}
}

type dedupe struct {
	pub     *streams.JetStreamPublisher
	stream  jetstream.Stream
	subject string
}

// claim publishes m with the key as message id: the server stores it, or
// answers that the id is in its window with the sequence of the message
// that carried it first, whose digest decides.
func (d *dedupe) claim(ctx context.Context, key string, sum []byte, m streams.Message) error {
	m.MsgID = key
	ack, err := d.pub.PublishAck(ctx, m)
	if err != nil {
		return fmt.Errorf("claim nonce: publish: %w", err)
	}
	if !ack.Duplicate {
		return nil
	}
	// A message older than its id would be a misconfigured stream (MaxAge
	// below Duplicates): an error, not a guess.
	orig, err := d.stream.GetMsg(ctx, ack.Sequence)
	if err != nil {
		return fmt.Errorf("claim nonce: get message %d: %w", ack.Sequence, err)
	}
	if !bytes.Equal(storedDigest(orig), sum) {
		return ErrReused
	}
	return nil
}

// storedDigest is the body digest a nonce's message carries: in its
// header when it is a record stored with its claim, else its data.
func storedDigest(m *jetstream.RawStreamMsg) []byte {
	if h := m.Header.Get(streams.HeaderPushDigest); h != "" {
		sum, err := base64.RawURLEncoding.DecodeString(h)
		if err != nil {
			return nil // matches no digest: the nonce is refused
		}
		return sum
	}
	return m.Data
}
