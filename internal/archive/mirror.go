// Package archive keeps every recorded call in S3: it turns recorded fee
// records into jobs on PN_RECORDINGS, and its mirror workers resolve each
// recording's download URL through the platform, fetch it under a strict
// host policy, and store it under a key that is a pure function of the
// record, with its SHA-256, before they acknowledge the job.
package archive

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/redact"
	"github.com/pnstream/pnstream/internal/retry"
	"github.com/pnstream/pnstream/internal/streams"
)

// Resolver returns a fresh download URL of a recording: the platform's
// record-URL API (axeapi.Client).
type Resolver interface {
	RecordingURL(ctx context.Context, recordDomain, fileName string) (*url.URL, error)
}

// Rows stores the pn.recordings row of each outcome.
type Rows interface {
	InsertRecordings(ctx context.Context, rows []recording.Row) error
}

// Deps are what a Mirror needs besides its Config.
type Deps struct {
	JetStream jetstream.JetStream
	Resolver  Resolver
	Bucket    *Bucket
	Rows      Rows
	Logger    *zap.Logger
	Registry  prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PII is the phone-number policy the recorder stores CDRs with: a job
	// taken from a CDR on PN_FEES gets the sessionId of the CDR's row. The
	// zero Policy keeps it as received.
	PII pii.Policy
}

// Mirror runs the workers that archive recordings.
type Mirror struct {
	cfg     Config
	deps    Deps
	fetcher *Fetcher
	log     *zap.Logger
	metrics *metrics
	now     func() time.Time

	mu          sync.Mutex
	pausedUntil time.Time // flow control: no worker calls the platform before

	// busy counts the jobs begun and not finished: when none is, the row
	// writer has every row that is coming and need not linger.
	busy atomic.Int32
}

// idle ends a job, after its row went to the writer or it was settled.
func (m *Mirror) idle(rows *rowWriter) {
	if m.busy.Add(-1) == 0 {
		rows.workersIdle()
	}
}

// NewMirror returns a Mirror. cfg must be valid and enabled.
func NewMirror(cfg Config, deps Deps) *Mirror {
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	fetcher := NewFetcher(cfg.Policy(), cfg.MaxBytes, cfg.DownloadTimeout)
	fetcher.spool = newMemSpool(min(memSpoolMax, cfg.MemorySpool), cfg.MemorySpool)
	return &Mirror{
		cfg:     cfg,
		deps:    deps,
		fetcher: fetcher,
		log:     deps.Logger.Named("archive"),
		metrics: newMetrics(deps.Registry),
		now:     now,
	}
}

// Run creates the bucket if needed and the durable consumer, and mirrors
// with Concurrency workers until ctx is done. A job in progress when ctx
// ends is handed back (nak) for the next run.
func (m *Mirror) Run(ctx context.Context) error {
	err := m.run(ctx)
	if ctx.Err() != nil {
		return nil // stopped, possibly while still setting up
	}
	return err
}

