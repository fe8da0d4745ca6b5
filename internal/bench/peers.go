package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
)

// peerRun is one measurement of a workload by pnstream or by Bento.
type peerRun struct {
	rate float64 // units/s
	// rss is the peak RSS of the pipeline: pnbench's for pnstream (its
	// components run in it, beside the load generator), the Bento
	// process's (the sum of both for end to end) for Bento.
	rss float64 // MiB
	// loadRSS is pnbench's peak RSS during a Bento run: the load generator
	// and the bench alone.
	loadRSS float64
	cpu     map[string]float64 // µs per unit, by process
}

const (
	pnbenchProc = "pnbench"
	bentoProc   = "bento"
)

// runPeers measures pnstream and Bento 1.20.0 on the same workloads, one
// after the other, on the same NATS and ClickHouse: fee pushes and
// single-event pushes into JetStream, draining pre-filled fee records into
// ClickHouse, and fee pushes until their rows are visible.
func (b *Bench) runPeers(ctx context.Context, rep *Report) error {
	if _, err := os.Stat(b.cfg.Bento); err != nil {
		return fmt.Errorf("bento binary (-bento; `make bin/bento` builds it): %w", err)
	}
	nc, js, err := b.connect("pnbench-peers")
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := provisionPeerStreams(ctx, js, b.cfg.StreamStorage); err != nil {
		return err
	}
	for _, k := range b.pushKinds() {
		pn, err := b.peerIngestPN(ctx, nc, js, k)
		if err != nil {
			return fmt.Errorf("%s, pnstream: %w", k.name, err)
		}
		bento, err := b.peerIngestBento(ctx, js, k)
		if err != nil {
			return fmt.Errorf("%s, bento: %w", k.name, err)
		}
		by := "Bento http_server → nats_jetstream (no authentication), %d conns"
		if k.stream == streams.Fees {
			by = "Bento http_server → mapping feeLst, unarchive → nats_jetstream (no authentication), %d conns"
		}
		addPeerRows(rep, "peers: "+k.stage, k.unit, fmt.Sprintf(by, b.cfg.Conns), pn, bento)
	}

	conn, err := b.openClickHouse()
	if err != nil {
		return err
	}
	defer conn.Close()
	const pnDB, bentoDB = "bench_peers_pnstream", "bench_peers_bento"
	for _, db := range []string{pnDB, bentoDB} { // pnstream's own DDL for both
		wh, err := b.openWarehouse(ctx, db)
		if err != nil {
			return err
		}
		if err := wh.Close(); err != nil {
			return fmt.Errorf("close warehouse: %w", err)
		}
	}
	drain := fmt.Sprintf("peers: recorder drain (%d pre-filled CDRs)", b.cfg.RecorderRecords)
	pn, err := b.peerDrainPN(ctx, nc, js, pnDB)
	if err != nil {
		return fmt.Errorf("drain, pnstream: %w", err)
	}
	bento, err := b.peerDrainBento(ctx, nc, js, conn, bentoDB)
	if err != nil {
		return fmt.Errorf("drain, bento: %w", err)
	}
	addPeerRows(rep, drain, "rows", "Bento nats_jetstream → sql_insert (clickhouse), the recorder's batching", pn, bento)

	pn, err = b.peerE2EPN(ctx, nc, js, conn, pnDB)
	if err != nil {
		return fmt.Errorf("end to end, pnstream: %w", err)
	}
	bento, err = b.peerE2EBento(ctx, nc, js, conn, bentoDB)
	if err != nil {
		return fmt.Errorf("end to end, bento: %w", err)
	}
	addPeerRows(rep, "peers: end to end (fee pushes → visible rows)", "records",
		"the two Bento pipelines above, two processes", pn, bento)
	return errors.Join(purge(ctx, js, streams.Fees, streams.Events, streams.Recordings, peerFees, peerEvents),
		dropDatabases(ctx, conn, pnDB, bentoDB))
}

