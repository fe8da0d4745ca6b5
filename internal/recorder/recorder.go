// Package recorder is the worker that moves records from JetStream into
// ClickHouse: durable pull consumers on PN_FEES, PN_EVENTS and PN_NUMBERS, batches
// bounded by count, bytes and time, one insert per batch, progress acks
// while a batch is in hand, acks only after the insert, retries while
// ClickHouse is unavailable, and dead letters for messages that can never
// be stored.
//
// A message goes through three steps: decode, the phone-number policy
// (package pii: applied once, here, to every fee record and call event),
// then storage: the row. A recorded call's recording job is not made here:
// ingest stores its CDR on pn.fees.recorded and the mirror takes it from
// PN_FEES, with the same policy; only recorded CDRs on the legacy pn.fees
// (stored by an ingest from before) get their job enqueued here, from the
// same transformed record as the row.
package recorder

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/redact"
	"github.com/pnstream/pnstream/internal/retry"
	"github.com/pnstream/pnstream/internal/streams"
)

// Store is where the records end up.
type Store interface {
	InsertFees(ctx context.Context, rows []privatenumber.FeeRecord) error
	InsertEvents(ctx context.Context, rows []privatenumber.CallEvent) error
}

// Jobs enqueues the recording jobs of recorded fee records
// (archive.Enqueuer): those that came on the legacy subject FeeSubject
// (see storeFees).
type Jobs interface {
	Enqueue(ctx context.Context, records []privatenumber.FeeRecord) error
}

// Deps are what a Recorder needs besides its Config.
type Deps struct {
	JetStream jetstream.JetStream
	Store     Store
	// Jobs, if set, receives the recorded fee records of a batch that came
	// on FeeSubject while the batch is stored, before it is acknowledged.
	Jobs Jobs
	// PII is the phone-number policy applied to every fee record and call
	// event before the store and Jobs see it; the zero Policy keeps the
	// numbers as received (raw).
	PII pii.Policy
	// BadRows, if set, names the rows of a batch at fault in a permanent
	// error (retry.IsPermanent), so they are dead-lettered without
	// splitting the batch.
	BadRows  func(error) []int
	Logger   *zap.Logger
	Registry prometheus.Registerer
}

// Recorder runs the consumers.
type Recorder struct {
	cfg     Config
	js      jetstream.JetStream
	store   Store
	jobs    Jobs
	pii     pii.Policy
	badRows func(error) []int
	// backoff is the wait between insert attempts while the store fails.
	backoff retry.Policy
	log     *zap.Logger
	metrics *metrics
}

// New returns a Recorder. cfg must be valid.
func New(cfg Config, deps Deps) *Recorder {
	if deps.BadRows == nil {
		deps.BadRows = func(error) []int { return nil }
	}
	return &Recorder{
		cfg:     cfg,
		js:      deps.JetStream,
		store:   deps.Store,
		jobs:    deps.Jobs,
		pii:     deps.PII,
		badRows: deps.BadRows,
		backoff: retry.NewPolicy(cfg.RetryInitial, cfg.RetryMax),
		log:     deps.Logger,
		metrics: newMetrics(deps.Registry),
	}
}

// Run creates or updates the durable consumers and consumes until ctx is
// done; then it flushes the open batches and returns.
func (r *Recorder) Run(ctx context.Context) error {
	err := r.run(ctx)
	if ctx.Err() != nil {
		return nil // stopped, possibly while still setting up
	}
	return err
}

func (r *Recorder) run(ctx context.Context) error {
	fees := table[privatenumber.FeeRecord]{
		name: "fees", stream: streams.Fees, durable: r.cfg.ConsumerPrefix + "-fees",
		decode: privatenumber.DecodeFeeRecord, insert: r.storeFees,
		protect: func(f privatenumber.FeeRecord) privatenumber.FeeRecord { return compactFee(r.pii.Fee(f)) },
	}
	events := table[privatenumber.CallEvent]{
		name: "events", stream: streams.Events, filter: streams.EventSubjectPrefix + ">", durable: r.cfg.ConsumerPrefix + "-events",
		decode: privatenumber.DecodeCallEvent, protect: r.pii.Event, insert: rowsOnly(r.store.InsertEvents),
	}
	feePipe, err := newPipeline(ctx, r, fees)
	if err != nil {
		return err
	}
	eventPipe, err := newPipeline(ctx, r, events)
	if err != nil {
		return err
	}
	numberPipe, err := r.numberPipeline(ctx)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return feePipe.run(gctx) })
	g.Go(func() error { return eventPipe.run(gctx) })
	if numberPipe != nil {
		g.Go(func() error { return numberPipe.run(gctx) })
	}
	return g.Wait()
}

