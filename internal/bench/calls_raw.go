package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/platformsim"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/recorder"
	"github.com/pnstream/pnstream/internal/streams"
)

// callLimits are the raw limits of what a call costs each tool, in calls/s,
// measured on the same calls in the same run.
type callLimits struct {
	bare    float64 // its pushes through the bare handler
	publish float64 // its messages through JetStream async publish
	insert  float64 // its rows through clickhouse-go batch insert
	put     float64 // its recording through PutObject
}

// model is the ideal rate when every tool shares the same CPUs, as the
// e2e stage's model.
func (l callLimits) model() float64 { return sharedRate(l.bare, l.publish, l.insert, l.put) }

func (l callLimits) label() string {
	return "model 1/Σ(1/limit) per call: bare handler, async publish, batch insert, PutObject"
}

// putSample is how many recordings the raw PutObject limit uploads at most:
// enough for a steady rate, few enough for the disk.
const putSample = 300

// callsModel measures the raw limits per call on CallsRawCalls calls of
// the generator, and returns them with the CPU µs each process spent per
// call in all of them together.
func (b *Bench) callsModel(ctx context.Context, mr *mirrorRig, js jetstream.JetStream, conn driver.Conn) (callLimits, map[string]float64, error) {
	var l callLimits
	cpu := map[string]float64{}
	addCPU := func(per map[string]float64) {
		for k, v := range per {
			cpu[k] += v
		}
	}
	pool := make([]platformsim.Call, b.cfg.CallsRawCalls)
	for i := range pool {
		pool[i] = b.calls.next(mr.sim.Recordings())
	}
	msgs, events, fees, err := callMessages(pool)
	if err != nil {
		return l, nil, err
	}

	bareURL, stopBare, err := serve(http.HandlerFunc(bareHandler))
	if err != nil {
		return l, nil, err
	}
	defer stopBare()
	p := newCallPusher(bareURL, b.cfg.Conns, false)
	defer p.close()
	m := b.measure("calls-bare")
	bare := closed(ctx, b.cfg.Conns, b.cfg.Duration, func(_, n int) (int, error) {
		return 1, p.push(ctx, &pool[n%len(pool)], time.Time{})
	})
	addCPU(m.done(bare.records))
	if err := errors.Join(bare.check(), p.flush(ctx)); err != nil {
		return l, nil, fmt.Errorf("bare handler: %w", err)
	}
	l.bare = bare.recordsPerSec()

	rawNC, err := nats.Connect(b.srv.nats.URL())
	if err != nil {
		return l, nil, fmt.Errorf("connect nats: %w", err)
	}
	defer rawNC.Close()
	m = b.measure("calls-jetstream")
	published, took, err := asyncPublish(ctx, rawNC, time.Hour, len(msgs), func(i int) (string, []byte, string) {
		return msgs[i].Subject, msgs[i].Data, msgs[i].MsgID
	})
	addCPU(m.done(len(pool)))
	if err == nil && published != len(msgs) {
		err = fmt.Errorf("published %d of %d", published, len(msgs))
	}
	if err = errors.Join(err, purge(ctx, js, streams.Events, streams.Fees)); err != nil {
		return l, nil, err
	}
	l.publish = float64(len(pool)) / took.Seconds()

	rate, insCPU, err := b.rawCallInsert(ctx, conn, len(pool), events, fees)
	if err != nil {
		return l, nil, err
	}
	l.insert = rate
	addCPU(insCPU)

	rate, putCPU, err := b.rawCallPut(ctx, mr, pool)
	if err != nil {
		return l, nil, err
	}
	l.put = rate
	addCPU(putCPU)
	return l, cpu, nil
}

// callMessages decodes the calls' pushes as ingest does: the messages it
// publishes and the rows the recorder inserts.
func callMessages(calls []platformsim.Call) ([]streams.Message, []privatenumber.CallEvent, []privatenumber.FeeRecord, error) {
	var (
		msgs   []streams.Message
		events []privatenumber.CallEvent
		fees   = make([]privatenumber.FeeRecord, 0, len(calls))
	)
	for i := range calls {
		c := &calls[i]
		for _, e := range c.Events {
			ev, err := privatenumber.DecodeCallEvent(e.Body)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("generated %s event: %w", e.Type, err)
			}
			msgs = append(msgs, streams.Message{Subject: streams.EventSubject(ev.EventType), MsgID: ev.MsgID(), Data: e.Body})
			events = append(events, ev)
		}
		fee, err := privatenumber.DecodeFeeRecord(c.Fee)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("generated CDR: %w", err)
		}
		msgs = append(msgs, streams.Message{Subject: streams.FeeSubject, MsgID: fee.MsgID(), Data: c.Fee})
		fees = append(fees, fee)
	}
	return msgs, events, fees, nil
}

