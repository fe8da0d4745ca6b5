package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pnstream/pnstream/internal/pii"
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
	pii       pii.Policy
}

// NewEnqueuer returns an Enqueuer publishing through pub.
func NewEnqueuer(pub Publisher) *Enqueuer {
	return &Enqueuer{pub: pub, retention: Retention}
}

// WithPII makes e store the jobs' sessionId as the warehouse stores it
// under p (the platform may build it from the caller's and callee's
// numbers), so that recordings rows and object metadata carry no number
// the policy removes and still join the CDR. It returns e.
func (e *Enqueuer) WithPII(p pii.Policy) *Enqueuer {
	e.pii = p
	return e
}

// Enqueue publishes one job per recorded record, as received from the
// platform, and waits until all are stored. A job enqueued again (a
// re-pushed CDR) has the same Nats-Msg-Id and the same object key, so it
// costs at most one idempotent attempt.
func (e *Enqueuer) Enqueue(ctx context.Context, records []privatenumber.FeeRecord) error {
	return e.enqueue(ctx, records, e.pii.FeeSessionID, func(j *Job) string { return j.MsgID() })
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
// records are CDRs as the warehouse stored them (their raw JSON read
// back): the PII policy was applied when they were stored, by the same
// code as Enqueue's (pii.Policy.Fees writes the stored sessionId into the
// raw JSON), so each job gets the sessionId of its fee_records row as it
// is. The policy is not applied again: a stored sessionId is not one the
// policy leaves alone (two applications would not give the row's value).
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
	stored := func(r *privatenumber.FeeRecord) string { return r.SessionID }
	if err := e.enqueue(ctx, live, stored, func(j *Job) string { return "backfill:" + run + ":" + j.ICID }); err != nil {
		return nil, err
	}
	return jobs, nil
}

// enqueue publishes the jobs of records, with the sessionId sessionID
// gives and the Nats-Msg-Id msgID gives.
func (e *Enqueuer) enqueue(ctx context.Context, records []privatenumber.FeeRecord, sessionID func(*privatenumber.FeeRecord) string, msgID func(*Job) string) error {
	var msgs []streams.Message
	for i := range records {
		r := &records[i]
		if !r.Recorded() {
			continue
		}
		j := NewJob(r, e.retention)
		j.SessionID = sessionID(r)
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
