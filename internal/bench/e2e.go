package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
)

// runE2E measures push → row visible latency at a fixed rate, and the
// throughput the whole pipeline sustains, ingest and recorder sharing the
// machine as in a single-node deployment.
func (b *Bench) runE2E(ctx context.Context, rep *Report) error {
	nc, js, err := b.connect("pnbench-e2e")
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := purge(ctx, js, streams.Fees, streams.Recordings); err != nil {
		return err
	}
	conn, err := b.openClickHouse()
	if err != nil {
		return err
	}
	defer conn.Close()
	db := "bench_e2e"
	wh, err := b.openWarehouse(ctx, db)
	if err != nil {
		return err
	}
	defer wh.Close()
	table := db + ".fee_records FINAL"
	in, err := startIngest(ctx, nc, js)
	if err != nil {
		return err
	}
	defer func() { _ = in.stop() }()
	rec, err := b.startRecorder(ctx, nc, js, wh)
	if err != nil {
		return err
	}
	defer func() { _ = rec.stop() }()

	const per = privatenumber.MaxFeeRecords
	client := newPushClient(in.url+ingest.PathFees, b.cfg.Conns, signer())
	defer client.close()
	body := func(dst []byte, n int) ([]byte, int) { return b.corpus.feePush(dst, n*per, per), per }

	// Latency at a fixed rate: record k of the run is in push k/per, due
	// at start + (k/per)/pushRate, and stored as PN_FEES sequence
	// base+k+1 (pushes are stored in the order they are due); its row is
	// visible once the recorder acked that sequence.
	rows, base, err := startingPoint(ctx, conn, js, table)
	if err != nil {
		return err
	}
	pushRate := b.cfg.E2ERate / per
	stop := make(chan struct{})
	var (
		obs     []observation
		obsErr  error
		watcher sync.WaitGroup
	)
	watcher.Go(func() { obs, obsErr = watchAcks(ctx, js, streams.Fees, rec.fees, stop) })
	start := time.Now()
	res := openLoop(ctx, client, b.cfg.Conns, pushRate, b.cfg.E2EDuration, body)
	total := uint64(res.records)
	_, werr := waitAcked(ctx, js, streams.Fees, rec.fees, base+total, 2*time.Minute)
	close(stop)
	watcher.Wait()
	if err := errors.Join(res.check(), werr, obsErr); err != nil {
		return fmt.Errorf("fixed rate: %w", err)
	}
	lat := newLatencies()
	j := 0
	interval := float64(time.Second) / pushRate
	for k := range total {
		for j < len(obs) && obs[j].floor < base+k+1 {
			j++
		}
		if j == len(obs) {
			break // cannot happen: waitAcked saw them all
		}
		due := start.Add(time.Duration(float64(k/per) * interval))
		recordLatency(lat, obs[j].at.Sub(due))
	}
	stage := fmt.Sprintf("end to end (%.0f records/s for %s)", b.cfg.E2ERate, b.cfg.E2EDuration)
	rep.add(stage, "push → row p50 ms", "", 0, quantileMS(lat, 0.5), nil)
	rep.add(stage, "push → row p99 ms", "", 0, quantileMS(lat, 0.99), &Target{Kind: "max", Value: 2000})

	// Sustained throughput: pushes back to back for Duration, then until
	// the last row is stored.
	base += total
	quiesce(ctx, conn)
	m := b.measure("e2e-sustained")
	start = time.Now()
	full := closedLoop(ctx, client, b.cfg.Conns, b.cfg.Duration, body)
	if err := full.check(); err != nil {
		return fmt.Errorf("full load: %w", err)
	}
	visible, err := waitAcked(ctx, js, streams.Fees, rec.fees, base+uint64(full.records), 10*time.Minute)
	m.done(full.records)
	if err == nil {
		err = checkRows(ctx, conn, table, rows+total+uint64(full.records))
	}
	if err != nil {
		return err
	}
	rate := float64(full.records) / visible.Sub(start).Seconds()
	rep.add("end to end (sustained)", "records/s pushed to visible", b.limits.modelLabel(), b.limits.model(), rate, &Target{Kind: "min", Value: 15000})
	return purge(ctx, js, streams.Fees, streams.Recordings)
}

// stageLimits are the raw limits of the stages a record goes through,
// measured earlier in the same run.
type stageLimits struct {
	decode  float64 // bare handler, fee records/s
	publish float64 // JetStream async publish, msgs/s
	drain   float64 // JetStream pull with acks, msgs/s
	insert  float64 // clickhouse-go batch insert, rows/s
}

// model is the ideal whole-pipeline rate when every stage shares the same
// CPUs: each record costs the sum of the stages' costs, 1/Σ(1/limit). Zero
// when a stage was not measured.
func (l stageLimits) model() float64 { return sharedRate(l.decode, l.publish, l.drain, l.insert) }

// sharedRate is the rate of a unit of work that goes through every one
// of limits (rates) on the same CPUs: 1/Σ(1/limit); 0 when one is unknown.
func sharedRate(limits ...float64) float64 {
	var cost float64
	for _, x := range limits {
		if x <= 0 {
			return 0
		}
		cost += 1 / x
	}
	return 1 / cost
}

func (l stageLimits) modelLabel() string {
	if l.model() == 0 {
		return "model needs the ingest and recorder stages in the same run"
	}
	return "model 1/Σ(1/limit): bare decode, async publish, pull drain, batch insert"
}
