package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/nonces"
	"github.com/pnstream/pnstream/internal/streams"
)

// NonceStore records push nonces for every replica, bound to the body.
// Claim returns nil for a new nonce or the same body again, an error
// matching nonces.ErrReused for another body, any other error when the
// store cannot answer.
type NonceStore interface {
	Claim(ctx context.Context, appKey, nonce string, body []byte, ttl time.Duration) error
}

// RecordNonceStore is a NonceStore that can also store a push's one
// record in the message that claims its nonce (nonces.Store.ClaimWith):
// a single-event push then costs one stored message, not two. ClaimWith
// returns nil when m was stored, or the same push was before; an error
// matching nonces.ErrReused for another body under the nonce, and then
// nothing was stored.
type RecordNonceStore interface {
	NonceStore
	ClaimWith(ctx context.Context, appKey, nonce string, body []byte, m streams.Message) error
}

// nonceChecker is a NonceStore that readiness asks too (JetStreamNonces).
type nonceChecker interface {
	Check(ctx context.Context) error
}

var (
	_ RecordNonceStore = (*nonces.Store)(nil)
	_ RecordNonceStore = (*JetStreamNonces)(nil)
	_ nonceChecker     = (*JetStreamNonces)(nil)
)

// ErrNonceWindow means PN_EVENTS forgets nonces before a push stops
// passing authentication: a replay after its duplicate window would be
// accepted. Ingest is not ready and refuses pushes (503) until the
// recorder's PN_STREAM_NONCE_WINDOW is raised, or the recorder of this
// version has provisioned the streams (earlier ones kept the nonces in
// PN_NONCES and gave PN_EVENTS a 15-minute window).
var ErrNonceWindow = errors.New("nonce window too short")

// ErrLegacyNonces means the nonce stream of earlier versions, PN_NONCES,
// still exists: ingest replicas of those versions may be claiming nonces
// there, which this version would not see. Ingest is not ready and
// refuses pushes (503) until the recorder's set-up has moved its nonces
// into PN_EVENTS and deleted it (streams.RetireLegacyNonces).
var ErrLegacyNonces = errors.New("the nonce stream of an earlier version is not retired yet")

// JetStreamNonces is the nonce store on PN_EVENTS (nonces.NewDeduplicated,
// claims on streams.ClaimSubject), bound on first use: the recorder's
// set-up provisions the stream, and may run after ingest started. Until
// then, while the stream's duplicate window is below the minimum, and
// while PN_NONCES exists, every claim fails (503) and Check (readiness)
// fails.
type JetStreamNonces struct {
	js        jetstream.JetStream
	minWindow time.Duration
	store     atomic.Pointer[nonces.Store]
}

// NewJetStreamNonces returns the store on js. minWindow is how long a
// nonce must be remembered (Config.NonceWindow): a stream with a shorter
// duplicate window is refused. It does no I/O.
func NewJetStreamNonces(js jetstream.JetStream, minWindow time.Duration) *JetStreamNonces {
	return &JetStreamNonces{js: js, minWindow: minWindow}
}

// Claim is nonces.Store.Claim on the stream.
func (n *JetStreamNonces) Claim(ctx context.Context, appKey, nonce string, body []byte, ttl time.Duration) error {
	s, err := n.bound(ctx)
	if err != nil {
		return err
	}
	return s.Claim(ctx, appKey, nonce, body, ttl)
}

// ClaimWith is nonces.Store.ClaimWith on the stream; m must be a message
// of PN_EVENTS.
func (n *JetStreamNonces) ClaimWith(ctx context.Context, appKey, nonce string, body []byte, m streams.Message) error {
	s, err := n.bound(ctx)
	if err != nil {
		return err
	}
	return s.ClaimWith(ctx, appKey, nonce, body, m)
}

// bound returns the store, binding it first if needed.
func (n *JetStreamNonces) bound(ctx context.Context) (*nonces.Store, error) {
	if s := n.store.Load(); s != nil {
		return s, nil
	}
	st, err := n.stream(ctx)
	if err != nil {
		return nil, err
	}
	// Concurrent binds are harmless: the first one stays.
	n.store.CompareAndSwap(nil, nonces.NewDeduplicated(n.js, st, streams.ClaimSubject))
	return n.store.Load(), nil
}

// Check reports whether the stream exists with a long enough duplicate
// window and the claim subject, and PN_NONCES no longer does (two
// requests). On failure it also unbinds the store, so that
// claims check the stream again rather than trust a window since shortened.
func (n *JetStreamNonces) Check(ctx context.Context) error {
	if _, err := n.stream(ctx); err != nil {
		n.store.Store(nil)
		return err
	}
	return nil
}

// stream looks the stream up and checks its window and subjects, and
// that PN_NONCES is gone.
func (n *JetStreamNonces) stream(ctx context.Context) (jetstream.Stream, error) {
	st, err := n.js.Stream(ctx, streams.Events)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("nonce stream %s: %w: %w", streams.Events, streams.ErrNotProvisioned, err)
	}
	if err != nil {
		return nil, fmt.Errorf("nonce stream %s: %w", streams.Events, err)
	}
	cfg := st.CachedInfo().Config
	if w := cfg.Duplicates; w < n.minWindow {
		return nil, fmt.Errorf("nonce stream %s: %w: its duplicate window is %s, want at least PN_PUSH_MAX_AGE + PN_PUSH_CLOCK_SKEW = %s (raise the recorder's PN_STREAM_NONCE_WINDOW, or run the recorder's set-up of this version)",
			streams.Events, ErrNonceWindow, w, n.minWindow)
	}
	if !slices.Contains(cfg.Subjects, streams.ClaimSubject) {
		return nil, fmt.Errorf("nonce stream %s: %w: no subject %s (run the recorder's set-up of this version)", streams.Events, streams.ErrNotProvisioned, streams.ClaimSubject)
	}
	_, err = n.js.Stream(ctx, streams.LegacyNonces)
	switch {
	case err == nil:
		return nil, fmt.Errorf("%w: %s exists (the recorder's set-up of this version retires it)", ErrLegacyNonces, streams.LegacyNonces)
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, fmt.Errorf("nonce stream %s: %w", streams.LegacyNonces, err)
	}
	return st, nil
}