// provisionPeerStreams creates Bento's streams, configured as pnstream's
// PN_FEES and PN_EVENTS but for their names and subjects.
func provisionPeerStreams(ctx context.Context, js jetstream.JetStream, storage string) error {
	sc := streams.DefaultConfig()
	sc.Storage = storage
	peer := map[string]struct{ name, subject string }{
		streams.Fees:   {peerFees, peerFeeSubject},
		streams.Events: {peerEvents, peerEventPrefix + ">"},
	}
	for _, c := range sc.StreamConfigs() {
		p, ok := peer[c.Name]
		if !ok {
			continue
		}
		c.Name, c.Subjects, c.Description = p.name, []string{p.subject}, "pnbench peers: Bento's copy of "+c.Name
		if _, err := js.CreateOrUpdateStream(ctx, c); err != nil {
			return fmt.Errorf("stream %s: %w", p.name, err)
		}
	}
	return nil
}

func (b *Bench) peerIngestPN(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, k pushKind) (peerRun, error) {
	if err := purge(ctx, js, k.stream); err != nil {
		return peerRun{}, err
	}
	in, err := startIngest(ctx, nc, js)
	if err != nil {
		return peerRun{}, err
	}
	defer func() { _ = in.stop() }()
	client := newPushClient(in.url+k.path, b.cfg.Conns, signer())
	defer client.close()
	resetPeakRSS()
	m := b.measure("peers-" + k.name + "-pnstream")
	res := closedLoop(ctx, client, b.cfg.Conns, b.cfg.Duration, k.body)
	cpu := m.done(res.records)
	rss := peakRSS()
	if err == nil {
		err = res.check()
	}
	if err == nil {
		err = checkMsgs(ctx, js, k.stream, res.records)
	}
	return peerRun{rate: res.recordsPerSec(), rss: rss, cpu: cpu}, err
}

func (b *Bench) peerIngestBento(ctx context.Context, js jetstream.JetStream, k pushKind) (peerRun, error) {
	stream, path, fees := peerEvents, peerEventPath, k.stream == streams.Fees
	if fees {
		stream, path = peerFees, peerFeePath
	}
	if err := purge(ctx, js, stream); err != nil {
		return peerRun{}, err
	}
	addr, err := freeAddr()
	if err != nil {
		return peerRun{}, err
	}
	p, err := startBento(b.cfg.Bento, b.dir, "bento-"+k.name, bentoIngestConfig(b.srv.nats.URL(), addr, fees))
	if err != nil {
		return peerRun{}, err
	}
	defer func() { _ = p.stop() }()
	if err := p.waitListening(ctx, addr); err != nil {
		return peerRun{}, err
	}
	client := newPushClient("http://"+addr+path, b.cfg.Conns, nil) // Bento checks no signature
	defer client.close()
	resetPeakRSS()
	_, cpu0, err := p.usage()
	if err != nil {
		return peerRun{}, err
	}
	m := b.measure("peers-" + k.name + "-bento")
	res := closedLoop(ctx, client, b.cfg.Conns, b.cfg.Duration, k.body)
	cpu := m.done(res.records)
	rss, cpu1, err := p.usage()
	if err != nil {
		return peerRun{}, err
	}
	cpu[bentoProc] = perUnit(cpu1-cpu0, res.records)
	loadRSS := peakRSS()
	if err == nil {
		err = res.check()
	}
	if err == nil {
		err = checkMsgs(ctx, js, stream, res.records)
	}
	return peerRun{rate: res.recordsPerSec(), rss: rss, loadRSS: loadRSS, cpu: cpu}, err
}

// peerDrainPN is the recorder stage's measurement: pnstream's recorder
// drains RecorderRecords pre-filled CDRs of PN_FEES into ClickHouse.
func (b *Bench) peerDrainPN(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, db string) (peerRun, error) {
	n := b.cfg.RecorderRecords
	if err := b.prefill(ctx, js, nc, n); err != nil {
		return peerRun{}, err
	}
	wh, err := b.openWarehouse(ctx, db)
	if err != nil {
		return peerRun{}, err
	}
	defer wh.Close()
	conn, err := b.openClickHouse()
	if err != nil {
		return peerRun{}, err
	}
	defer conn.Close()
	table := db + ".fee_records FINAL"
	base, last, err := startingPoint(ctx, conn, js, table)
	if err != nil {
		return peerRun{}, err
	}
	resetPeakRSS()
	m := b.measure("peers-drain-pnstream")
	rec, err := b.startRecorder(ctx, nc, js, wh)
	if err != nil {
		return peerRun{}, err
	}
	visible, err := waitPeerAcked(ctx, nc, streams.Fees, rec.fees, last, nil)
	cpu := m.done(n)
	rss := peakRSS()
	err = errors.Join(err, rec.stop())
	if err == nil {
		err = checkRows(ctx, conn, table, base+uint64(n))
	}
	if err != nil {
		return peerRun{}, err
	}
	return peerRun{rate: float64(n) / visible.Sub(rec.start).Seconds(), rss: rss, cpu: cpu}, purge(ctx, js, streams.Fees, streams.Recordings)
}

