package bench

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/platformsim"
	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/streams"
)

// The calls stage: the simulator's call generator through the whole
// pipeline, every call as the platform sends it.

const callsStage = "calls (simulated call mix)"

// callsSettings describes the calls stage's settings for the report.
func callsSettings(cfg Config) string {
	size := "as long as the recorded part of the call (8 kHz 16-bit mono WAV, 16 KB/s)"
	if cfg.CallsRecordingBytes > 0 {
		size = fmt.Sprintf("of %s each (whole seconds of WAV: %s)", bytesLabel(cfg.CallsRecordingBytes), bytesLabel(wavBytes(durationFor(cfg.CallsRecordingBytes))))
	}
	return fmt.Sprintf("recordings %s; raw model on %d calls (PutObject on the recordings of the first, up to %d)", size, cfg.CallsRawCalls, putSample)
}

// callsRig is what the calls stage runs on: ingest, a recorder and the
// mirror, wired as the commands wire them, in one database and bucket.
type callsRig struct {
	mirror *mirrorRig
	conn   driver.Conn
	ingest *ingestServer
	rec    *runningRecorder
	js     jetstream.JetStream
	stops  []func() error
}

func (r *callsRig) close() error {
	var errs []error
	for i := len(r.stops) - 1; i >= 0; i-- {
		errs = append(errs, r.stops[i]())
	}
	return errors.Join(errs...)
}

// runCalls measures whole calls: calls/s sustained until every event and
// CDR is stored and every recording archived, push → row latency at half
// that rate, CPU per call, beside a raw model per call from the same run.
func (b *Bench) runCalls(ctx context.Context, rep *Report) error {
	if b.calls == nil {
		b.calls = newCallSource(b.cfg.CallsRecordingBytes)
	}
	nc, js, err := b.connect("pnbench-calls")
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := purge(ctx, js, streams.Events, streams.Fees, streams.Recordings); err != nil {
		return err
	}
	mr, err := b.newMirrorRig(ctx, "bench_calls")
	if err != nil {
		return err
	}
	defer mr.close()
	if err := mr.removeObjects(ctx); err != nil {
		return err
	}
	conn, err := b.openClickHouse()
	if err != nil {
		return err
	}
	defer conn.Close()
	store := mr.sim.Recordings()

	model, rawCPU, err := b.callsModel(ctx, mr, js, conn)
	if err != nil {
		return fmt.Errorf("raw model: %w", err)
	}
	base, err := storedCounts(ctx, conn, mr)
	if err != nil {
		return err
	}

	rig := &callsRig{mirror: mr, conn: conn, js: js}
	defer func() { _ = rig.close() }() // on error; the happy path closes it below
	if rig.ingest, err = startIngest(ctx, nc, js); err != nil {
		return err
	}
	rig.stops = append(rig.stops, rig.ingest.stop)
	if rig.rec, err = b.startRecorder(ctx, nc, js, mr.wh); err != nil {
		return err
	}
	rig.stops = append(rig.stops, rig.rec.stop)
	stopMirror, err := mr.start(ctx, js)
	if err != nil {
		return err
	}
	rig.stops = append(rig.stops, stopMirror)
	p := newCallPusher(rig.ingest.url, b.cfg.Conns, true)
	defer p.close()
	var tally callTally

	// Full speed: conns calls in flight for Duration, then until the last
	// is stored and archived.
	quiesce(ctx, conn)
	m := b.measure("calls-pnstream")
	start := time.Now()
	full := closed(ctx, b.cfg.Conns, b.cfg.Duration, func(_, _ int) (int, error) {
		c := b.calls.next(store)
		tally.add(&c)
		return 1, p.push(ctx, &c, time.Time{})
	})
	err = errors.Join(full.check(), p.flush(ctx))
	var visible time.Time
	if err == nil {
		visible, _, err = rig.waitStored(ctx, 10*time.Minute)
	}
	pnCPU := m.done(full.records)
	if err != nil {
		return fmt.Errorf("full speed: %w", err)
	}
	rate := float64(full.records) / visible.Sub(start).Seconds()

	// Half load: push → row of every event and CDR.
	lat, half, err := b.callsHalfLoad(ctx, rig, p, store, &tally, rate/2)
	if err != nil {
		return fmt.Errorf("half load: %w", err)
	}
	err = rig.close()
	rig.stops = nil
	if err != nil {
		return err
	}
	got, err := storedCounts(ctx, conn, mr)
	if err != nil {
		return err
	}
	if err := got.since(base).reconcile(&tally); err != nil {
		return err
	}

	rep.add(callsStage, "calls/s pushed to stored and archived", model.label(), model.model(), rate, nil)
	rep.add(callsStage, "calls/s vs bare handler", fmt.Sprintf("bare Go handler, encoding/json, the same requests, %d conns", b.cfg.Conns), model.bare, rate, nil)
	rep.add(callsStage, "calls/s vs JetStream", "PublishMsgAsync + Nats-Msg-Id of the same messages, 1 conn", model.publish, rate, nil)
	rep.add(callsStage, "calls/s vs batch insert", "clickhouse-go PrepareBatch/Append/Send of the same rows (events, CDRs)", model.insert, rate, nil)
	rep.add(callsStage, "calls/s vs PutObject", fmt.Sprintf("minio-go PutObject of the same recordings, %d at a time", b.cfg.MirrorConcurrency), model.put, rate, nil)
	rep.add(callsStage, "half load, calls/s", "", 0, half, nil)
	rep.add(callsStage, "push → row p50 ms, half load", "", 0, quantileMS(lat, 0.5), nil)
	rep.add(callsStage, "push → row p99 ms, half load", "", 0, quantileMS(lat, 0.99), nil)
	rep.addCPUBy(callsStage, "call", "the raw model's runs, summed", rawCPU, pnCPU, "pnbench", "nats-server", "clickhouse-server", "versitygw")
	rep.add(callsStage, "events per call", "", 0, float64(tally.events)/float64(tally.calls), nil)
	rep.add(callsStage, "recorded calls %", "", 0, 100*float64(tally.recorded)/float64(tally.calls), nil)
	rep.add(callsStage, "recording KB per recorded call", "", 0, float64(tally.recordingBytes)/1e3/float64(max(tally.recorded, 1)), nil)
	stored := got.since(base)
	rep.add(callsStage, "events stored ÷ sent", "", 0, float64(stored.events)/float64(tally.events), nil)
	rep.add(callsStage, "CDRs stored ÷ sent", "", 0, float64(stored.cdrs)/float64(tally.cdrs), nil)
	rep.add(callsStage, "recordings archived ÷ recorded calls", "", 0, float64(stored.objects)/float64(max(tally.recorded, 1)), nil)
	return errors.Join(purge(ctx, js, streams.Events, streams.Fees, streams.Recordings), mr.removeObjects(ctx))
}

