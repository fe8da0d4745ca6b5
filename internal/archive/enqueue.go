package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
)

// Publisher stores messages durably (streams.JetStreamPublisher).
type Publisher interface {
	Publish(ctx context.Context, msgs ...streams.Message) error
}

// Enqueuer turns recorded fee records into jobs on PN_RECORDINGS. The
// recorder calls it in the same step that stores the CDRs, before it acks
// them, so no recorded call can be forgotten.
type Enqueuer struct {
	pub       Publisher
	retention time.Duration
}

// NewEnqueuer returns an Enqueuer publishing through pub.
func NewEnqueuer(pub Publisher) *Enqueuer {
	return &Enqueuer{pub: pub, retention: Retention}
}

// Enqueue publishes one job per recorded record and waits until all are
// stored. A job enqueued again (a re-pushed CDR) has the same Nats-Msg-Id
// and the same object key, so it costs at most one idempotent attempt.
func (e *Enqueuer) Enqueue(ctx context.Context, records []privatenumber.FeeRecord) error {
	var msgs []streams.Message
	for i := range records {
		r := &records[i]
		if !r.Recorded() {
			continue
		}
		j := NewJob(r, e.retention)
		data, err := json.Marshal(j)
		if err != nil {
			return fmt.Errorf("encode job %s: %w", j.ICID, err)
		}
		msgs = append(msgs, streams.Message{Subject: streams.RecordingSubject, MsgID: j.MsgID(), Data: data})
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := e.pub.Publish(ctx, msgs...); err != nil {
		return fmt.Errorf("enqueue %d recording jobs: %w", len(msgs), err)
	}
	return nil
}
