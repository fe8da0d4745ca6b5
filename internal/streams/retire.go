package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// RetireLegacyNonces moves the nonces that PN_NONCES, the nonce stream of
// earlier versions, still remembers into PN_EVENTS (ClaimSubject, the same
// ids and digests), then deletes PN_NONCES. It does nothing when PN_NONCES
// does not exist.
//
// PN_NONCES is sealed first, so that no nonce is claimed there after the
// copy began: until it is deleted, ingest replicas that still claim there
// get an error and answer 503, and the platform re-pushes. A replica of
// this version claims in PN_EVENTS once PN_NONCES is gone; one of an
// earlier version is not ready without it, and answers 503, until it is
// replaced. Several processes may retire at once, or a retirement resume
// after a crash: the copies are deduplicated by their ids.
func RetireLegacyNonces(ctx context.Context, js jetstream.JetStream, window time.Duration) error {
	st, err := js.Stream(ctx, LegacyNonces)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("retire %s: %w", LegacyNonces, err)
	}
	if cfg := st.CachedInfo().Config; !cfg.Sealed {
		cfg.Sealed = true
		if _, err := js.UpdateStream(ctx, cfg); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("retire %s: seal: %w", LegacyNonces, err)
		}
	}
	n, err := copyLegacyNonces(ctx, js, st, window)
	if err != nil {
		return fmt.Errorf("retire %s: %w", LegacyNonces, err)
	}
	if err := js.DeleteStream(ctx, LegacyNonces); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("retire %s: delete after copying %d nonces: %w", LegacyNonces, n, err)
	}
	return nil
}

// copyLegacyNonces republishes the messages of the sealed st stored within
// window, the nonces it still remembers, on ClaimSubject. It returns how
// many it copied.
func copyLegacyNonces(ctx context.Context, js jetstream.JetStream, st jetstream.Stream, window time.Duration) (int, error) {
	info, err := st.Info(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil // another process retired it
	}
	if err != nil {
		return 0, fmt.Errorf("info: %w", err)
	}
	since := time.Now().Add(-window)
	if info.State.Msgs == 0 || info.State.LastTime.Before(since) {
		return 0, nil
	}
	last := info.State.LastSeq
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{LegacyNonceSubject},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &since,
	})
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	pub := NewJetStreamPublisher(js.Conn(), js)
	defer pub.Close()
	copied := 0
	for {
		batch, err := cons.Fetch(publishWindow, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return copied, fmt.Errorf("read: %w", err)
		}
		msgs := make([]Message, 0, publishWindow)
		read, done := 0, false
		for m := range batch.Messages() {
			read++
			meta, err := m.Metadata()
			if err != nil {
				return copied, fmt.Errorf("read: %w", err)
			}
			if id := m.Headers().Get(jetstream.MsgIDHeader); id != "" {
				msgs = append(msgs, Message{Subject: ClaimSubject, MsgID: id, Data: m.Data()})
			}
			done = done || meta.Sequence.Stream >= last
		}
		if err := batch.Error(); err != nil {
			return copied, fmt.Errorf("read: %w", err)
		}
		if err := pub.Publish(ctx, msgs...); err != nil {
			return copied, fmt.Errorf("copy into %s: %w", Events, err)
		}
		copied += len(msgs)
		if done || read == 0 {
			return copied, nil
		}
	}
}
