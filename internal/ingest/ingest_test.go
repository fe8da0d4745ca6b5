package ingest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/nonces"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	appKey    = "test-app"
	appSecret = "test-secret"
)

type env struct {
	t    testing.TB
	nats *testenv.NATSServer
	nc   *nats.Conn
	js   jetstream.JetStream
	srv  *httptest.Server
}

func newEnv(t testing.TB, mutate ...func(*ingest.Config)) *env {
	t.Helper()
	ns := testenv.NATS(t)
	sc := streams.DefaultConnConfig()
	sc.URL = ns.URL()
	sc.ReconnectWait = 50 * time.Millisecond
	nc, js, err := streams.Connect(sc, "ingest-test", zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := streams.Provision(context.Background(), js, smallStreams()); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, nats: ns, nc: nc, js: js}
	e.srv = e.serve(nc, js, mutate...)
	return e
}

// smallStreams is the default stream layout with small byte limits: a
// test's streams hold little, and a test can fill one on purpose.
func smallStreams() streams.Config {
	cfg := streams.DefaultConfig()
	cfg.MaxBytes = 64 << 20
	cfg.RejectedMaxBytes = 16 << 20
	cfg.DeadMaxBytes = 16 << 20
	cfg.NumbersMaxBytes = 16 << 20
	return cfg
}