// storeFees inserts fee records and, for the recorded ones that came on
// the legacy subject FeeSubject, enqueues their recording jobs in the same
// step, both from the records as the PII policy left them: the batch is
// acked only when both succeeded, so a recorded call cannot be stored and
// forgotten. A recorded CDR on RecordedFeeSubject needs no job: the mirror
// takes it from PN_FEES itself (archive.Mirror). FeeSubject still carries
// recorded CDRs that an ingest older than RecordedFeeSubject published
// (what PN_FEES held at the upgrade, or a rolling one): their jobs are
// made here as before. The two run at once (ClickHouse and JetStream do
// not wait for each other); a retry after either failed does both again,
// which the table and the jobs' message ids absorb.
func (r *Recorder) storeFees(ctx context.Context, b rows[privatenumber.FeeRecord]) error {
	var legacy []privatenumber.FeeRecord
	if r.jobs != nil {
		legacy = legacyRecorded(b)
	}
	if len(legacy) == 0 {
		return r.store.InsertFees(ctx, b.rows)
	}
	var g errgroup.Group
	g.Go(func() error { return r.jobs.Enqueue(ctx, legacy) })
	err := r.store.InsertFees(ctx, b.rows)
	return errors.Join(err, g.Wait())
}

// legacyRecorded returns the recorded fee records of b that came on
// FeeSubject, whose recording jobs the recorder enqueues.
func legacyRecorded(b rows[privatenumber.FeeRecord]) []privatenumber.FeeRecord {
	var legacy []privatenumber.FeeRecord
	for i := range b.rows {
		if b.rows[i].Recorded() && b.msgs[i].Subject() != streams.RecordedFeeSubject {
			legacy = append(legacy, b.rows[i])
		}
	}
	return legacy
}

// rowsOnly adapts a store's insert to a table's, for tables whose rows
// need nothing of their messages.
func rowsOnly[R any](insert func(context.Context, []R) error) func(context.Context, rows[R]) error {
	return func(ctx context.Context, b rows[R]) error { return insert(ctx, b.rows) }
}

func newPipeline[R any](ctx context.Context, r *Recorder, t table[R]) (*pipeline[R], error) {
	cons, err := r.js.CreateOrUpdateConsumer(ctx, t.stream, jetstream.ConsumerConfig{
		Durable:       t.durable,
		Description:   "pnstream recorder: " + t.name + " into ClickHouse",
		FilterSubject: t.filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       r.cfg.AckWait,
		MaxDeliver:    -1, // the recorder decides when to give up: see MaxDeliveries
		// Two batches in hand at most per replica (pipeline.run), nothing
		// fetched ahead of them: two replicas fit, each fetching the next
		// batch while the acks of its last one are on their way.
		MaxAckPending: 4 * r.cfg.BatchSize,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s on %s: %w", t.durable, t.stream, err)
	}
	return &pipeline[R]{t: t, rec: r, cons: cons, log: r.log.With(zap.String("table", t.name))}, nil
}

// deadLetter keeps msg in PN_DEAD with the reason, then terminates it. If
// the dead letter cannot be stored the message is nak'ed instead, so it is
// tried again later rather than lost.
func (r *Recorder) deadLetter(ctx context.Context, name string, msg jetstream.Msg, cause error) {
	log := r.log.With(zap.String("subject", msg.Subject()), zap.String("stream_seq", seqString(msg)), zap.Error(cause))
	if err := streams.DeadLetter(ctx, r.js, name, msg, cause); err != nil {
		log.Warn("dead letter not stored; message will be retried", zap.NamedError("publish_error", err))
		_ = msg.NakWithDelay(r.cfg.RetryMax) // best effort: AckWait brings it back otherwise
		return
	}
	if err := msg.TermWithReason(redact.Truncate(cause.Error(), 256)); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		log.Warn("term after dead letter failed; a redelivery will dead-letter it again", zap.NamedError("term_error", err))
	}
	r.metrics.deadLetters.WithLabelValues(name).Inc()
	log.Error("message dead-lettered")
}
