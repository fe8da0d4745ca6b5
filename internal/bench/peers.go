package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/localserver"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
)

// peerRun is one measurement of a workload by pnstream or by Bento. Both
// sides run their pipeline as child processes (pnstream's bin/ingest and
// bin/recorder, Bento's bin/bento) while pnbench generates the load, so
// that memory and CPU are the pipeline's own.
type peerRun struct {
	rate float64 // units/s
	// rss is the peak RSS (VmHWM) of the side's pipeline process(es),
	// summed for end to end.
	rss float64 // MiB
	// loadRSS is pnbench's peak RSS during the run: the load generator
	// and the bench.
	loadRSS float64
	cpu     map[string]float64 // µs per unit, by process: the roles, pnbench and the servers
	// half is the push latency at half load, the same offered rate for
	// both sides; nil but for the push workloads.
	half *loadResult
}

const pnbenchProc = "pnbench"

// pnBinary is one of pnstream's commands, looked for beside the Bento
// binary: bin/ingest and bin/recorder next to bin/bento, as `make
// bench-peers` builds them.
func (b *Bench) pnBinary(name string) string {
	return filepath.Join(filepath.Dir(b.cfg.Bento), name)
}

// runPeers measures pnstream and Bento 1.20.0 on the same workloads, one
// after the other (which first alternates between repetitions), on the
// same NATS and ClickHouse: fee pushes and
// single-event pushes into JetStream (at full load, then at half the
// slower side's full load for latency), draining pre-filled fee records
// into ClickHouse, and fee pushes until their rows are visible.
func (b *Bench) runPeers(ctx context.Context, rep *Report) error {
	if err := needBinary("bento (-bento)", b.cfg.Bento, "bin/bento"); err != nil {
		return err
	}
	for _, name := range []string{roleIngest, roleRecorder} {
		if err := needBinary("pnstream "+name+" (beside -bento)", b.pnBinary(name), "bench-peers"); err != nil {
			return err
		}
	}
	nc, js, err := b.connect("pnbench-peers")
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := provisionPeerStreams(ctx, js, b.cfg.StreamStorage); err != nil {
		return err
	}
	// The side that goes first alternates between repetitions, so that
	// neither always finds the servers as the other left them (merges,
	// compactions) on a machine shared with other work.
	bentoFirst := peerRepetition(rep)%2 == 1
	for _, k := range b.pushKinds() {
		pn, bento, err := b.peerIngest(ctx, js, k, bentoFirst)
		if err != nil {
			return fmt.Errorf("%s: %w", k.name, err)
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
	var pn, bento peerRun
	err = inOrder(bentoFirst, func() (err error) {
		pn, err = b.peerDrainPN(ctx, nc, js, conn, pnDB)
		return wrap("drain, pnstream", err)
	}, func() (err error) {
		bento, err = b.peerDrainBento(ctx, nc, js, conn, bentoDB)
		return wrap("drain, bento", err)
	})
	if err != nil {
		return err
	}
	drain := fmt.Sprintf("peers: recorder drain (%d pre-filled CDRs)", b.cfg.RecorderRecords)
	addPeerRows(rep, drain, "rows", "Bento nats_jetstream → sql_insert (clickhouse), the recorder's batching", pn, bento)

	err = inOrder(bentoFirst, func() (err error) {
		pn, err = b.peerE2EPN(ctx, nc, js, conn, pnDB)
		return wrap("end to end, pnstream", err)
	}, func() (err error) {
		bento, err = b.peerE2EBento(ctx, nc, js, conn, bentoDB)
		return wrap("end to end, bento", err)
	})
	if err != nil {
		return err
	}
	addPeerRows(rep, "peers: end to end (fee pushes → visible rows)", "records",
		"the two Bento pipelines above, two processes", pn, bento)
	return errors.Join(purge(ctx, js, streams.Fees, streams.Events, streams.Recordings, peerFees, peerEvents),
		dropDatabases(ctx, conn, pnDB, bentoDB))
}

// peerRepetition returns how many repetitions of the peers stage rep
// already holds.
func peerRepetition(rep *Report) int {
	for _, row := range rep.Rows {
		if strings.HasPrefix(row.Stage, "peers: ") {
			return len(row.PN)
		}
	}
	return 0
}

// inOrder runs pn then bento, or bento then pn when bentoFirst, and stops
// at the first error.
func inOrder(bentoFirst bool, pn, bento func() error) error {
	if bentoFirst {
		pn, bento = bento, pn
	}
	if err := pn(); err != nil {
		return err
	}
	return bento()
}

func wrap(what string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
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

// pushSide is one side's ingest process for a push kind, the client that
// loads it and the stream it stores into.
type pushSide struct {
	name   string // pnstream or bento, in profile names
	proc   *peerProc
	client *pushClient
	stream string
}

func (s *pushSide) close() error {
	s.client.close()
	return s.proc.stop()
}

// startPNIngest runs bin/ingest for pushes on path and waits until it is
// ready (/readyz: NATS connected, the streams there).
func (b *Bench) startPNIngest(ctx context.Context, name, path, stream string) (*pushSide, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := startPeerProc(ctx, roleIngest, b.pnBinary("ingest"), b.dir, name, nil,
		pnIngestEnv(b.srv.nats.URL(), addr), localserver.HTTPProbe("http://"+addr+ingest.PathReadyz))
	if err != nil {
		return nil, err
	}
	return &pushSide{name: "pnstream", proc: p, client: newPushClient("http://"+addr+path, b.cfg.Conns, signer()), stream: stream}, nil
}

// startBentoIngest runs Bento's http_server → nats_jetstream for pushes of
// one kind and waits until it listens.
func (b *Bench) startBentoIngest(ctx context.Context, name string, fees bool) (*pushSide, error) {
	stream, path := peerEvents, peerEventPath
	if fees {
		stream, path = peerFees, peerFeePath
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := b.startBento(ctx, roleIngest, name, bentoIngestConfig(b.srv.nats.URL(), addr, fees), listening(addr))
	if err != nil {
		return nil, err
	}
	// The same signed requests, though Bento checks no signature: signing
	// is the load generator's work, the same for both sides.
	return &pushSide{name: "bento", proc: p, client: newPushClient("http://"+addr+path, b.cfg.Conns, signer()), stream: stream}, nil
}

// startBento writes conf to the bench directory and runs `bento -c` on it.
func (b *Bench) startBento(ctx context.Context, role, name string, conf map[string]any, probe func(context.Context) error) (*peerProc, error) {
	data, err := bentoYAML(conf)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(b.dir, name+".yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, fmt.Errorf("write bento config: %w", err)
	}
	return startPeerProc(ctx, role, b.cfg.Bento, b.dir, name, []string{"-c", path}, nil, probe)
}

// peerIngest measures push kind k on both sides at full load, then both
// at the same half load: half the slower side's full load, in pushes a
// second. pnstream goes first unless bentoFirst.
func (b *Bench) peerIngest(ctx context.Context, js jetstream.JetStream, k pushKind, bentoFirst bool) (pn, bento peerRun, err error) {
	pnSide, err := b.startPNIngest(ctx, "pnstream-ingest-"+k.name, k.path, k.stream)
	if err != nil {
		return pn, bento, fmt.Errorf("pnstream: %w", err)
	}
	defer func() { err = errors.Join(err, pnSide.close()) }()
	bentoSide, err := b.startBentoIngest(ctx, "bento-ingest-"+k.name, k.stream == streams.Fees)
	if err != nil {
		return pn, bento, fmt.Errorf("bento: %w", err)
	}
	defer func() { err = errors.Join(err, bentoSide.close()) }()

	var pnFull, bentoFull loadResult
	err = inOrder(bentoFirst, func() (err error) {
		pn, pnFull, err = b.peerFull(ctx, js, pnSide, k)
		return wrap("pnstream", err)
	}, func() (err error) {
		bento, bentoFull, err = b.peerFull(ctx, js, bentoSide, k)
		return wrap("bento", err)
	})
	if err != nil {
		return pn, bento, err
	}
	perSec := min(pnFull.requestsPerSec(), bentoFull.requestsPerSec()) / 2
	err = inOrder(bentoFirst, func() (err error) {
		pn.half, err = b.peerHalf(ctx, js, pnSide, k, perSec)
		return wrap("pnstream at half load", err)
	}, func() (err error) {
		bento.half, err = b.peerHalf(ctx, js, bentoSide, k, perSec)
		return wrap("bento at half load", err)
	})
	if err != nil {
		return pn, bento, err
	}
	// The recorder drain that follows reads PN_EVENTS too.
	return pn, bento, purge(ctx, js, pnSide.stream, bentoSide.stream)
}

// peerFull loads s with conns pushes back to back for Duration, and checks
// that its stream stored exactly the acked records.
func (b *Bench) peerFull(ctx context.Context, js jetstream.JetStream, s *pushSide, k pushKind) (peerRun, loadResult, error) {
	if err := purge(ctx, js, s.stream); err != nil {
		return peerRun{}, loadResult{}, err
	}
	ps := procs{s.proc}
	before, err := ps.cpu()
	if err != nil {
		return peerRun{}, loadResult{}, err
	}
	resetPeakRSS()
	m := b.measure("peers-" + k.name + "-" + s.name)
	res := closedLoop(ctx, s.client, b.cfg.Conns, b.cfg.Duration, k.body)
	cpu := m.done(res.records)
	rss, err := ps.account(cpu, before, res.records)
	if err != nil {
		return peerRun{}, loadResult{}, err
	}
	run := peerRun{rate: res.recordsPerSec(), rss: rss, loadRSS: peakRSS(), cpu: cpu}
	if err := res.check(); err != nil {
		return run, res, err
	}
	return run, res, checkMsgs(ctx, js, s.stream, res.records)
}

// peerHalf posts pushes to s at perSec a second for Duration and returns
// their latencies, once its stream holds exactly the acked records.
func (b *Bench) peerHalf(ctx context.Context, js jetstream.JetStream, s *pushSide, k pushKind, perSec float64) (*loadResult, error) {
	if err := purge(ctx, js, s.stream); err != nil {
		return nil, err
	}
	m := b.measure("peers-" + k.name + "-" + s.name + "-half")
	res := openLoop(ctx, s.client, b.cfg.Conns, perSec, b.cfg.Duration, k.body)
	m.done(res.records)
	if err := res.check(); err != nil {
		return nil, err
	}
	if err := s.proc.exited(); err != nil {
		return nil, err
	}
	return &res, checkMsgs(ctx, js, s.stream, res.records)
}

// startPNRecorder runs bin/recorder on database db with durable consumers
// named after prefix, and waits until it is ready (/readyz: migrations
// applied, NATS and ClickHouse answering).
func (b *Bench) startPNRecorder(ctx context.Context, name, db, prefix string) (*peerProc, error) {
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return startPeerProc(ctx, roleRecorder, b.pnBinary("recorder"), b.dir, name, nil,
		pnRecorderEnv(b.srv.nats.URL(), b.srv.clickhouse.Addr(), db, admin, prefix, b.cfg.StreamStorage),
		localserver.HTTPProbe("http://"+admin+"/readyz"))
}

// deletePNConsumers removes the recorder's durable consumers, best effort
// as deletePeerConsumer.
func deletePNConsumers(ctx context.Context, js jetstream.JetStream, prefix string) {
	for stream, suffix := range map[string]string{streams.Fees: "-fees", streams.Events: "-events", streams.Numbers: "-numbers"} {
		_ = js.DeleteConsumer(context.WithoutCancel(ctx), stream, prefix+suffix)
	}
}

// peerDrainPN is the recorder stage's measurement with bin/recorder: it
// drains RecorderRecords pre-filled CDRs of PN_FEES into ClickHouse, timed
// from the process's start as Bento's is.
func (b *Bench) peerDrainPN(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, conn driver.Conn, db string) (peerRun, error) {
	n := b.cfg.RecorderRecords
	if err := b.prefill(ctx, js, nc, n); err != nil {
		return peerRun{}, err
	}
	table := db + ".fee_records FINAL"
	base, last, err := startingPoint(ctx, conn, js, table)
	if err != nil {
		return peerRun{}, err
	}
	prefix := fmt.Sprintf("pnbench-%d", b.consumers.Add(1))
	defer deletePNConsumers(ctx, js, prefix)
	resetPeakRSS()
	m := b.measure("peers-drain-pnstream")
	start := time.Now()
	rec, err := b.startPNRecorder(ctx, "pnstream-recorder-drain", db, prefix)
	if err != nil {
		return peerRun{}, err
	}
	run, err := drained(ctx, nc, conn, m, procs{rec}, drain{stream: streams.Fees, consumer: prefix + "-fees", last: last, n: n, start: start, table: table, rows: base + uint64(n)})
	if err != nil {
		return peerRun{}, err
	}
	return run, purge(ctx, js, streams.Fees, streams.Recordings)
}

// drain is what a drain measurement waits for and checks: the consumer
// acked the stream up to last, and table holds rows.
type drain struct {
	stream, consumer string
	last             uint64
	n                int // records drained
	start            time.Time
	table            string
	rows             uint64
}

// drained waits until d's consumer acked every record while ps run, ends
// the measurement m, stops ps, checks d's table and returns the run timed
// from d.start.
func drained(ctx context.Context, nc *nats.Conn, conn driver.Conn, m *measurement, ps procs, d drain) (peerRun, error) {
	visible, err := waitPeerAcked(ctx, nc, d.stream, d.consumer, d.last, ps)
	cpu := m.done(d.n)
	var rss float64
	if err == nil {
		rss, err = ps.account(cpu, nil, d.n)
	}
	err = errors.Join(err, ps.stop())
	if err == nil {
		err = checkRows(ctx, conn, d.table, d.rows)
	}
	if err != nil {
		return peerRun{}, err
	}
	return peerRun{rate: float64(d.n) / visible.Sub(d.start).Seconds(), rss: rss, loadRSS: peakRSS(), cpu: cpu}, nil
}

// peerDrainBento drains the same number of CDRs, pre-filled into
// PEER_FEES, with Bento's nats_jetstream → sql_insert, timed from the
// process's start as pnstream's is.
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
	p, err := b.startBento(ctx, roleRecorder, "bento-recorder-drain", bentoRecorderConfig(b.srv.nats.URL(), durable, b.srv.clickhouse.Addr(), db), nil)
	if err != nil {
		return peerRun{}, err
	}
	run, err := drained(ctx, nc, conn, m, procs{p}, drain{stream: peerFees, consumer: durable, last: last, n: n, start: start, table: table, rows: base + uint64(n)})
	if err != nil {
		return peerRun{}, err
	}
	return run, purge(ctx, js, peerFees) // as pnstream's drain leaves PN_FEES
}

// peerE2EPN is the e2e stage's sustained measurement with bin/ingest and
// bin/recorder: fee pushes back to back for Duration, until the last row
// is visible.
func (b *Bench) peerE2EPN(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, conn driver.Conn, db string) (run peerRun, err error) {
	if err := purge(ctx, js, streams.Fees, streams.Recordings); err != nil {
		return peerRun{}, err
	}
	table := db + ".fee_records FINAL"
	rows, base, err := startingPoint(ctx, conn, js, table)
	if err != nil {
		return peerRun{}, err
	}
	prefix := fmt.Sprintf("pnbench-%d", b.consumers.Add(1))
	defer deletePNConsumers(ctx, js, prefix)
	rec, err := b.startPNRecorder(ctx, "pnstream-recorder-e2e", db, prefix)
	if err != nil {
		return peerRun{}, err
	}
	ps := procs{rec}
	defer func() { err = errors.Join(err, ps.stop()) }()
	in, err := b.startPNIngest(ctx, "pnstream-ingest-e2e", ingest.PathFees, streams.Fees)
	if err != nil {
		return peerRun{}, err
	}
	ps = append(ps, in.proc)
	return b.peerE2E(ctx, nc, conn, "pnstream", in.client, ps, streams.Fees, prefix+"-fees", base, table, rows)
}

func (b *Bench) peerE2EBento(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, conn driver.Conn, db string) (run peerRun, err error) {
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
	rp, err := b.startBento(ctx, roleRecorder, "bento-recorder-e2e", bentoRecorderConfig(b.srv.nats.URL(), durable, b.srv.clickhouse.Addr(), db), nil)
	if err != nil {
		return peerRun{}, err
	}
	ps := procs{rp}
	defer func() { err = errors.Join(err, ps.stop()) }()
	in, err := b.startBentoIngest(ctx, "bento-ingest-e2e", true)
	if err != nil {
		return peerRun{}, err
	}
	ps = append(ps, in.proc)
	return b.peerE2E(ctx, nc, conn, "bento", in.client, ps, peerFees, durable, base, table, rows)
}

// peerE2E loads client with fee pushes back to back for Duration and
// waits until durable acked them all on stream (from base on), i.e. until
// their rows are visible in table, which held rows before.
func (b *Bench) peerE2E(ctx context.Context, nc *nats.Conn, conn driver.Conn, side string, client *pushClient, ps procs, stream, durable string, base uint64, table string, rows uint64) (peerRun, error) {
	defer client.close()
	before, err := ps.cpu()
	if err != nil {
		return peerRun{}, err
	}
	resetPeakRSS()
	m := b.measure("peers-e2e-" + side)
	start := time.Now()
	res := closedLoop(ctx, client, b.cfg.Conns, b.cfg.Duration, b.feeBody)
	if err := res.check(); err != nil {
		return peerRun{}, err
	}
	visible, err := waitPeerAcked(ctx, nc, stream, durable, base+uint64(res.records), ps)
	cpu := m.done(res.records)
	if err != nil {
		return peerRun{}, err
	}
	rss, err := ps.account(cpu, before, res.records)
	if err != nil {
		return peerRun{}, err
	}
	run := peerRun{rate: float64(res.records) / visible.Sub(start).Seconds(), rss: rss, loadRSS: peakRSS(), cpu: cpu}
	return run, checkRows(ctx, conn, table, rows+uint64(res.records))
}

// feeBody is a 50-record fee push, as the ingest and e2e stages post.
func (b *Bench) feeBody(dst []byte, n int) ([]byte, int) {
	const per = privatenumber.MaxFeeRecords
	return b.corpus.feePush(dst, n*per, per), per
}

// waitPeerAcked waits until the durable consumer of stream acked every
// message up to seq. A busy server's slow answer is asked again (the
// shared waitAcked gives up at the first); it fails when one of the
// side's processes ps exits, or when the ack floor has not moved for two
// minutes (Bento retries a failing insert forever, logging each error).
func waitPeerAcked(ctx context.Context, nc *nats.Conn, stream, durable string, seq uint64, ps procs) (time.Time, error) {
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
		if err := ps.exited(); err != nil {
			return time.Time{}, err
		}
		if time.Since(moved) > 2*time.Minute {
			return time.Time{}, fmt.Errorf("consumer %s acked up to %d of %d and made no progress for 2 minutes; logs: %s",
				durable, floor, seq, ps.logs())
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
	// PN_EVENTS holds the nonce claims of fee pushes too: count the events.
	filter := ">"
	if stream == streams.Events {
		filter = streams.EventSubjectPrefix + ">"
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	if n != uint64(want) {
		return fmt.Errorf("%s holds %d records after %d acked", stream, n, want)
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

// bentoRoleBy says what Bento runs in each role, for the raw column.
var bentoRoleBy = map[string]string{
	roleIngest:   "Bento http_server → nats_jetstream process",
	roleRecorder: "Bento nats_jetstream → sql_insert process",
}

// addPeerRows reports one workload: Bento in the raw column, pnstream
// beside it, the ratio pnstream ÷ Bento. Throughput must be at least 2×
// Bento's; for memory, CPU and latency a ratio below 1 is pnstream's lead.
func addPeerRows(rep *Report, stage, unit, by string, pn, bento peerRun) {
	one := unit[:len(unit)-1]
	rep.add(stage, unit+"/s (pnstream ÷ Bento)", by, bento.rate, pn.rate, &Target{Kind: "ratio", Value: 2})
	rep.add(stage, "peak RSS MiB, pipeline process(es)", "Bento process(es), VmHWM (summed for end to end)", bento.rss, pn.rss, nil)
	rep.add(stage, "peak RSS MiB of pnbench (the load)", "during Bento's run", bento.loadRSS, pn.loadRSS, nil)
	rep.add(stage, "CPU µs/"+one+", all processes", "Bento's run: load + bento + servers", sum(bento.cpu), sum(pn.cpu), nil)
	roles := []string{roleIngest, roleRecorder}
	if pipeline(pn.cpu, roles) != 0 && len(present(pn.cpu, roles)) > 1 {
		rep.add(stage, "CPU µs/"+one+", pipeline processes", "Bento's processes", pipeline(bento.cpu, roles), pipeline(pn.cpu, roles), nil)
	}
	for _, role := range present(pn.cpu, roles) {
		rep.add(stage, "CPU µs/"+one+", "+role+" process", bentoRoleBy[role], bento.cpu[role], pn.cpu[role], nil)
	}
	var others []string
	for p := range pn.cpu {
		if !slices.Contains(roles, p) {
			others = append(others, p)
		}
	}
	slices.Sort(others)
	for _, p := range others {
		label := "CPU µs/" + one + ", " + p
		if p == pnbenchProc {
			label += " (the load)"
		}
		rep.add(stage, label, "during Bento's run", bento.cpu[p], pn.cpu[p], nil)
	}
	if pn.half != nil && bento.half != nil {
		halfBy := "Bento at the same rate: half the slower side's full load"
		rep.add(stage, "half load, "+unit+"/s", halfBy, bento.half.recordsPerSec(), pn.half.recordsPerSec(), nil)
		rep.add(stage, "push p50 ms, half load", halfBy, bento.half.quantile(0.5), pn.half.quantile(0.5), nil)
		rep.add(stage, "push p99 ms, half load", halfBy, bento.half.quantile(0.99), pn.half.quantile(0.99), nil)
	}
}

// present returns the roles that have a figure in cpu.
func present(cpu map[string]float64, roles []string) []string {
	var out []string
	for _, r := range roles {
		if _, ok := cpu[r]; ok {
			out = append(out, r)
		}
	}
	return out
}

// pipeline sums the figures of the pipeline processes.
func pipeline(cpu map[string]float64, roles []string) float64 {
	var s float64
	for _, r := range roles {
		s += cpu[r]
	}
	return s
}

func sum(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

// logs returns the end of each log of ps, for errors.
func (ps procs) logs() string {
	var b strings.Builder
	for _, p := range ps {
		data, _ := os.ReadFile(p.prog.LogFile()) // best effort: the error says what it can
		s := strings.TrimSpace(string(data))
		if len(s) > 2000 {
			s = "…" + s[len(s)-2000:]
		}
		fmt.Fprintf(&b, "\n%s (%s):\n%s", p.prog.LogFile(), p.role, s)
	}
	return b.String()
}
