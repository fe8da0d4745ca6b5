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
//
// The records are the CDRs as the warehouse stores them: the recorder
// applies the PII policy (package pii) before it stores them or calls
// Enqueue, and backfills read them back from the warehouse. So a job's
// sessionId is its fee_records row's, and recordings rows and object
// metadata carry no number the policy removes and still join the CDR. What
// a job is built from besides (icid, subscriptionId, the recording's
// domain, object name and URL, the times) the policy never changes.
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
	return e.enqueue(ctx, records, func(j *Job) string { return j.MsgID() })
}

// Backfill enqueues again the jobs of recorded records whose recording the
// platform still keeps at now, and returns those jobs; the others are
// beyond saving and skipped. Each job gets the Nats-Msg-Id
// "backfill:<run>:<icid>": the job's own id ("rec:<icid>") would be dropped
// as a duplicate when the first job was enqueued within the duplicate
// window, and a backfill run is named by its run so that running the same
// backfill twice (a retry) enqueues each job once. The mirror is
// idempotent (same object key; an archived object is not fetched again).
//
// records are CDRs as the warehouse stored them (their raw JSON read back,
// which the PII policy rewrote to carry the stored sessionId), so each job
// is the one Enqueue published for the same CDR.
func (e *Enqueuer) Backfill(ctx context.Context, run string, records []privatenumber.FeeRecord, now time.Time) ([]Job, error) {
	var live []privatenumber.FeeRecord
	var jobs []Job
	for i := range records {
		r := &records[i]
		if j := NewJob(r, e.retention); r.Recorded() && now.Before(j.Deadline) {
			live = append(live, *r)
			jobs = append(jobs, j)
		}
	}
	if err := e.enqueue(ctx, live, func(j *Job) string { return "backfill:" + run + ":" + j.ICID }); err != nil {
		return nil, err
	}
	return jobs, nil
}

// enqueue publishes the jobs of records with the Nats-Msg-Id msgID gives.
func (e *Enqueuer) enqueue(ctx context.Context, records []privatenumber.FeeRecord, msgID func(*Job) string) error {
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
		msgs = append(msgs, streams.Message{Subject: streams.RecordingSubject, MsgID: msgID(&j), Data: data})
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := e.pub.Publish(ctx, msgs...); err != nil {
		return fmt.Errorf("enqueue %d recording jobs: %w", len(msgs), err)
	}
	return nil
}
