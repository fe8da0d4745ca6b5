package ingest

import (
	"context"
	"errors"
	"fmt"
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

// nonceChecker is a NonceStore that readiness asks too (JetStreamNonces).
type nonceChecker interface {
	Check(ctx context.Context) error
}

var (
	_ NonceStore   = (*nonces.Store)(nil)
	_ NonceStore   = (*JetStreamNonces)(nil)
	_ nonceChecker = (*JetStreamNonces)(nil)
)

// ErrNonceWindow means the stream PN_NONCES forgets nonces before a push
// stops passing authentication: a replay after its duplicate window would
// be accepted. Ingest is not ready and refuses pushes (503) until the
// recorder's PN_STREAM_NONCE_WINDOW is raised.
var ErrNonceWindow = errors.New("nonce window too short")

// JetStreamNonces is the nonce store on the stream streams.Nonces
// (nonces.NewDeduplicated), bound on first use: the recorder's set-up
// creates the stream, and may run after ingest started. Until then, and
// while the stream's duplicate window is below the minimum, every Claim
// fails (503) and Check (readiness) fails.
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
	s := n.store.Load()
	if s == nil {
		st, err := n.stream(ctx)
		if err != nil {
			return err
		}
		// Concurrent binds are harmless: the first one stays.
		n.store.CompareAndSwap(nil, nonces.NewDeduplicated(n.js, st, streams.NonceSubject))
		s = n.store.Load()
	}
	return s.Claim(ctx, appKey, nonce, body, ttl)
}

// Check reports whether the stream exists with a long enough duplicate
// window (one request). On failure it also unbinds the store, so that
// claims check the stream again rather than trust a window since shortened.
func (n *JetStreamNonces) Check(ctx context.Context) error {
	if _, err := n.stream(ctx); err != nil {
		n.store.Store(nil)
		return err
	}
	return nil
}

// stream looks the stream up and checks its window.
func (n *JetStreamNonces) stream(ctx context.Context) (jetstream.Stream, error) {
	st, err := n.js.Stream(ctx, streams.Nonces)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("nonce stream %s: %w: %w", streams.Nonces, streams.ErrNotProvisioned, err)
	}
	if err != nil {
		return nil, fmt.Errorf("nonce stream %s: %w", streams.Nonces, err)
	}
	if w := st.CachedInfo().Config.Duplicates; w < n.minWindow {
		return nil, fmt.Errorf("nonce stream %s: %w: its duplicate window is %s, want at least PN_PUSH_MAX_AGE + PN_PUSH_CLOCK_SKEW = %s (raise the recorder's PN_STREAM_NONCE_WINDOW)",
			streams.Nonces, ErrNonceWindow, w, n.minWindow)
	}
	return st, nil
}
