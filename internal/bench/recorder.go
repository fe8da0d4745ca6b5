package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/recorder"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// openWarehouse opens and migrates database db as the recorder does.
func (b *Bench) openWarehouse(ctx context.Context, db string) (*warehouse.Warehouse, error) {
	cfg := warehouse.DefaultConfig()
	cfg.Addr, cfg.Database = b.srv.clickhouse.Addr(), db
	wh, err := warehouse.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := wh.Migrate(ctx); err != nil {
		return nil, errors.Join(err, wh.Close())
	}
	return wh, nil
}

// openClickHouse opens a bare clickhouse-go connection with the driver
// settings warehouse uses (native protocol, LZ4).
func (b *Bench) openClickHouse() (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{b.srv.clickhouse.Addr()},
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		DialTimeout: 5 * time.Second,
		ReadTimeout: 5 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	return conn, nil
}

// quiesce waits until ClickHouse has no merge running, at most a
// minute, so that one measurement does not pay for the parts the one
// before it left behind.
func quiesce(ctx context.Context, conn driver.Conn) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		n, err := countRows(ctx, conn, "system.merges")
		if err != nil || n == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startingPoint is where a measurement of the recorder starts from: the
// rows of table and the last sequence in PN_FEES, once ClickHouse has no
// merge running.
func startingPoint(ctx context.Context, conn driver.Conn, js jetstream.JetStream, table string) (rows, seq uint64, err error) {
	if rows, err = countRows(ctx, conn, table); err != nil {
		return 0, 0, err
	}
	if seq, err = lastSeq(ctx, js, streams.Fees); err != nil {
		return 0, 0, err
	}
	quiesce(ctx, conn)
	return rows, seq, nil
}

// countRows returns the rows of from (database.table, with FINAL to count
// identities: a retried insert stores rows twice until they are merged).
func countRows(ctx context.Context, conn driver.Conn, from string) (uint64, error) {
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+from).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", from, err)
	}
	return n, nil
}

// runRecorder measures the recorder draining a pre-filled PN_FEES into
// ClickHouse against clickhouse-go batch inserts of rows of the same
// shapes, and the JetStream pull drain the recorder's fetching rests on.
func (b *Bench) runRecorder(ctx context.Context, rep *Report) error {
	n := b.cfg.RecorderRecords
	batch := recorder.DefaultConfig().BatchSize
	conn, err := b.openClickHouse()
	if err != nil {
		return err
	}
	defer conn.Close()

	quiesce(ctx, conn)
	m := b.measure("recorder-raw-insert")
	rawRate, rawCPU, err := b.rawInsert(ctx, conn, n, batch)
	m.done(n)
	if err != nil {
		return fmt.Errorf("raw insert: %w", err)
	}
	// Its parts would be merged while pnstream is measured.
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS bench_raw"); err != nil {
		return fmt.Errorf("drop raw database: %w", err)
	}
	b.limits.insert = rawRate

	nc, js, err := b.connect("pnbench-recorder")
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := b.prefill(ctx, js, nc, n); err != nil {
		return err
	}
	m = b.measure("recorder-jetstream-drain")
	drainRate, err := pullDrain(ctx, js, n)
	m.done(n)
	if err != nil {
		return err
	}
	b.limits.drain = drainRate

	db := "bench_recorder"
	wh, err := b.openWarehouse(ctx, db)
	if err != nil {
		return err
	}
	defer wh.Close()
	base, last, err := startingPoint(ctx, conn, js, db+".fee_records FINAL")
	if err != nil {
		return err
	}
	m = b.measure("recorder-pnstream")
	rec, err := b.startRecorder(ctx, nc, js, wh)
	if err != nil {
		return err
	}
	visible, err := waitAcked(ctx, js, streams.Fees, rec.fees, last, 10*time.Minute)
	pnCPU := m.done(n)
	if serr := rec.stop(); err == nil {
		err = serr
	}
	if err == nil {
		err = checkRows(ctx, conn, db+".fee_records FINAL", base+uint64(n))
	}
	if err != nil {
		return err
	}
	pnRate := float64(n) / visible.Sub(rec.start).Seconds()
	rep.add("recorder (pre-filled PN_FEES)", "rows/s", fmt.Sprintf("clickhouse-go PrepareBatch/Append/Send, %d-row batches", batch),
		rawRate, pnRate, &Target{Kind: "ratio", Value: 0.8})
	rep.add("recorder (pre-filled PN_FEES)", "msgs/s vs JetStream drain", "pull consumer, explicit ack per message",
		drainRate, pnRate, nil)
	rep.addCPU("recorder (pre-filled PN_FEES)", "row", rawCPU, pnCPU, "pnbench", "nats-server", "clickhouse-server")
	return purge(ctx, js, streams.Fees, streams.Recordings)
}