// callsHalfLoad paces calls at perSec for Duration and returns the
// latency of every event and CDR from when its push was due to when the
// recorder acked it (after the insert), and the rate reached.
func (b *Bench) callsHalfLoad(ctx context.Context, rig *callsRig, p *callPusher, store *platformsim.RecordingStore, tally *callTally, perSec float64) (lat *hdrhistogram.Histogram, rate float64, err error) {
	js := rig.js
	baseEv, err := lastSeq(ctx, js, streams.Events)
	if err != nil {
		return nil, 0, err
	}
	baseFee, err := lastSeq(ctx, js, streams.Fees)
	if err != nil {
		return nil, 0, err
	}
	p.dues = &dueTimes{m: map[string]time.Time{}}
	defer func() { p.dues = nil }()
	stop := make(chan struct{})
	var (
		obsEv, obsFee []observation
		errEv, errFee error
		watchers      sync.WaitGroup
	)
	watchers.Go(func() { obsEv, errEv = watchAcks(ctx, js, streams.Events, rig.rec.events, stop) })
	watchers.Go(func() { obsFee, errFee = watchAcks(ctx, js, streams.Fees, rig.rec.fees, stop) })
	m := b.measure("calls-pnstream-half")
	half := paced(ctx, b.cfg.Conns, perSec, b.cfg.Duration, func(_, _ int, due time.Time) (int, error) {
		c := b.calls.next(store)
		tally.add(&c)
		return 1, p.push(ctx, &c, due)
	})
	err = errors.Join(half.check(), p.flush(ctx))
	var visible time.Time
	var last [2]uint64
	if err == nil {
		visible, last, err = rig.waitStored(ctx, 10*time.Minute)
	}
	m.done(half.records)
	close(stop)
	watchers.Wait()
	if err = errors.Join(err, errEv, errFee); err != nil {
		return nil, 0, err
	}
	// The watchers may have stopped just before the last acks.
	obsEv = append(obsEv, observation{at: visible, floor: last[0]})
	obsFee = append(obsFee, observation{at: visible, floor: last[1]})
	lat = newLatencies()
	for _, s := range []struct {
		stream   string
		from, to uint64
		obs      []observation
	}{{streams.Events, baseEv, last[0], obsEv}, {streams.Fees, baseFee, last[1], obsFee}} {
		err := storedRecords(ctx, js, s.stream, s.from+1, s.to, func(seq uint64, m jetstream.Msg) error {
			key, ok := dueKey(m)
			if !ok {
				return nil // a fee push's nonce claim
			}
			due, ok := p.dues.m[key]
			if !ok {
				return fmt.Errorf("%s sequence %d: %s was not pushed in this run", s.stream, seq, key)
			}
			recordLatency(lat, ackedAt(s.obs, seq).Sub(due))
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	return lat, half.requestsPerSec(), nil
}

// waitStored waits until the recorder acked the last event and CDR (each
// after its row was inserted) and the mirror every recording job (after
// its object and row were stored), and returns when it saw that and the
// last sequences of PN_EVENTS and PN_FEES.
func (r *callsRig) waitStored(ctx context.Context, timeout time.Duration) (time.Time, [2]uint64, error) {
	var last [2]uint64
	for i, s := range []struct{ stream, consumer string }{{streams.Events, r.rec.events}, {streams.Fees, r.rec.fees}} {
		seq, err := lastSeq(ctx, r.js, s.stream)
		if err != nil {
			return time.Time{}, last, err
		}
		// The events consumer skips PN_EVENTS' nonce claims, so its ack
		// floor need not reach the last sequence.
		if _, err := waitDrained(ctx, r.js, s.stream, s.consumer, timeout); err != nil {
			return time.Time{}, last, err
		}
		last[i] = seq
	}
	// A recorded CDR is its own recording job: the mirror's consumer on
	// pn.fees.recorded must have acked every one (after its object and row).
	at, err := waitDrained(ctx, r.js, streams.Fees, r.mirror.cfg.Consumer+"-fees", timeout)
	if err != nil {
		return at, last, err
	}
	// Jobs on PN_RECORDINGS (none in this stage: older recorders, backfills).
	at, err = waitEmpty(ctx, r.js, streams.Recordings, timeout)
	return at, last, err
}

// ackedAt returns when the ack floor first reached seq; obs must end at
// or beyond it.
func ackedAt(obs []observation, seq uint64) time.Time {
	i := sort.Search(len(obs), func(i int) bool { return obs[i].floor >= seq })
	return obs[min(i, len(obs)-1)].at
}

// storedRecords calls fn with the sequence and message of every message
// of stream from sequence from to to.
func storedRecords(ctx context.Context, js jetstream.JetStream, stream string, from, to uint64, fn func(seq uint64, m jetstream.Msg) error) error {
	if from > to {
		return nil
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from,
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	iter, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	defer iter.Stop()
	for {
		msg, err := iter.Next()
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		if err := fn(md.Sequence.Stream, msg); err != nil {
			return err
		}
		if md.Sequence.Stream >= to {
			return nil
		}
	}
}

// callCounts are what ClickHouse and S3 hold of the calls stage.
type callCounts struct {
	events, cdrs, archived, objects uint64
}

func storedCounts(ctx context.Context, conn driver.Conn, mr *mirrorRig) (callCounts, error) {
	var c callCounts
	var err error
	db := mr.db
	for _, q := range []struct {
		from string
		n    *uint64
	}{
		{db + ".call_events FINAL", &c.events},
		{db + ".fee_records FINAL", &c.cdrs},
		{db + ".recordings FINAL WHERE status = '" + recording.Archived + "'", &c.archived},
	} {
		if *q.n, err = countRows(ctx, conn, q.from); err != nil {
			return c, err
		}
	}
	for obj := range mr.s3.ListObjects(ctx, mr.cfg.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return c, fmt.Errorf("list %s: %w", mr.cfg.Bucket, obj.Err)
		}
		c.objects++
	}
	return c, nil
}

func (c callCounts) since(base callCounts) callCounts {
	return callCounts{c.events - base.events, c.cdrs - base.cdrs, c.archived - base.archived, c.objects - base.objects}
}

// reconcile fails unless every event and CDR sent is stored exactly once
// (counted under FINAL, which collapses copies of an identity) and every
// recording is archived, object and row.
func (c callCounts) reconcile(t *callTally) error {
	var errs []error
	for _, x := range []struct {
		what string
		got  uint64
		want int
	}{
		{"call_events rows", c.events, t.events}, {"fee_records rows", c.cdrs, t.cdrs},
		{"archived recordings rows", c.archived, t.recorded}, {"S3 objects", c.objects, t.recorded},
	} {
		if x.got != uint64(x.want) {
			errs = append(errs, fmt.Errorf("%s: %d stored, %d sent", x.what, x.got, x.want))
		}
	}
	return errors.Join(errs...)
}