// peerDrainBento drains the same number of CDRs, pre-filled into
// PEER_FEES, with Bento's nats_jetstream → sql_insert, timed from the
// process's start as pnstream's is from its recorder's.
func (b *Bench) peerDrainBento(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, conn driver.Conn, db string) (peerRun, error) {
	n := b.cfg.RecorderRecords
	if err := purge(ctx, js, peerFees); err != nil {
		return peerRun{}, err
	}
	stored, _, err := asyncPublish(ctx, nc, time.Hour, n, func(i int) (string, []byte, string) {
		data, id := b.corpus.feeMessage(i)
		return peerFeeSubject, data, id
	})
	if err == nil && stored != n {
		err = fmt.Errorf("stored %d of %d", stored, n)
	}
	if err != nil {
		return peerRun{}, fmt.Errorf("prefill %s: %w", peerFees, err)
	}
	table := db + ".fee_records FINAL"
	base, err := countRows(ctx, conn, table)
	if err != nil {
		return peerRun{}, err
	}
	last, err := lastSeq(ctx, js, peerFees)
	if err != nil {
		return peerRun{}, err
	}
	quiesce(ctx, conn)
	durable := fmt.Sprintf("bento-%d", b.consumers.Add(1))
	defer deletePeerConsumer(ctx, js, durable)
	resetPeakRSS()
	m := b.measure("peers-drain-bento")
	start := time.Now()
	p, err := startBento(b.cfg.Bento, b.dir, "bento-drain", bentoRecorderConfig(b.srv.nats.URL(), durable, b.srv.clickhouse.Addr(), db))
	if err != nil {
		return peerRun{}, err
	}
	defer func() { _ = p.stop() }()
	visible, err := waitPeerAcked(ctx, nc, peerFees, durable, last, p)
	cpu := m.done(n)
	if err != nil {
		return peerRun{}, err
	}
	rss, pcpu, err := p.usage()
	if err != nil {
		return peerRun{}, err
	}
	cpu[bentoProc] = perUnit(pcpu, n)
	loadRSS := peakRSS()
	if err == nil {
		err = checkRows(ctx, conn, table, base+uint64(n))
	}
	return peerRun{rate: float64(n) / visible.Sub(start).Seconds(), rss: rss, loadRSS: loadRSS, cpu: cpu}, err
}

// peerE2EPN is the e2e stage's sustained measurement: fee pushes back to
// back for Duration through ingest and recorder, until the last row is
// visible.
func (b *Bench) peerE2EPN(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, conn driver.Conn, db string) (peerRun, error) {
	if err := purge(ctx, js, streams.Fees, streams.Recordings); err != nil {
		return peerRun{}, err
	}
	wh, err := b.openWarehouse(ctx, db)
	if err != nil {
		return peerRun{}, err
	}
	defer wh.Close()
	table := db + ".fee_records FINAL"
	rows, base, err := startingPoint(ctx, conn, js, table)
	if err != nil {
		return peerRun{}, err
	}
	in, err := startIngest(ctx, nc, js)
	if err != nil {
		return peerRun{}, err
	}
	defer func() { _ = in.stop() }()
	rec, err := b.startRecorder(ctx, nc, js, wh)
	if err != nil {
		return peerRun{}, err
	}
	defer func() { _ = rec.stop() }()
	client := newPushClient(in.url+ingest.PathFees, b.cfg.Conns, signer())
	defer client.close()
	resetPeakRSS()
	m := b.measure("peers-e2e-pnstream")
	start := time.Now()
	res := closedLoop(ctx, client, b.cfg.Conns, b.cfg.Duration, b.feeBody)
	if err := res.check(); err != nil {
		return peerRun{}, err
	}
	visible, err := waitPeerAcked(ctx, nc, streams.Fees, rec.fees, base+uint64(res.records), nil)
	cpu := m.done(res.records)
	if err != nil {
		return peerRun{}, err
	}
	rss := peakRSS()
	if err == nil {
		err = checkRows(ctx, conn, table, rows+uint64(res.records))
	}
	return peerRun{rate: float64(res.records) / visible.Sub(start).Seconds(), rss: rss, cpu: cpu}, err
}