// rawCallInsert inserts the rows of calls calls with bare clickhouse-go
// batches of the recorder's batch size into tables of pnstream's DDL, and
// returns calls/s and the CPU µs per call of each process, counting the
// inserts only.
func (b *Bench) rawCallInsert(ctx context.Context, conn driver.Conn, calls int, events []privatenumber.CallEvent, fees []privatenumber.FeeRecord) (float64, map[string]float64, error) {
	db := "bench_raw_calls"
	wh, err := b.openWarehouse(ctx, db)
	if err != nil {
		return 0, nil, err
	}
	if err := wh.Close(); err != nil {
		return 0, nil, err
	}
	quiesce(ctx, conn)
	batch := recorder.DefaultConfig().BatchSize
	cpu := cpuTimes{}
	var took time.Duration
	timed := func(insert func() error) error {
		before := b.cpuTimes()
		t0 := time.Now()
		err := insert()
		took += time.Since(t0)
		cpu.add(b.cpuTimes().since(before))
		return err
	}
	evQuery := "INSERT INTO " + db + ".call_events (" + rawEventColumns + ")"
	for i := 0; i < len(events); i += batch {
		if err := timed(func() error { return insertEventBatch(ctx, conn, evQuery, events[i:min(i+batch, len(events))]) }); err != nil {
			return 0, nil, err
		}
	}
	feeQuery := "INSERT INTO " + db + ".fee_records (" + rawFeeColumns + ")"
	for i := 0; i < len(fees); i += batch {
		if err := timed(func() error { return insertBatch(ctx, conn, feeQuery, fees[i:min(i+batch, len(fees))]) }); err != nil {
			return 0, nil, err
		}
	}
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
		return 0, nil, fmt.Errorf("drop raw database: %w", err)
	}
	return float64(calls) / took.Seconds(), cpu.perUnit(calls), nil
}

const rawEventColumns = "session_id, event_type, event_time, caller, called, subscription_id, digit_info, state_code, " +
	"state_desc, user_data, call_rel_direction, anomalies, raw, ingested_at"

func insertEventBatch(ctx context.Context, conn driver.Conn, query string, rows []privatenumber.CallEvent) error {
	b, err := conn.PrepareBatch(ctx, query)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for i := range rows {
		e := &rows[i]
		var code *int32
		if e.StateCode != nil {
			v := int32(*e.StateCode)
			code = &v
		}
		var rel *uint8
		if e.CallRelDirection != nil {
			v := uint8(*e.CallRelDirection)
			rel = &v
		}
		anomalies := make([]string, len(e.Anomalies))
		for k, a := range e.Anomalies {
			anomalies[k] = a.String()
		}
		err := b.Append(e.SessionID, e.EventType, e.Timestamp.UTC(), e.Caller, e.Called, e.SubscriptionID, e.DigitInfo,
			code, e.StateDesc, e.UserData, rel, anomalies, string(e.Raw), now)
		if err != nil {
			return errors.Join(fmt.Errorf("append: %w", err), b.Abort())
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

// rawCallPut uploads with PutObject the recordings of the first calls of
// pool, up to putSample recordings, as the raw upload of the mirror stage
// does, and returns calls/s and the CPU µs per call of each process.
func (b *Bench) rawCallPut(ctx context.Context, mr *mirrorRig, pool []platformsim.Call) (float64, map[string]float64, error) {
	var fees []privatenumber.FeeRecord
	calls := 0
	for i := range pool {
		if rec := pool[i].Recording; rec != nil {
			if len(fees) == putSample {
				break
			}
			fees = append(fees, privatenumber.FeeRecord{ICID: rec.ICID, RecordObjectName: rec.ObjectName})
		}
		calls++
	}
	if len(fees) == 0 {
		return 0, nil, fmt.Errorf("no recorded call among %d", len(pool))
	}
	dir := filepath.Join(mr.dir, "raw-calls")
	defer os.RemoveAll(dir)
	paths, err := mr.download(ctx, fees, dir)
	if err != nil {
		return 0, nil, err
	}
	m := b.measure("calls-put")
	t0 := time.Now()
	_, err = mr.rawPut(ctx, paths, b.cfg.MirrorConcurrency)
	took := time.Since(t0)
	cpu := m.done(calls)
	if err = errors.Join(err, os.RemoveAll(dir), mr.removeObjects(ctx)); err != nil {
		return 0, nil, err
	}
	return float64(calls) / took.Seconds(), cpu, nil
}