func (m *Mirror) run(ctx context.Context) error {
	if n, err := SweepSpool(m.cfg.SpoolDir); err != nil {
		m.log.Warn("spool directory not swept", zap.Error(err))
	} else if n > 0 {
		m.log.Info("removed spool files left by a killed recorder", zap.Int("files", n))
	}
	// S3 may be down when the recorder starts (an outage it was restarted
	// in): wait for it rather than fail, which would stop the recorder's
	// CDRs too. The jobs wait in PN_RECORDINGS meanwhile.
	wait := retry.NewPolicy(min(m.cfg.RetryInitial, time.Second), min(m.cfg.RetryMax, 30*time.Second))
	ensure := func() error { return redact.Error(m.deps.Bucket.Ensure(ctx)) }
	if err := retry.Do(ctx, wait, ensure, func(err error, next time.Duration) {
		m.log.Warn("S3 unavailable at start; retrying", zap.Duration("retry_in", next), zap.Error(err))
	}); err != nil {
		return err
	}
	// Jobs come from two consumers: the recorded CDRs on PN_FEES (what
	// ingest publishes on RecordedFeeSubject), and PN_RECORDINGS (backfills,
	// and the jobs the recorder enqueues for recorded CDRs on the legacy
	// FeeSubject). Both feed the same workers.
	fees, err := m.deps.JetStream.CreateOrUpdateConsumer(ctx, streams.Fees, jetstream.ConsumerConfig{
		Durable:       m.cfg.Consumer + "-fees",
		Description:   "pnstream archive: recordings of recorded CDRs into S3",
		FilterSubject: streams.RecordedFeeSubject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       m.cfg.AckWait,
		MaxDeliver:    -1, // the job's deadline decides when to give up
		MaxAckPending: m.cfg.MaxPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("consumer %s-fees on %s: %w", m.cfg.Consumer, streams.Fees, err)
	}
	jobs, err := m.deps.JetStream.CreateOrUpdateConsumer(ctx, streams.Recordings, jetstream.ConsumerConfig{
		Durable:       m.cfg.Consumer,
		Description:   "pnstream archive: recordings into S3",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       m.cfg.AckWait,
		MaxDeliver:    -1, // the job's deadline decides when to give up
		MaxAckPending: m.cfg.MaxPending,
	})
	if err != nil {
		return fmt.Errorf("consumer %s on %s: %w", m.cfg.Consumer, streams.Recordings, err)
	}
	// The row writer outlives the workers: it settles every job they
	// handed it before run returns.
	rows := newRowWriter(m.deps.Rows)
	var writer sync.WaitGroup
	writer.Go(func() { rows.run(ctx, func() bool { return m.busy.Load() > 0 }) })
	defer writer.Wait()
	defer rows.close()
	// Each worker holds two jobs (one uploading, one downloading), and pulls
	// of two jobs at a time cost nats-server 250 µs a job (190 with four).
	pull := jetstream.PullMaxMessages(2 * m.cfg.Concurrency)
	feeIter, err := fees.Messages(pull)
	if err != nil {
		return fmt.Errorf("consume %s: %w", streams.Fees, err)
	}
	defer feeIter.Stop()
	jobIter, err := jobs.Messages(pull)
	if err != nil {
		return fmt.Errorf("consume %s: %w", streams.Recordings, err)
	}
	defer jobIter.Stop()
	g, gctx := errgroup.WithContext(ctx)
	next := make(chan jetstream.Msg) // unbuffered: a worker takes each message
	g.Go(func() error { return m.feed(gctx, streams.Fees, feeIter, next) })
	g.Go(func() error { return m.feed(gctx, streams.Recordings, jobIter, next) })
	for range m.cfg.Concurrency {
		g.Go(func() error {
			m.work(gctx, next, rows)
			return nil
		})
	}
	return g.Wait()
}

// work runs jobs from next until ctx is done. It uploads one recording
// while it prepares the next (stat, resolve, download): a job is mostly
// round trips, and a worker doing them one after the other left the
// machine idle between them (200 KB recordings: 0.70 of raw PutObject at
// the same number of uploads at a time). A worker still has at most one
// upload in flight, so Concurrency is the number of uploads at a time,
// and at most one spooled file: after a download spooled to disk it waits
// for that upload before it downloads again, so SpoolDir needs no more
// than before.
func (m *Mirror) work(ctx context.Context, next <-chan jetstream.Msg, rows *rowWriter) {
	var inFlight sync.WaitGroup // this worker's upload, at most one
	defer inFlight.Wait()
	onDisk := false // the upload in flight is of a spooled file
	for {
		var msg jetstream.Msg
		select {
		case msg = <-next:
		case <-ctx.Done():
			return
		}
		if onDisk {
			inFlight.Wait()
		}
		u := m.begin(ctx, msg, rows)
		inFlight.Wait()
		if u == nil {
			continue
		}
		onDisk = u.d.File != nil
		inFlight.Go(func() { m.upload(ctx, u, rows) })
	}
}

// feed hands the messages of iter to the workers until ctx is done. A
// message no worker took by then is handed back.
func (m *Mirror) feed(ctx context.Context, stream string, iter jetstream.MessagesContext, next chan<- jetstream.Msg) error {
	for {
		msg, err := iter.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, jetstream.ErrNoHeartbeat) {
				// A cluster node or the connection went away; the
				// iterator pulls again by itself.
				m.log.Warn("job consumer missed heartbeats; pulling again", zap.String("stream", stream), zap.Error(err))
				continue
			}
			return fmt.Errorf("consume %s: %w", stream, err)
		}
		select {
		case next <- msg:
		case <-ctx.Done():
			_ = msg.Nak() // best effort: AckWait brings it back otherwise
			return nil
		}
	}
}