// prefill purges PN_FEES and stores n fee records in it.
func (b *Bench) prefill(ctx context.Context, js jetstream.JetStream, nc *nats.Conn, n int) error {
	if err := purge(ctx, js, streams.Fees); err != nil {
		return err
	}
	stored, _, err := asyncPublish(ctx, nc, time.Hour, n, func(i int) (string, []byte, string) {
		data, id := b.corpus.feeMessage(i)
		r, _ := privatenumber.DecodeFeeRecord(data) // the corpus decodes (checked by rawInsert)
		return streams.FeeSubjectFor(r.Recorded()), data, id
	})
	if err != nil {
		return fmt.Errorf("prefill PN_FEES: %w", err)
	}
	if stored != n {
		return fmt.Errorf("prefill PN_FEES: stored %d of %d", stored, n)
	}
	return nil
}

// runningRecorder is a recorder started by startRecorder.
type runningRecorder struct {
	stop   func() error // stops it and deletes its consumers
	start  time.Time
	fees   string // its durable consumer on PN_FEES
	events string // and on PN_EVENTS
}

// startRecorder runs a recorder wired as cmd/recorder wires it (the default
// PII policy and recording jobs included) with fresh durable consumers.
func (b *Bench) startRecorder(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, wh *warehouse.Warehouse) (*runningRecorder, error) {
	cfg := recorder.DefaultConfig()
	cfg.ConsumerPrefix = fmt.Sprintf("pnbench-%d", b.consumers.Add(1))
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("recorder config: %w", err)
	}
	policy, err := pii.DefaultConfig().Policy()
	if err != nil {
		return nil, fmt.Errorf("pii config: %w", err)
	}
	rec := recorder.New(cfg, recorder.Deps{
		JetStream: js, Store: wh, Jobs: archive.NewEnqueuer(streams.NewJetStreamPublisher(nc, js)), PII: policy,
		BadRows: warehouse.BadRows,
		Logger:  productionLogger(), Registry: prometheus.NewRegistry(),
	})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- rec.Run(runCtx) }()
	stop := func() error {
		cancel()
		err := <-done
		for _, c := range []struct{ stream, name string }{{streams.Fees, cfg.ConsumerPrefix + "-fees"}, {streams.Events, cfg.ConsumerPrefix + "-events"}} {
			if derr := js.DeleteConsumer(context.WithoutCancel(ctx), c.stream, c.name); derr != nil && !errors.Is(derr, jetstream.ErrConsumerNotFound) {
				err = errors.Join(err, fmt.Errorf("delete consumer %s: %w", c.name, derr))
			}
		}
		return err
	}
	return &runningRecorder{stop: stop, start: start, fees: cfg.ConsumerPrefix + "-fees", events: cfg.ConsumerPrefix + "-events"}, nil
}

// checkRows fails unless from holds at least want rows: what the acks
// said is stored must be there.
func checkRows(ctx context.Context, conn driver.Conn, from string, want uint64) error {
	n, err := countRows(ctx, conn, from)
	if err == nil && n < want {
		err = fmt.Errorf("%s holds %d rows, want %d", from, n, want)
	}
	return err
}

