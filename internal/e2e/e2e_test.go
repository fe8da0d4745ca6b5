package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/recorder"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/internal/warehouse"
)

var (
	clickhouse *testenv.ClickHouseServer
	s3         *testenv.S3Server
)

func TestMain(m *testing.M) { testenv.Main(m, testenv.Servers{ClickHouse: &clickhouse, S3: &s3}) }

const (
	appKey    = "e2e-app"
	appSecret = "e2e-secret"
)

// pipeline is ingest and the recorder running in the test process against
// real servers, as cmd/ingest and cmd/recorder wire them.
type pipeline struct {
	t      *testing.T
	nats   *testenv.NATSServer
	js     jetstream.JetStream
	wh     *warehouse.Warehouse
	dbName string
	ingest *httptest.Server
	reg    *prometheus.Registry // the recorder's metrics
	rec    *testenv.Background  // the recorder's Run
}

func start(t *testing.T, mutate func(*recorder.Config)) *pipeline {
	t.Helper()
	ctx := context.Background()
	p := &pipeline{t: t, nats: testenv.NATS(t)}
	p.dbName = clickhouse.NewDatabase(t)

	wcfg := warehouse.DefaultConfig()
	wcfg.Addr = clickhouse.Addr()
	wcfg.Database = p.dbName
	wh, err := warehouse.Open(ctx, wcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wh.Close() })
	if err := wh.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	p.wh = wh

	cc := streams.DefaultConnConfig()
	cc.URL = p.nats.URL()
	cc.ReconnectWait = 50 * time.Millisecond
	nc, js, err := streams.Connect(cc, "e2e", zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := streams.Provision(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	p.js = js

	icfg := ingest.DefaultConfig()
	icfg.AppKey, icfg.AppSecret = appKey, appSecret
	icfg.Complete()
	srv := ingest.New(icfg, ingest.Deps{
		Publisher:  streams.NewJetStreamPublisher(nc, js),
		Nonces:     ingest.NewJetStreamNonces(js, icfg.NonceWindow()),
		MaxPayload: nc.MaxPayload,
		Ready:      func(context.Context) error { return nil },
		Logger:     zaptest.NewLogger(t),
		Registry:   prometheus.NewRegistry(),
	})
	p.ingest = httptest.NewServer(srv.Handler())
	t.Cleanup(p.ingest.Close)

	rcfg := recorder.DefaultConfig()
	rcfg.BatchWait = 200 * time.Millisecond
	rcfg.AckWait = 3 * time.Second
	rcfg.RetryInitial = 50 * time.Millisecond
	rcfg.RetryMax = 500 * time.Millisecond
	if mutate != nil {
		mutate(&rcfg)
	}
	if err := rcfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p.reg = prometheus.NewRegistry()
	rec := recorder.New(rcfg, recorder.Deps{
		JetStream: js, Store: wh, BadRows: warehouse.BadRows,
		Jobs: archive.NewEnqueuer(streams.NewJetStreamPublisher(nc, js)),
		// PII: the zero Policy, raw: the tests compare rows with the pushes;
		// internal/recorder tests the other modes.
		Logger: zaptest.NewLogger(t), Registry: p.reg,
	})
	p.rec = testenv.Go(t, rec.Run)
	return p
}

func (p *pipeline) push(path string, body []byte) int {
	p.t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.ingest.URL+path, bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	(&aksk.Signer{AppKey: appKey, AppSecret: appSecret}).Sign(req.Header)
	resp, err := p.ingest.Client().Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// conn opens a fresh connection: connections do not survive a restart.
func (p *pipeline) conn() driver.Conn {
	return clickhouse.Open(p.t, p.dbName)
}

func (p *pipeline) count(query string) uint64 {
	p.t.Helper()
	var n uint64
	if err := p.conn().QueryRow(context.Background(), query).Scan(&n); err != nil {
		p.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// waitCount waits until query returns want, or fails after timeout.
func (p *pipeline) waitCount(query string, want uint64, timeout time.Duration) {
	p.t.Helper()
	testenv.Eventually(p.t, timeout, func() (bool, string) {
		got := p.count(query)
		return got == want, fmt.Sprintf("%s = %d, want %d", query, got, want)
	})
}

func (p *pipeline) consumerInfo(stream, durable string) *jetstream.ConsumerInfo {
	p.t.Helper()
	c, err := p.js.Consumer(context.Background(), stream, durable)
	if err != nil {
		p.t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		p.t.Fatal(err)
	}
	return info
}

// waitConsumer waits until the info of the consumer durable on stream
// satisfies ok, and returns that info.
func (p *pipeline) waitConsumer(stream, durable string, timeout time.Duration, ok func(*jetstream.ConsumerInfo) bool) *jetstream.ConsumerInfo {
	p.t.Helper()
	var info *jetstream.ConsumerInfo
	testenv.Eventually(p.t, timeout, func() (bool, string) {
		info = p.consumerInfo(stream, durable)
		return ok(info), fmt.Sprintf("%s: %d pending, %d unacked, ack floor %d", durable,
			info.NumPending, info.NumAckPending, info.AckFloor.Stream)
	})
	return info
}

// counter returns the value of the recorder's counter name with label
// table, 0 when it has none yet.
func (p *pipeline) counter(name, table string) float64 {
	p.t.Helper()
	mfs, err := p.reg.Gather()
	if err != nil {
		p.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "table" && l.GetValue() == table {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func feeBody(prefix string, from, n int) []byte {
	recs := make([]string, n)
	for i := range recs {
		recs[i] = fmt.Sprintf(`{"direction":0,"icid":"%s-%d","sessionId":"s-%d","callInTime":"2024-05-01 10:00:%02d","ulFailReason":"%d","recordFlag":0}`,
			prefix, from+i, from+i, (from+i)%60, from+i)
	}
	return []byte(`{"eventType":"fee","feeLst":[` + strings.Join(recs, ",") + `]}`)
}

func readSeed(t *testing.T, name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSeedPushesBecomeTypedRows(t *testing.T) {
	t.Parallel()
	p := start(t, nil)
	if s := p.push(ingest.PathFees, readSeed(t, "seed-fee.json")); s != 200 {
		t.Fatalf("fee push: %d", s)
	}
	if s := p.push(ingest.PathEvents, readSeed(t, "seed-event.json")); s != 200 {
		t.Fatalf("event push: %d", s)
	}
	p.waitCount("SELECT count() FROM fee_records FINAL", 1, 15*time.Second)
	p.waitCount("SELECT count() FROM call_events FINAL", 1, 15*time.Second)

	var (
		ulFail, sipStatus, fwdUnasw, callOutUnasw, tts, ttsDur           int32
		direction, recordFlag                                            uint8
		icid, bindNum, sessionID, subID, caller, callee, extend, service string
		recordDomain, recordObject, raw                                  string
		callIn, callEnd                                                  time.Time
		answer, fail                                                     *time.Time
	)
	err := p.conn().QueryRow(context.Background(), `SELECT direction, icid, bind_num, session_id, subscription_id,
		caller_num, callee_num, call_in_time, fwd_answer_time, call_end_time, fail_time,
		fwd_unasw_rsn, ul_fail_reason, sip_status_code, call_out_unasw_rsn, record_flag,
		record_domain, record_object_name, tts_play_times, tts_trans_duration, service_type, extend_num, raw
		FROM fee_records FINAL`).Scan(&direction, &icid, &bindNum, &sessionID, &subID, &caller, &callee,
		&callIn, &answer, &callEnd, &fail, &fwdUnasw, &ulFail, &sipStatus, &callOutUnasw, &recordFlag,
		&recordDomain, &recordObject, &tts, &ttsDur, &service, &extend, &raw)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"direction", direction, uint8(0)},
		{"icid", icid, "ba171f34e6953fcd751edc77127748f4.3757289590.338833305.5"},
		{"bind_num", bindNum, "+86138****0022"},
		{"session_id", sessionID, "1201_11275_4294967295_20190124033310@callenabler246.huaweicaas.com"},
		{"subscription_id", subID, "********"},
		{"caller_num", caller, "+86138****7021"},
		{"callee_num", callee, "+86138****0022"},
		{"call_in_time", callIn.UTC(), time.Date(2019, 1, 24, 3, 33, 10, 0, time.UTC)},
		{"fwd_answer_time", answer != nil && answer.UTC().Equal(time.Date(2019, 1, 24, 3, 33, 28, 0, time.UTC)), true},
		{"call_end_time", callEnd.UTC(), time.Date(2019, 1, 24, 3, 33, 57, 0, time.UTC)},
		{"fail_time is NULL", fail == nil, true},
		{"fwd_unasw_rsn", fwdUnasw, int32(0)},
		{"ul_fail_reason", ulFail, int32(0)},
		{"sip_status_code", sipStatus, int32(0)},
		{"call_out_unasw_rsn", callOutUnasw, int32(0)},
		{"record_flag", recordFlag, uint8(1)},
		{"record_domain", recordDomain, "****.com"},
		{"record_object_name", recordObject, "********.wav"},
		{"tts_play_times", tts, int32(0)},
		{"service_type", service, "005"},
		{"extend_num", extend, "02"},
		{"raw has extendNumber", strings.Contains(raw, `"extendNumber": "02"`), true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	var (
		evSession, evType, evCaller, evCalled, evSub, evDesc string
		evTime                                               time.Time
		evCode                                               *int32
	)
	err = p.conn().QueryRow(context.Background(), `SELECT session_id, event_type, event_time, caller, called,
		subscription_id, state_code, state_desc FROM call_events FINAL`).Scan(&evSession, &evType, &evTime, &evCaller,
		&evCalled, &evSub, &evCode, &evDesc)
	if err != nil {
		t.Fatal(err)
	}
	if evSession != "1202_1051_4294967295_20190124070250@callenabler246.huaweicaas.com" || evType != "disconnect" ||
		!evTime.Equal(time.Date(2019, 1, 24, 7, 3, 28, 0, time.UTC)) || evCaller != "+86138****0022" ||
		evCalled != "+86138****7021" || evSub != "********" || evCode == nil || *evCode != 0 ||
		evDesc != "The user releases the call." {
		t.Errorf("call_events row = %q %q %v %q %q %q %v %q", evSession, evType, evTime, evCaller, evCalled, evSub, evCode, evDesc)
	}
}

func TestPlatformRetriesYieldOneRowPerRecord(t *testing.T) {
	t.Parallel()
	p := start(t, nil)
	body := feeBody("retry", 0, 50)
	for i := range 7 {
		if s := p.push(ingest.PathFees, body); s != 200 {
			t.Fatalf("attempt %d: %d", i, s)
		}
	}
	p.waitCount("SELECT count() FROM fee_records FINAL", 50, 15*time.Second)
	p.waitCount("SELECT uniqExact(icid) FROM fee_records", 50, time.Second)
}

// Late re-pushes come after the JetStream duplicate window; the table
// absorbs them.
func TestLateRepushAfterDuplicateWindow(t *testing.T) {
	t.Parallel()
	p := start(t, nil)
	body := feeBody("late", 0, 20)
	if s := p.push(ingest.PathFees, body); s != 200 {
		t.Fatal(s)
	}
	p.waitCount("SELECT count() FROM fee_records FINAL", 20, 15*time.Second)
	// Bypass the duplicate window the way a push 106 minutes later would.
	for i := range 20 {
		if _, err := p.js.Publish(context.Background(), streams.FeeSubject,
			[]byte(fmt.Sprintf(`{"icid":"late-%d","sessionId":"s-%d","callInTime":"2024-05-01 10:00:%02d"}`, i, i, i%60)),
			jetstream.WithMsgID(fmt.Sprintf("late-%d-again", i))); err != nil {
			t.Fatal(err)
		}
	}
	p.waitCount("SELECT count() FROM fee_records", 40, 15*time.Second) // both copies arrived
	p.waitCount("SELECT count() FROM fee_records FINAL", 20, time.Second)
}

// Not parallel: it stops the ClickHouse server every test of the package
// shares.
func TestClickHouseOutageLosesNothing(t *testing.T) {
	p := start(t, nil)
	p.waitCount("SELECT count() FROM fee_records", 0, time.Second)
	clickhouse.Stop(t)

	const n = 200
	for i := 0; i < n; i += 50 {
		if s := p.push(ingest.PathFees, feeBody("outage", i, 50)); s != 200 {
			t.Fatalf("push while ClickHouse is down: %d", s)
		}
	}
	// The recorder fetched the records and failed to insert them, again
	// and again: nothing may be acked.
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		n := p.counter("pn_recorder_insert_retries_total", "fees")
		return n >= 3, fmt.Sprintf("%v fee inserts retried", n)
	})
	info := p.consumerInfo(streams.Fees, "pn-recorder-fees")
	if acked := info.AckFloor.Stream; acked != 0 {
		t.Fatalf("acked up to stream seq %d while ClickHouse was down", acked)
	}
	if info.NumAckPending+int(info.NumPending) != n {
		t.Fatalf("consumer holds %d pending + %d unacked, want %d", info.NumPending, info.NumAckPending, n)
	}

	clickhouse.Start(t)
	p.waitCount("SELECT count() FROM fee_records FINAL", n, 30*time.Second)
	p.waitCount("SELECT count() FROM fee_records", n, time.Second) // no double insert either
	p.waitConsumer(streams.Fees, "pn-recorder-fees", 10*time.Second, func(info *jetstream.ConsumerInfo) bool {
		return info.NumAckPending == 0 && info.NumPending == 0
	})
}

func TestUnstorableMessageIsDeadLetteredOthersProceed(t *testing.T) {
	t.Parallel()
	p := start(t, nil)
	ctx := context.Background()
	if _, err := p.js.Publish(ctx, streams.FeeSubject, []byte(`{"icid":"poison","callInTime":"never"}`), jetstream.WithMsgID("poison")); err != nil {
		t.Fatal(err)
	}
	if s := p.push(ingest.PathFees, feeBody("good", 0, 10)); s != 200 {
		t.Fatal(s)
	}
	p.waitCount("SELECT count() FROM fee_records FINAL", 10, 15*time.Second)

	dead, err := p.js.Stream(ctx, streams.Dead)
	if err != nil {
		t.Fatal(err)
	}
	var m *jetstream.RawStreamMsg
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		m, err = dead.GetLastMsgForSubject(ctx, streams.DeadPrefix+"fees")
		if err != nil {
			return false, "no dead letter: " + err.Error()
		}
		return true, ""
	})
	if string(m.Data) != `{"icid":"poison","callInTime":"never"}` {
		t.Errorf("dead letter body %q", m.Data)
	}
	// Only its identity can make a record unstorable (tolerance): this one
	// has no sessionId; its unreadable callInTime alone would be stored.
	if reason := m.Header.Get(streams.HeaderReason); !strings.Contains(reason, "sessionId") {
		t.Errorf("dead letter reason %q does not name the field", reason)
	}
	if m.Header.Get(streams.HeaderStream) != streams.Fees || m.Header.Get(streams.HeaderStreamSeq) != "1" {
		t.Errorf("dead letter origin headers: %v", m.Header)
	}
	if id := m.Header.Get(nats.MsgIdHdr); id != "dead:fees:1" {
		t.Errorf("dead letter Nats-Msg-Id = %q, want dead:fees:1", id)
	}
}

func TestShutdownFlushesTheOpenBatch(t *testing.T) {
	t.Parallel()
	// A batch that would wait 30 s to fill is flushed at once on shutdown.
	p := start(t, func(c *recorder.Config) { c.BatchWait = 30 * time.Second; c.AckWait = 100 * time.Second })
	if s := p.push(ingest.PathFees, feeBody("flush", 0, 30)); s != 200 {
		t.Fatal(s)
	}
	// The recorder fetched them all: the batch is open, not yet flushed.
	p.waitConsumer(streams.Fees, "pn-recorder-fees", 10*time.Second, func(info *jetstream.ConsumerInfo) bool {
		return info.NumAckPending >= 30
	})
	if n := p.count("SELECT count() FROM fee_records"); n != 0 {
		t.Fatalf("rows before shutdown = %d, want 0 (batch still open)", n)
	}
	t0 := time.Now()
	if err := p.rec.StopWithin(t, time.Minute); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(t0); took > 10*time.Second {
		t.Errorf("shutdown took %s", took)
	}
	if n := p.count("SELECT count() FROM fee_records"); n != 30 {
		t.Errorf("rows after shutdown = %d, want 30", n)
	}
	if info := p.consumerInfo(streams.Fees, "pn-recorder-fees"); info.NumAckPending != 0 || info.AckFloor.Stream != 30 {
		t.Errorf("after shutdown: %d unacked, ack floor %d", info.NumAckPending, info.AckFloor.Stream)
	}
}