// upload is a job whose recording is downloaded and goes to S3 next.
type upload struct {
	msg   jetstream.Msg
	job   Job
	start time.Time
	log   *zap.Logger
	stop  func() // ends the job's progress acks
	row   recording.Row
	d     *Download // nil when the recording is archived already
}

// begin runs a job up to its upload: it returns the upload to do, or nil
// when there is none (the recording was archived already, the job failed
// or needs nothing), the job then being settled or its row handed to rows.
func (m *Mirror) begin(ctx context.Context, msg jetstream.Msg, rows *rowWriter) *upload {
	m.busy.Add(1)
	start := m.now()
	job, ok, err := m.jobOf(msg)
	if !ok {
		// A CDR of a call that was not recorded (a replay): nothing to do.
		_ = msg.Ack() // best effort: a redelivery finds nothing to do again
		m.idle(rows)
		return nil
	}
	u := &upload{msg: msg, job: job, start: start,
		log: m.log.With(zap.String("icid", job.ICID), zap.String("session_id", job.SessionID))}
	if err == nil {
		u.stop = m.keepAlive(msg)
		u.row, u.d, err = m.fetch(ctx, &u.job)
		if err == nil && u.d != nil {
			return u
		}
	}
	m.finish(ctx, u, err, rows)
	return nil
}

// upload stores the downloaded recording and ends its job.
func (m *Mirror) upload(ctx context.Context, u *upload, rows *rowWriter) {
	err := m.put(ctx, &u.job, &u.row, u.d)
	_ = u.d.Close() // memory or a temp file; nothing to lose
	m.finish(ctx, u, err, rows)
}

// finish ends a job: its row goes to rows, which settles the job once the
// row is stored; a job that failed is settled at once.
func (m *Mirror) finish(ctx context.Context, u *upload, err error, rows *rowWriter) {
	defer m.idle(rows)
	if u.stop != nil {
		u.stop()
	}
	// Every error reaches logs, the row and the dead letter from here:
	// none may carry a signed download URL whole.
	if err = redact.Error(err); err == nil {
		rows.submit(ctx, u.row, func(err error) { m.settle(ctx, u.msg, &u.job, u.start, u.row, err, u.log) })
		return
	}
	m.settle(ctx, u.msg, &u.job, u.start, recording.Row{}, err, u.log)
}

// jobOf returns the job of a message: a recorded CDR on PN_FEES, or a job
// of PN_RECORDINGS. It returns false for a CDR that needs no job.
func (m *Mirror) jobOf(msg jetstream.Msg) (Job, bool, error) {
	if msg.Subject() == streams.RecordedFeeSubject {
		return JobFromFee(msg.Data(), m.deps.PII.FeeSessionID, Retention)
	}
	job, err := DecodeJob(msg.Data())
	return job, true, err
}