// pullDrain fetches n messages of PN_FEES with a pull consumer and acks
// each, the JetStream part of the recorder's work.
func pullDrain(ctx context.Context, js jetstream.JetStream, n int) (float64, error) {
	cons, err := js.CreateConsumer(ctx, streams.Fees, jetstream.ConsumerConfig{
		AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 4 * recorder.DefaultConfig().BatchSize,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return 0, fmt.Errorf("drain consumer: %w", err)
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(recorder.DefaultConfig().BatchSize))
	if err != nil {
		return 0, fmt.Errorf("drain: %w", err)
	}
	defer iter.Stop()
	start := time.Now()
	for range n {
		msg, err := iter.Next()
		if err != nil {
			return 0, fmt.Errorf("drain: %w", err)
		}
		if err := msg.Ack(); err != nil {
			return 0, fmt.Errorf("drain ack: %w", err)
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// rawInsert inserts n fee rows of the corpus' shapes into a table of the
// pnstream schema with bare clickhouse-go batches, and returns rows/s and
// the CPU time per row of each process. Decoding the rows is not counted:
// only the inserts are.
func (b *Bench) rawInsert(ctx context.Context, conn driver.Conn, n, batch int) (float64, map[string]float64, error) {
	db := "bench_raw"
	wh, err := b.openWarehouse(ctx, db) // the same DDL as pnstream's
	if err != nil {
		return 0, nil, err
	}
	if err := wh.Close(); err != nil {
		return 0, nil, err
	}
	cpu := cpuTimes{}
	query := "INSERT INTO " + db + ".fee_records (" + rawFeeColumns + ")"
	var took time.Duration
	rows := make([]privatenumber.FeeRecord, 0, batch)
	for done := 0; done < n; done += len(rows) {
		rows = rows[:0]
		for i := done; i < min(n, done+batch); i++ {
			data, _ := b.corpus.feeMessage(i)
			r, err := privatenumber.DecodeFeeRecord(data)
			if err != nil {
				return 0, nil, fmt.Errorf("corpus record: %w", err)
			}
			rows = append(rows, r)
		}
		before := b.cpuTimes()
		t0 := time.Now()
		if err := insertBatch(ctx, conn, query, rows); err != nil {
			return 0, nil, err
		}
		took += time.Since(t0)
		cpu.add(b.cpuTimes().since(before))
	}
	return float64(n) / took.Seconds(), cpu.perUnit(n), nil
}

const rawFeeColumns = "direction, sp_id, app_key, icid, bind_num, session_id, subscription_id, caller_num, callee_num, " +
	"fwd_display_num, fwd_dst_num, call_in_time, fwd_start_time, fwd_alerting_time, fwd_answer_time, call_end_time, " +
	"fail_time, record_start_time, fwd_unasw_rsn, ul_fail_reason, sip_status_code, call_out_unasw_rsn, record_flag, " +
	"record_domain, record_bucket_name, record_object_name, record_file_download_url, tts_play_times, " +
	"tts_trans_duration, mpty_id, service_type, host_name, extend_num, raw, ingested_at"

func insertBatch(ctx context.Context, conn driver.Conn, query string, rows []privatenumber.FeeRecord) error {
	b, err := conn.PrepareBatch(ctx, query)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for i := range rows {
		r := &rows[i]
		err := b.Append(uint8(r.Direction), r.SpID, r.AppKey, r.ICID, r.BindNum, r.SessionID, r.SubscriptionID,
			r.CallerNum, r.CalleeNum, r.FwdDisplayNum, r.FwdDstNum, r.CallInTime.UTC(), r.FwdStartTime.Ptr(),
			r.FwdAlertingTime.Ptr(), r.FwdAnswerTime.Ptr(), r.CallEndTime.Ptr(), r.FailTime.Ptr(), r.RecordStartTime.Ptr(),
			int32(r.FwdUnaswRsn), int32(r.ULFailReason), int32(r.SIPStatusCode), int32(r.CallOutUnaswRsn), uint8(r.RecordFlag),
			r.RecordDomain, r.RecordBucketName, r.RecordObjectName, r.RecordFileDownloadURL, int32(r.TTSPlayTimes),
			int32(r.TTSTransDuration), r.MptyID, r.ServiceType, r.HostName, r.ExtendNum, string(r.Raw), now)
		if err != nil {
			return errors.Join(fmt.Errorf("append: %w", err), b.Abort())
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}
