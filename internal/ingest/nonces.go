package ingest

import (
	"context"
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

var (
	_ NonceStore = (*nonces.Store)(nil)
	_ NonceStore = (*JetStreamNonces)(nil)
)

// JetStreamNonces is the nonce store on the streams.Nonces bucket, bound on
// first use: the recorder's set-up creates the bucket, and may run after
// ingest started. Until then every Claim fails (503) and readiness is
// false.
type JetStreamNonces struct {
	js    jetstream.JetStream
	store atomic.Pointer[nonces.Store]
}

// NewJetStreamNonces returns the store on js. It does no I/O.
func NewJetStreamNonces(js jetstream.JetStream) *JetStreamNonces {
	return &JetStreamNonces{js: js}
}

// Claim is nonces.Store.Claim on the bucket.
func (n *JetStreamNonces) Claim(ctx context.Context, appKey, nonce string, body []byte, ttl time.Duration) error {
	s := n.store.Load()
	if s == nil {
		kv, err := n.js.KeyValue(ctx, streams.Nonces)
		if err != nil {
			return fmt.Errorf("nonce bucket %s: %w", streams.Nonces, err)
		}
		// Concurrent binds are harmless: the first one stays.
		n.store.CompareAndSwap(nil, nonces.New(kv))
		s = n.store.Load()
	}
	return s.Claim(ctx, appKey, nonce, body, ttl)
}