// settle ends a job: ack when its recording and row are stored (err nil),
// nak with a delay to retry, or a failed row, a dead letter and term when
// it can never succeed.
func (m *Mirror) settle(ctx context.Context, msg jetstream.Msg, job *Job, start time.Time, rec recording.Row, err error, log *zap.Logger) {
	if err == nil {
		if aerr := msg.Ack(); aerr != nil {
			log.Warn("ack failed; the job will run again and find the object", zap.Error(aerr))
		}
		m.metrics.observe("archived", m.now().Sub(start), rec.SizeBytes)
		log.Debug("recording archived", zap.String("key", rec.ObjectKey), zap.Uint64("bytes", rec.SizeBytes))
		return
	}
	if ctx.Err() != nil {
		_ = msg.Nak() // shutting down: hand the job back at once; best effort
		return
	}
	var pause *pauseError
	switch {
	case errors.As(err, &pause):
		m.metrics.observe("paused", m.now().Sub(start), 0)
		log.Warn("platform flow control: pausing the mirror", zap.Duration("pause", pause.pause))
		_ = msg.NakWithDelay(pause.pause) // best effort: AckWait brings it back otherwise
	case retry.IsPermanent(err):
		m.fail(ctx, msg, job, err, log)
	default:
		delay := m.backoff(msg)
		if !job.Deadline.IsZero() && m.now().Add(delay).After(job.Deadline) {
			m.fail(ctx, msg, job, fmt.Errorf("deadline %s passed: %w", job.Deadline.Format(time.RFC3339), err), log)
			return
		}
		m.metrics.observe("retried", m.now().Sub(start), 0)
		log.Warn("mirror attempt failed; retrying", zap.Duration("retry_in", delay), zap.Error(err))
		_ = msg.NakWithDelay(delay) // best effort: AckWait brings it back otherwise
	}
}

// fetch returns the row of a recording stored already with its SHA-256,
// which is not fetched again, or else the row so far and the recording,
// downloaded from a freshly resolved URL and hashed.
func (m *Mirror) fetch(ctx context.Context, j *Job) (recording.Row, *Download, error) {
	key := ObjectKey(j)
	row := recording.Row{ICID: j.ICID, SessionID: j.SessionID, Bucket: m.cfg.Bucket, ObjectKey: key, Status: recording.Archived}
	if obj, ok, err := m.deps.Bucket.Stat(ctx, key); err != nil {
		return row, nil, err
	} else if ok {
		row.SizeBytes, row.SHA256, row.ContentType = uint64(obj.Size), obj.SHA256, obj.ContentType
		return row, nil, nil
	}
	if j.Deadline.Before(m.now()) {
		return row, nil, retry.Permanent(fmt.Errorf("deadline %s passed: the platform no longer keeps the recording", j.Deadline.Format(time.RFC3339)))
	}
	src, err := m.resolve(ctx, j)
	if err != nil {
		return row, nil, err
	}
	d, err := m.fetcher.Fetch(ctx, src, m.cfg.SpoolDir)
	if err != nil {
		return row, nil, err
	}
	return row, d, nil
}

// put uploads d, signed with its SHA-256, and completes row.
func (m *Mirror) put(ctx context.Context, j *Job, row *recording.Row, d *Download) error {
	contentType := ContentType(d.ContentType, j.Extension())
	if err := m.deps.Bucket.Put(ctx, row.ObjectKey, j, d, contentType); err != nil {
		return err
	}
	row.SizeBytes, row.SHA256, row.ContentType = uint64(d.Size), d.SHA256, contentType
	return nil
}