func (b *Bench) peerE2EBento(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, conn driver.Conn, db string) (peerRun, error) {
	if err := purge(ctx, js, peerFees); err != nil {
		return peerRun{}, err
	}
	table := db + ".fee_records FINAL"
	rows, err := countRows(ctx, conn, table)
	if err != nil {
		return peerRun{}, err
	}
	base, err := lastSeq(ctx, js, peerFees)
	if err != nil {
		return peerRun{}, err
	}
	quiesce(ctx, conn)
	durable := fmt.Sprintf("bento-%d", b.consumers.Add(1))
	defer deletePeerConsumer(ctx, js, durable)
	rp, err := startBento(b.cfg.Bento, b.dir, "bento-e2e-recorder", bentoRecorderConfig(b.srv.nats.URL(), durable, b.srv.clickhouse.Addr(), db))
	if err != nil {
		return peerRun{}, err
	}
	defer func() { _ = rp.stop() }()
	addr, err := freeAddr()
	if err != nil {
		return peerRun{}, err
	}
	ip, err := startBento(b.cfg.Bento, b.dir, "bento-e2e-ingest", bentoIngestConfig(b.srv.nats.URL(), addr, true))
	if err != nil {
		return peerRun{}, err
	}
	defer func() { _ = ip.stop() }()
	if err := ip.waitListening(ctx, addr); err != nil {
		return peerRun{}, err
	}
	client := newPushClient("http://"+addr+peerFeePath, b.cfg.Conns, nil)
	defer client.close()
	resetPeakRSS()
	_, icpu0, err := ip.usage()
	if err != nil {
		return peerRun{}, err
	}
	_, rcpu0, err := rp.usage()
	if err != nil {
		return peerRun{}, err
	}
	m := b.measure("peers-e2e-bento")
	start := time.Now()
	res := closedLoop(ctx, client, b.cfg.Conns, b.cfg.Duration, b.feeBody)
	if err := res.check(); err != nil {
		return peerRun{}, err
	}
	visible, err := waitPeerAcked(ctx, nc, peerFees, durable, base+uint64(res.records), rp)
	cpu := m.done(res.records)
	if err != nil {
		return peerRun{}, err
	}
	irss, icpu1, err := ip.usage()
	if err != nil {
		return peerRun{}, err
	}
	rrss, rcpu1, err := rp.usage()
	if err != nil {
		return peerRun{}, err
	}
	cpu[bentoProc] = perUnit(icpu1-icpu0+rcpu1-rcpu0, res.records)
	loadRSS := peakRSS()
	if err == nil {
		err = checkRows(ctx, conn, table, rows+uint64(res.records))
	}
	return peerRun{rate: float64(res.records) / visible.Sub(start).Seconds(), rss: irss + rrss, loadRSS: loadRSS, cpu: cpu}, err
}

// feeBody is a 50-record fee push, as the ingest and e2e stages post.
func (b *Bench) feeBody(dst []byte, n int) ([]byte, int) {
	const per = privatenumber.MaxFeeRecords
	return b.corpus.feePush(dst, n*per, per), per
}