// testConfig is the Config of the tests' servers.
func testConfig(t testing.TB, mutate ...func(*ingest.Config)) ingest.Config {
	t.Helper()
	cfg := ingest.DefaultConfig()
	cfg.AppKey, cfg.AppSecret = appKey, appSecret
	cfg.PublishTimeout = 2 * time.Second
	cfg.MaxBodyBytes = 256 << 10
	for _, m := range mutate {
		m(&cfg)
	}
	cfg.Complete()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// replica starts another ingest Server on the env's NATS, with its own
// connection, as a second pod (or a restarted one) would have.
func (e *env) replica(mutate ...func(*ingest.Config)) *httptest.Server {
	e.t.Helper()
	sc := streams.DefaultConnConfig()
	sc.URL = e.nats.URL()
	sc.ReconnectWait = 50 * time.Millisecond
	nc, js, err := streams.Connect(sc, "ingest-test-replica", zaptest.NewLogger(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	return e.serve(nc, js, mutate...)
}

// serve starts an ingest Server on nc.
func (e *env) serve(nc *nats.Conn, js jetstream.JetStream, mutate ...func(*ingest.Config)) *httptest.Server {
	e.t.Helper()
	srv := httptest.NewServer(e.server(nc, js, mutate...).Handler())
	e.t.Cleanup(srv.Close)
	return srv
}

// server returns an ingest Server on nc, wired as cmd/ingest wires it.
func (e *env) server(nc *nats.Conn, js jetstream.JetStream, mutate ...func(*ingest.Config)) *ingest.Server {
	e.t.Helper()
	log := zaptest.NewLogger(e.t)
	if _, ok := e.t.(*testing.B); ok {
		log = zap.NewNop() // a line per push would be what is measured
	}
	cfg := testConfig(e.t, mutate...)
	return ingest.New(cfg, ingest.Deps{
		Publisher:  streams.NewJetStreamPublisher(nc, js),
		Nonces:     ingest.NewJetStreamNonces(js, cfg.NonceWindow()),
		MaxPayload: nc.MaxPayload,
		Ready:      func(ctx context.Context) error { return streams.Check(ctx, js) },
		Logger:     log,
		Registry:   prometheus.NewRegistry(),
	})
}

type reply struct {
	status int
	header http.Header
	raw    []byte
	body   struct {
		ResultCode string `json:"resultcode"`
		ResultDesc string `json:"resultdesc"`
		Errors     []struct {
			Field  string `json:"field"`
			Reason string `json:"reason"`
		} `json:"errors"`
	}
}

func (e *env) post(path string, body []byte, sign func(http.Header)) reply {
	e.t.Helper()
	return e.postTo(e.srv, path, body, sign)
}

func (e *env) postTo(srv *httptest.Server, path string, body []byte, sign func(http.Header)) reply {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	if sign != nil {
		sign(req.Header)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var r reply
	r.status, r.header = resp.StatusCode, resp.Header
	raw, _ := io.ReadAll(resp.Body)
	r.raw = raw
	if err := json.Unmarshal(raw, &r.body); err != nil {
		e.t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, raw)
	}
	return r
}

func signed(h http.Header) {
	(&aksk.Signer{AppKey: appKey, AppSecret: appSecret}).Sign(h)
}

// count is how many records stream holds: in PN_EVENTS, the events, not
// the nonce claims of other pushes (claims counts those).
func (e *env) count(stream string) uint64 {
	e.t.Helper()
	if stream == streams.Events {
		return e.countSubjects(stream, streams.EventSubjectPrefix+">")
	}
	return e.countSubjects(stream, ">")
}

// claims is how many nonce claims PN_EVENTS holds.
func (e *env) claims() uint64 {
	e.t.Helper()
	return e.countSubjects(streams.Events, streams.ClaimSubject)
}

func (e *env) countSubjects(stream, filter string) uint64 {
	e.t.Helper()
	s, err := e.js.Stream(context.Background(), stream)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(filter))
	if err != nil {
		e.t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

func (e *env) lastMsg(stream, subject string) *jetstream.RawStreamMsg {
	e.t.Helper()
	s, err := e.js.Stream(context.Background(), stream)
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(context.Background(), subject)
	if err != nil {
		e.t.Fatalf("last message on %s: %v", subject, err)
	}
	return m
}

func seed(t testing.TB, name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func feeBody(n int, prefix string) []byte {
	recs := make([]string, n)
	for i := range recs {
		recs[i] = fmt.Sprintf(`{"direction":0,"icid":"%s-%d","sessionId":"s-%d","callInTime":"2024-05-01 10:00:00","recordFlag":0}`, prefix, i, i)
	}
	return []byte(`{"eventType":"fee","feeLst":[` + strings.Join(recs, ",") + `]}`)
}

func TestSeedPushesStoredAsReceived(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fee := seed(t, "seed-fee.json")
	if r := e.post(ingest.PathFees, fee, signed); r.status != 200 || r.body.ResultCode != "0" || r.body.ResultDesc != "Success" {
		t.Fatalf("fee push: %d %+v", r.status, r.body)
	}
	event := seed(t, "seed-event.json")
	if r := e.post(ingest.PathNotifications, event, signed); r.status != 200 {
		t.Fatalf("event push: %d %+v", r.status, r.body)
	}

	// The seed's call is recorded (recordFlag 1): its CDR goes on the
	// subject the mirror takes recording jobs from.
	m := e.lastMsg(streams.Fees, streams.RecordedFeeSubject)
	if got := m.Header.Get(nats.MsgIdHdr); got != "fee:ba171f34e6953fcd751edc77127748f4.3757289590.338833305.5" {
		t.Errorf("fee Nats-Msg-Id = %q", got)
	}
	// The message is the record exactly as received, not the whole push.
	start := bytes.Index(fee, []byte(`{`+"\n      \"direction\""))
	end := bytes.LastIndex(fee, []byte("}\n  ]"))
	if start < 0 || end < 0 || !bytes.Equal(m.Data, fee[start:end+1]) {
		t.Errorf("fee message body is not the record as received:\n%s", m.Data)
	}
	ev := e.lastMsg(streams.Events, streams.EventSubject("disconnect"))
	if !bytes.Equal(ev.Data, event) {
		t.Errorf("event message body is not the push as received")
	}
	checkClaimedWith(t, ev, event)
}

// checkClaimedWith checks that m, a single-event push's message, claims the
// push's nonce: its id is a nonce key (16 characters, not the event's
// identity) and it carries the digest of body.
func checkClaimedWith(t *testing.T, m *jetstream.RawStreamMsg, body []byte) {
	t.Helper()
	id, digest := m.Header.Get(nats.MsgIdHdr), m.Header.Get(streams.HeaderPushDigest)
	if len(id) != 16 || strings.HasPrefix(id, "event:") || digest != base64.RawURLEncoding.EncodeToString(nonces.Digest(body)) {
		t.Errorf("event message id %q digest %q, want a nonce key and the body's digest", id, digest)
	}
}

func TestFiftyRecordsRetriedSevenTimes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := feeBody(50, "retry")
	for i := range 7 {
		if r := e.post(ingest.PathFees, body, signed); r.status != 200 {
			t.Fatalf("attempt %d: %d %+v", i, r.status, r.body)
		}
	}
	if n := e.count(streams.Fees); n != 50 {
		t.Errorf("PN_FEES holds %d messages, want 50", n)
	}
}

func TestFiftyOneRecordsRefusedAndKept(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := feeBody(51, "big")
	r := e.post(ingest.PathFees, body, signed)
	if r.status != 400 || len(r.body.Errors) == 0 || r.body.Errors[0].Field != "feeLst" {
		t.Fatalf("51 records: %d %+v", r.status, r.body)
	}
	if n := e.count(streams.Fees); n != 0 {
		t.Errorf("PN_FEES holds %d messages, want 0", n)
	}
	m := e.lastMsg(streams.Rejected, streams.RejectedPrefix+"invalid")
	if !bytes.Equal(m.Data, body) {
		t.Error("rejected message is not the body as received")
	}
	if reason := m.Header.Get(streams.HeaderReason); !strings.Contains(reason, "feeLst") {
		t.Errorf("reason header = %q", reason)
	}
}

func TestAuthenticationFailures(t *testing.T) {
	t.Parallel()
	now := time.Now()
	sign := func(key, secret string, at time.Time) func(http.Header) {
		return func(h http.Header) {
			(&aksk.Signer{AppKey: key, AppSecret: secret, Now: func() time.Time { return at }}).Sign(h)
		}
	}
	tests := []struct {
		name string
		sign func(http.Header)
	}{
		{"unsigned", nil},
		{"wrong signature", sign(appKey, "not-the-secret", now)},
		{"expired created", sign(appKey, appSecret, now.Add(-7*time.Hour))},
		{"garbled header", func(h http.Header) { h.Set("X-AKSK", "UsernameToken garbage") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			body := feeBody(2, "auth")
			if r := e.post(ingest.PathFees, body, tt.sign); r.status != 401 {
				t.Fatalf("status %d %+v, want 401", r.status, r.body)
			}
			if n := e.count(streams.Fees); n != 0 {
				t.Errorf("PN_FEES holds %d, want 0", n)
			}
			m := e.lastMsg(streams.Rejected, streams.RejectedPrefix+"unauthenticated")
			if !bytes.Equal(m.Data, body) || m.Header.Get(streams.HeaderReason) == "" {
				t.Errorf("rejected message %q reason %q", m.Data, m.Header.Get(streams.HeaderReason))
			}
		})
	}

	t.Run("replayed nonce", func(t *testing.T) {
		e := newEnv(t)
		h := http.Header{}
		signed(h)
		replay := func(dst http.Header) {
			for k, v := range h {
				dst[k] = v
			}
		}
		if r := e.post(ingest.PathFees, feeBody(1, "first"), replay); r.status != 200 {
			t.Fatalf("first: %d", r.status)
		}
		body := feeBody(1, "replayed")
		if r := e.post(ingest.PathFees, body, replay); r.status != 401 {
			t.Fatalf("replay: %d %+v, want 401", r.status, r.body)
		}
		if n := e.count(streams.Fees); n != 1 {
			t.Errorf("PN_FEES holds %d, want 1", n)
		}
		if m := e.lastMsg(streams.Rejected, streams.RejectedPrefix+"unauthenticated"); !bytes.Equal(m.Data, body) {
			t.Errorf("replayed body not kept")
		}
	})

	t.Run("legacy WSSE accepted", func(t *testing.T) {
		e := newEnv(t)
		wsse := func(h http.Header) { (&aksk.Signer{AppKey: appKey, AppSecret: appSecret, WSSE: true}).Sign(h) }
		if r := e.post(ingest.PathFees, feeBody(1, "wsse"), wsse); r.status != 200 {
			t.Fatalf("WSSE push: %d %+v", r.status, r.body)
		}
	})
}

func TestInvalidBodiesNameTheField(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, path, body, field string
	}{
		{"malformed JSON", ingest.PathNotifications, `{"eventType":"fee","feeLst":[{`, ""},
		{"identity of the wrong type", ingest.PathFees, `{"eventType":"fee","feeLst":[{"icid":{},"sessionId":"s","callInTime":"2024-01-01 00:00:00"}]}`, "feeLst[0].icid"},
		{"missing required field", ingest.PathFees, `{"eventType":"fee","feeLst":[{"sessionId":"s","callInTime":"2024-01-01 00:00:00"}]}`, "feeLst[0].icid"},
		{"eventType not a token", ingest.PathNotifications, `{"eventType":"hang up","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"}}`, "eventType"},
		{"event timestamp not a time", ingest.PathEvents, `{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":"yesterday"}}`, "statusInfo.timestamp"},
		{"fee on events path", ingest.PathEvents, string(feeBody(1, "x")), "eventType"},
		{"event on fees path", ingest.PathFees, string(seed(t, "seed-event.json")), "eventType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(tt.path, []byte(tt.body), signed)
			if r.status != 400 {
				t.Fatalf("status %d, want 400", r.status)
			}
			if len(r.body.Errors) == 0 || r.body.Errors[0].Field != tt.field {
				t.Errorf("errors = %+v, want field %q", r.body.Errors, tt.field)
			}
			if !strings.Contains(r.body.ResultDesc, tt.field) {
				t.Errorf("resultdesc %q does not name %q", r.body.ResultDesc, tt.field)
			}
		})
	}
	if n := e.count(streams.Rejected); n != uint64(len(tests)) {
		t.Errorf("PN_REJECTED holds %d, want %d", n, len(tests))
	}
	if n := e.count(streams.Fees) + e.count(streams.Events); n != 0 {
		t.Errorf("data streams hold %d, want 0", n)
	}
}

func TestValidRecordsOfAPartlyInvalidPushAreStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := []byte(`{"eventType":"fee","feeLst":[
		{"icid":"good-1","sessionId":"s","callInTime":"2024-01-01 00:00:00"},
		{"icid":"bad","callInTime":"2024-01-01 00:00:00"},
		{"icid":"good-2","sessionId":"s","callInTime":"not a time"}]}`)
	r := e.post(ingest.PathFees, body, signed)
	if r.status != 400 || len(r.body.Errors) != 1 || r.body.Errors[0].Field != "feeLst[1].sessionId" {
		t.Fatalf("%d %+v", r.status, r.body)
	}
	if n := e.count(streams.Fees); n != 2 {
		t.Errorf("PN_FEES holds %d, want the 2 valid records", n)
	}
	if n := e.count(streams.Rejected); n != 1 {
		t.Errorf("PN_REJECTED holds %d, want 1", n)
	}
}

func TestOversizedBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := append([]byte(`{"eventType":"fee","feeLst":[{"icid":"`), bytes.Repeat([]byte("x"), 300<<10)...)
	r := e.post(ingest.PathFees, body, signed)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", r.status)
	}
	// Only the first 4 KiB are kept of a body refused for its size.
	m := e.lastMsg(streams.Rejected, streams.RejectedPrefix+"too_large")
	if m.Header.Get(streams.HeaderTruncated) != "true" || !bytes.Equal(m.Data, body[:ingest.RefusedBodyBytes]) {
		t.Errorf("kept %d bytes, truncated=%q", len(m.Data), m.Header.Get(streams.HeaderTruncated))
	}
}

func TestMethodAndHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	resp, err := http.Get(e.srv.URL + ingest.PathFees)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET push path: %d Allow=%q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	for path, want := range map[string]int{ingest.PathHealthz: 200, ingest.PathReadyz: 200, ingest.PathMetrics: 200, "/nope": 404} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func TestJetStreamUnavailableThenBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := feeBody(10, "outage")
	e.nats.Shutdown()

	r := e.post(ingest.PathFees, body, signed)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("with NATS down: %d Retry-After=%q", r.status, r.header.Get("Retry-After"))
	}
	resp, err := http.Get(e.srv.URL + ingest.PathReadyz)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz with NATS down = %d, want 503", resp.StatusCode)
	}

	e.nats.Restart(t)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return e.nc.IsConnected(), "nats connection " + e.nc.Status().String()
	})
	// The platform retries the same push; it is stored once, even when the
	// retry is itself repeated.
	for range 2 {
		if r := e.post(ingest.PathFees, body, signed); r.status != 200 {
			t.Fatalf("after NATS is back: %d %+v", r.status, r.body)
		}
	}
	if n := e.count(streams.Fees); n != 10 {
		t.Errorf("PN_FEES holds %d, want 10", n)
	}
}

func TestAuthOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *ingest.Config) { c.AppSecret = ""; c.Auth = ingest.AuthOff })
	if r := e.post(ingest.PathFees, feeBody(1, "open"), nil); r.status != 200 {
		t.Fatalf("unsigned push with auth off: %d", r.status)
	}
}