// resolve returns where to download the recording from: a fresh URL from
// the record-URL API on every attempt (URLs expire), or the CDR's
// recordFileDownloadUrl when recordDomain is empty.
func (m *Mirror) resolve(ctx context.Context, j *Job) (string, error) {
	if j.RecordDomain == "" {
		return j.RecordFileDownloadURL, nil
	}
	if err := m.waitPause(ctx); err != nil {
		return "", err
	}
	u, err := m.deps.Resolver.RecordingURL(ctx, j.RecordDomain, j.RecordObjectName)
	err = redact.Error(err) // a 301's unusable Location is quoted in the error
	switch {
	case err == nil:
		return u.String(), nil
	case errors.Is(err, axeapi.ErrNotFound):
		return "", retry.Permanent(fmt.Errorf("resolve recording: %w", err))
	case errors.Is(err, axeapi.ErrFlowControl):
		// The platform says "retry after a minute"; the configured pause
		// (default 1m) is what operators tune.
		pause := m.cfg.FlowControlPause
		m.pause(pause)
		return "", &pauseError{err: fmt.Errorf("resolve recording: %w", err), pause: pause}
	default:
		return "", fmt.Errorf("resolve recording: %w", err)
	}
}

func (m *Mirror) pause(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if until := m.now().Add(d); until.After(m.pausedUntil) {
		m.pausedUntil = until
	}
}

// waitPause blocks while the platform asked us to slow down.
func (m *Mirror) waitPause(ctx context.Context) error {
	m.mu.Lock()
	wait := m.pausedUntil.Sub(m.now())
	m.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// backoff is the wait before a job's next attempt: the policy of
// RetryInitial and RetryMax after as many failures as deliveries, so that
// it grows across workers and restarts.
func (m *Mirror) backoff(msg jetstream.Msg) time.Duration {
	n := uint64(1)
	if md, err := msg.Metadata(); err == nil && md.NumDelivered > 0 {
		n = md.NumDelivered
	}
	return retry.NewPolicy(m.cfg.RetryInitial, m.cfg.RetryMax).Delay(n)
}

// keepAlive sends progress acks while a job runs, so a long download is not
// redelivered to another worker. The returned func stops it and waits.
func (m *Mirror) keepAlive(msg jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(m.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = msg.InProgress() // best effort: a lost one risks a duplicate attempt, which is idempotent
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// fail records the job as failed in pn.recordings and PN_DEAD, then
// terminates it. If either cannot be stored the job is retried later
// instead, so the failure itself is never lost.
func (m *Mirror) fail(ctx context.Context, msg jetstream.Msg, j *Job, cause error, log *zap.Logger) {
	cause = redact.Error(cause)
	row := recording.Row{
		ICID: j.ICID, SessionID: j.SessionID, Bucket: m.cfg.Bucket, Status: recording.Failed,
		Error: redact.Truncate(cause.Error(), 1024),
	}
	if j.ICID != "" && !j.CallInTime.IsZero() {
		row.ObjectKey = ObjectKey(j)
	}
	var err error
	if j.ICID != "" {
		err = m.deps.Rows.InsertRecordings(ctx, []recording.Row{row})
	}
	if err == nil {
		// The job holds recordFileDownloadUrl, which may be signed; pnctl
		// backfill-recordings rebuilds the job from the stored CDR.
		err = streams.DeadLetter(ctx, m.deps.JetStream, "recordings", redactedMsg{msg}, cause)
	}
	if err != nil {
		log.Warn("recording failure not stored; retrying the job", zap.NamedError("store_error", err), zap.Error(cause))
		_ = msg.NakWithDelay(m.cfg.RetryInitial) // best effort: AckWait brings it back otherwise
		return
	}
	_ = msg.TermWithReason(redact.Truncate(cause.Error(), 256)) // best effort: a redelivery fails the same way, idempotently
	m.metrics.observe("failed", 0, 0)
	log.Error("recording not archived", zap.Error(cause))
}

// redactedMsg is a job message whose body and headers have their URLs
// redacted, for the dead letter.
type redactedMsg struct{ jetstream.Msg }

func (m redactedMsg) Data() []byte { return []byte(redact.String(string(m.Msg.Data()))) }

func (m redactedMsg) Headers() nats.Header {
	h := nats.Header{}
	for k, vs := range m.Msg.Headers() {
		for _, v := range vs {
			h[k] = append(h[k], redact.String(v))
		}
	}
	return h
}