// waitPeerAcked waits until the durable consumer of stream acked every
// message up to seq. A busy server's slow answer is asked again (the
// shared waitAcked gives up at the first); it fails when the consumer's
// Bento process (p, nil for pnstream) exits, or when the ack floor has not
// moved for two minutes (Bento retries a failing insert forever, logging
// each error).
func waitPeerAcked(ctx context.Context, nc *nats.Conn, stream, durable string, seq uint64, p *bentoProcess) (time.Time, error) {
	// Bento's consumer is a push consumer, which jetstream.Consumer
	// refuses to look up; the legacy API reads any.
	jsc, err := nc.JetStream()
	if err != nil {
		return time.Time{}, fmt.Errorf("jetstream: %w", err)
	}
	var floor uint64
	moved := time.Now()
	for {
		f := floor
		info, err := jsc.ConsumerInfo(stream, durable, nats.MaxWait(10*time.Second))
		switch {
		case errors.Is(err, nats.ErrConsumerNotFound):
			// not created yet
		case errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
			// a busy server: ask again, the no-progress bound still holds
		case err != nil:
			return time.Time{}, fmt.Errorf("consumer %s: %w", durable, err)
		default:
			f = info.AckFloor.Stream
		}
		if f >= seq {
			return time.Now(), nil
		}
		if f != floor {
			floor, moved = f, time.Now()
		}
		if p != nil {
			if err := p.exited(); err != nil {
				return time.Time{}, err
			}
		}
		if time.Since(moved) > 2*time.Minute {
			log := ""
			if p != nil {
				log = "; its log: " + p.tail()
			}
			return time.Time{}, fmt.Errorf("consumer %s acked up to %d of %d and made no progress for 2 minutes%s", durable, floor, seq, log)
		}
		if err := ctx.Err(); err != nil {
			return time.Time{}, err
		}
		time.Sleep(pollInterval)
	}
}

// deletePeerConsumer removes Bento's durable consumer, best effort: the
// next run uses a new name and the server's data is thrown away.
func deletePeerConsumer(ctx context.Context, js jetstream.JetStream, durable string) {
	_ = js.DeleteConsumer(context.WithoutCancel(ctx), peerFees, durable)
}

// checkMsgs fails unless stream holds want messages: every acked push
// stored every record once.
func checkMsgs(ctx context.Context, js jetstream.JetStream, stream string, want int) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	if info.State.Msgs != uint64(want) {
		return fmt.Errorf("%s holds %d messages after %d acked records", stream, info.State.Msgs, want)
	}
	return nil
}

func dropDatabases(ctx context.Context, conn driver.Conn, dbs ...string) error {
	var errs []error
	for _, db := range dbs {
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			errs = append(errs, fmt.Errorf("drop %s: %w", db, err))
		}
	}
	return errors.Join(errs...)
}

func perUnit(d time.Duration, n int) float64 {
	if n <= 0 {
		return 0
	}
	return float64(d) / float64(time.Microsecond) / float64(n)
}

// addPeerRows reports one workload: Bento in the raw column, pnstream
// beside it, the ratio pnstream ÷ Bento. Throughput must be at least 2×
// Bento's; for memory and CPU a ratio below 1 is pnstream's lead.
func addPeerRows(rep *Report, stage, unit, by string, pn, bento peerRun) {
	one := unit[:len(unit)-1]
	rep.add(stage, unit+"/s (pnstream ÷ Bento)", by, bento.rate, pn.rate, &Target{Kind: "ratio", Value: 2})
	rep.add(stage, "peak RSS MiB: pnstream (in pnbench, with the load) vs Bento", "Bento process(es), VmHWM", bento.rss, pn.rss, nil)
	rep.add(stage, "peak RSS MiB of pnbench", "during Bento's run: the load generator alone", bento.loadRSS, pn.rss, nil)
	rep.add(stage, "CPU µs/"+one+", all processes", "Bento's run: load + bento + servers", sum(bento.cpu), sum(pn.cpu), nil)
	procs := make([]string, 0, len(bento.cpu))
	for p := range bento.cpu {
		procs = append(procs, p)
	}
	sort.Strings(procs)
	for _, p := range procs {
		switch p {
		case bentoProc:
			rep.add(stage, "CPU µs/"+one+": pnstream+load (pnbench) vs bento", "bento process(es)", bento.cpu[p], pn.cpu[pnbenchProc], nil)
		case pnbenchProc:
			rep.add(stage, "CPU µs/"+one+", pnbench", "during Bento's run: the load alone", bento.cpu[p], pn.cpu[p], nil)
		default:
			rep.add(stage, "CPU µs/"+one+", "+p, "during Bento's run", bento.cpu[p], pn.cpu[p], nil)
		}
	}
}

func sum(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}
