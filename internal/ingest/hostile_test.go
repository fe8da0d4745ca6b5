package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

// hostileReadTimeout is the ReadTimeout of the hostile matrix's server,
// short so that slow clients are cut quickly.
const hostileReadTimeout = time.Second

// hostile is ingest served by Server.Run, with its real timeouts, on a
// loopback port, over the env's JetStream.
type hostile struct {
	*env
	url    string
	client *http.Client
}

func newHostile(t *testing.T) *hostile {
	t.Helper()
	e := newEnv(t)
	cfg := ingest.DefaultConfig()
	cfg.AppKey, cfg.AppSecret = appKey, appSecret
	cfg.MaxBodyBytes = 256 << 10
	cfg.ReadTimeout, cfg.PublishTimeout, cfg.WriteTimeout = hostileReadTimeout, 2*time.Second, 5*time.Second
	cfg.Complete()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := ingest.New(cfg, ingest.Deps{
		Publisher:  streams.NewJetStreamPublisher(e.nc, e.js),
		Nonces:     ingest.NewJetStreamNonces(e.js, cfg.NonceWindow()),
		MaxPayload: e.nc.MaxPayload,
		Ready:      func(context.Context) error { return nil },
		Logger:     zaptest.NewLogger(t),
		Registry:   prometheus.NewRegistry(),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Go(t, func(ctx context.Context) error { return s.Run(ctx, ln) })
	h := &hostile{env: e, url: "http://" + ln.Addr().String(), client: &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	t.Cleanup(h.client.CloseIdleConnections)
	return h
}

// hostileCase is one request of the matrix and what ingest must do with it.
type hostileCase struct {
	name     string
	method   string // POST when empty
	path     string // PathNotifications when empty
	header   http.Header
	body     []byte
	chunked  bool              // send without Content-Length
	sign     func(http.Header) // nil: signed with X-AKSK; use unsigned for none
	status   int
	field    string // for a 400: the field the first error names
	kept     string // PN_REJECTED reason class the body is kept under; "" = not kept
	stored   uint64 // records of the case stored in PN_FEES, PN_EVENTS and PN_NUMBERS
	storedAs string // Nats-Msg-Id of the last fee stored, when it matters
}

// numStatus returns an X-number status push of n valid items, then extra
// (an item's JSON) when it is not empty.
func numStatus(n int, extra string) []byte {
	items := make([]string, 0, n+1)
	for i := range n {
		items = append(items, fmt.Sprintf(`{"number":"+86170%08d","status":"9","cause":"2"}`, i))
	}
	if extra != "" {
		items = append(items, extra)
	}
	return []byte(`{"eventType":"numStatus","numInfo":[` + strings.Join(items, ",") + `]}`)
}

func unsigned(http.Header) {}

func signAt(key, secret string, wsse bool, at time.Time) func(http.Header) {
	return func(h http.Header) {
		(&aksk.Signer{AppKey: key, AppSecret: secret, WSSE: wsse, Now: func() time.Time { return at }}).Sign(h)
	}
}

func setHeader(name, value string) func(http.Header) {
	return func(h http.Header) { h.Set(name, value) }
}

func record(icid, extra string) string {
	return `{"direction":0,"icid":"` + icid + `","sessionId":"s-` + icid + `","callInTime":"2024-05-01 10:00:00"` + extra + `}`
}

func fees(records ...string) []byte {
	return []byte(`{"eventType":"fee","feeLst":[` + strings.Join(records, ",") + `]}`)
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// hostileCases is the matrix. Every body is distinct: the same body refused
// for the same reason is kept once per duplicate window.
func hostileCases(replayed func(http.Header)) []hostileCase {
	now := time.Now()
	const maxBody = 256 << 10
	exact := fees(record("exact-size", ""))
	exact = append(exact, bytes.Repeat([]byte(" "), maxBody-len(exact))...)
	oversized := append(fees(record("big", `,"x":"`)), bytes.Repeat([]byte("x"), maxBody)...)
	var fifty []string
	for i := range 51 {
		fifty = append(fifty, record(fmt.Sprintf("fifty-one-%d", i), ""))
	}
	// The worst bodies of a size the limit lets through.
	tiny := []byte(`{"eventType":"fee","feeLst":[{}` + strings.Repeat(`,{}`, (maxBody-40)/3) + `]}`)
	var manyKeys strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&manyKeys, `,"k%d":%d`, i, i)
	}
	megabyte := append(fees(record("unsigned-megabyte", `,"x":"`)), bytes.Repeat([]byte("m"), 1<<20)...)
	forged := fees(record("forged-under-captured", `,"x":"`+strings.Repeat("f", 100<<10)+`"`))
	return []hostileCase{
		// Bodies that are not a push: 400, naming the field, kept.
		{name: "empty body", body: []byte{}, status: 400, kept: "invalid"},
		{name: "truncated JSON", body: []byte(`{"eventType":"fee","feeLst":[{"icid":"trunc"`), status: 400, kept: "invalid"},
		{name: "deeply nested JSON", body: []byte(`{"eventType":"fee","feeLst":` + strings.Repeat("[", 20000)), status: 400, kept: "invalid"},
		{name: "array body", body: []byte(`[{"eventType":"fee"}]`), status: 400, kept: "invalid"},
		{name: "null body", body: []byte(`null`), status: 400, field: "eventType", kept: "invalid"},
		{name: "byte order mark", body: append([]byte("\xef\xbb\xbf"), fees(record("bom", ""))...), status: 400, kept: "invalid"},
		{name: "eventType a number", body: []byte(`{"eventType":7,"statusInfo":{}}`), status: 400, field: "eventType", kept: "invalid"},
		{name: "feeLst an object", body: []byte(`{"eventType":"fee","feeLst":{"icid":"obj"}}`), status: 400, field: "feeLst", kept: "invalid"},
		{name: "statusInfo a string", body: []byte(`{"eventType":"callin","statusInfo":"s"}`), status: 400, field: "statusInfo", kept: "invalid"},
		{name: "eventType not a subject token", path: ingest.PathEvents, body: []byte(`{"eventType":"ring.>","statusInfo":{"sessionId":"s","timestamp":"2024-05-01 10:00:00"}}`), status: 400, field: "eventType", kept: "invalid"},
		{name: "no statusInfo", path: ingest.PathEvents, body: []byte(`{"eventType":"answer"}`), status: 400, field: "statusInfo", kept: "invalid"},
		{name: "51 records", path: ingest.PathFees, body: fees(fifty...), status: 400, field: "feeLst", kept: "invalid"},
		{name: "empty feeLst", path: ingest.PathFees, body: []byte(`{"eventType":"fee","feeLst":[]}`), status: 400, field: "feeLst", kept: "invalid"},
		{name: "null feeLst", path: ingest.PathFees, body: []byte(`{"eventType":"fee","feeLst":null}`), status: 400, field: "feeLst", kept: "invalid"},
		{name: "fee on the events path", path: ingest.PathEvents, body: fees(record("wrong-path", "")), status: 400, field: "eventType", kept: "invalid"},
		// X-number status pushes: bounded, refused item by item, only the
		// number refuses one.
		{name: "numStatus of 101 items", path: ingest.PathNumStatus, body: numStatus(101, ""), status: 400, field: "numInfo", kept: "invalid"},
		{name: "numStatus with empty numInfo", path: ingest.PathNumStatus, body: []byte(`{"eventType":"numStatus","numInfo":[]}`), status: 400, field: "numInfo", kept: "invalid"},
		{name: "numStatus number with a space", path: ingest.PathEvents, body: numStatus(1, `{"number":"+86 170","status":"9"}`),
			status: 400, field: "numInfo[1].number", kept: "invalid", stored: 1},
		{name: "numStatus number a JSON number", body: numStatus(1, `{"number":8617000000009,"status":"9"}`),
			status: 400, field: "numInfo[1].number", kept: "invalid", stored: 1},
		{name: "numStatus item deeply nested", path: ingest.PathNumStatus, body: numStatus(0, `{"number":"+8617000000009","x":`+strings.Repeat("[", 20000)+`}`), status: 400, kept: "invalid"},
		{name: "numStatus on the fees path", path: ingest.PathFees, body: numStatus(1, ""), status: 400, field: "eventType", kept: "invalid"},
		{name: "numStatus status an object", path: ingest.PathNumStatus, body: numStatus(0, `{"number":"+8617000000010","status":{"a":[1]},"cause":true}`), status: 200, stored: 1},
		// Bad records: 400 naming the record's field; the push's good
		// records are stored; the body is kept.
		{name: "icid a number", body: fees(`{"icid":12,"sessionId":"s","callInTime":"2024-05-01 10:00:00"}`, record("beside-number", "")),
			status: 400, field: "feeLst[0].icid", kept: "invalid", stored: 1},
		{name: "non-UTF-8 icid", body: fees(record("bad\xff", "")), status: 400, field: "feeLst[0].icid", kept: "invalid"},
		{name: "lone surrogate icid", body: fees(record(`bad\udc00`, "")), status: 400, field: "feeLst[0].icid", kept: "invalid"},
		{name: "control character in icid", body: fees(record(`nul\u0000`, "")), status: 400, field: "feeLst[0].icid", kept: "invalid"},
		{name: "icid of 65 bytes", body: fees(record(strings.Repeat("i", 65), "")), status: 400, field: "feeLst[0].icid", kept: "invalid"},
		// Odd but valid: stored, answered 200, nothing kept. Values not as
		// documented outside the identity are stored as sent (tolerance;
		// they were 400 before).
		{name: "huge float", body: fees(record("huge-float", `,"direction":1e400`)), status: 200, stored: 1},
		{name: "huge integer", body: fees(record("huge-int", `,"ulFailReason":99999999999999999999`)), status: 200, stored: 1},
		{name: "integer with a fraction", body: fees(record("fraction", `,"sipStatusCode":486.5`)), status: 200, stored: 1},
		{name: "time before 1970", body: fees(`{"icid":"old","sessionId":"s","callInTime":"1969-12-31 23:59:59"}`), status: 200, stored: 1},
		{name: "time in another layout", body: fees(`{"icid":"slash","sessionId":"s","callInTime":"2024/05/01 10:00:00"}`), status: 200, stored: 1},
		{name: "undocumented event type", path: ingest.PathEvents, body: []byte(`{"eventType":"ring","statusInfo":{"sessionId":"s","timestamp":"2024-05-01 10:00:00"}}`), status: 200, stored: 1},
		{name: "duplicate keys: the last wins", body: []byte(`{"eventType":"callin","eventType":"fee","feeLst":[` +
			`{"icid":"dup-first","icid":"dup-last","sessionId":"s","callInTime":"2024-05-01 10:00:00"}]}`), status: 200, stored: 1, storedAs: "fee:dup-last"},
		{name: "non-UTF-8 outside identities", body: fees(record("caller-bytes", ",\"callerNum\":\"+86\xff\"")), status: 200, stored: 1},
		{name: "deep nesting in an unknown field", body: fees(record("deep-extra", `,"x":`+strings.Repeat("[", 500)+strings.Repeat("]", 500))), status: 200, stored: 1},
		{name: "text/plain content type", header: http.Header{"Content-Type": {"text/plain"}}, body: fees(record("text-plain", "")), status: 200, stored: 1},
		{name: "body of exactly the limit", body: exact, status: 200, stored: 1},
		{name: "form content type", header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, body: []byte("icid=form&eventType=fee"), status: 400, kept: "invalid"},
		{name: "gzip body", header: http.Header{"Content-Encoding": {"gzip"}}, body: gzipped(fees(record("gz", ""))), status: 400, kept: "invalid"},
		// Too large: 413, the first MaxBodyBytes kept.
		{name: "oversized body", body: oversized, status: 413, kept: "too_large"},
		{name: "oversized chunked body", body: append([]byte("chunked"), oversized...), chunked: true, status: 413, kept: "too_large"},
		// Authentication: 401, kept.
		{name: "no auth headers", body: fees(record("unsigned", "")), sign: unsigned, status: 401, kept: "unauthenticated"},
		{name: "garbled X-AKSK", body: fees(record("garbled", "")), sign: setHeader("X-AKSK", "UsernameToken garbage"), status: 401, kept: "unauthenticated"},
		{name: "X-AKSK attribute twice", body: fees(record("twice", "")), sign: setHeader("X-AKSK",
			`UsernameToken Username="test-app",Username="test-app",PasswordDigest="d",Nonce="n1",Created="2024-05-01T10:00:00Z"`), status: 401, kept: "unauthenticated"},
		{name: "X-AKSK nonce of 129 characters", body: fees(record("long-nonce", "")), sign: setHeader("X-AKSK",
			`UsernameToken Username="test-app",PasswordDigest="d",Nonce="`+strings.Repeat("n", 129)+`",Created="2024-05-01T10:00:00Z"`), status: 401, kept: "unauthenticated"},
		{name: "X-AKSK Created not a time", body: fees(record("created-word", "")), sign: func(h http.Header) {
			t := aksk.UsernameToken{Username: appKey, Nonce: "abc1", Created: "yesterday"}
			t.PasswordDigest = aksk.AKSKDigest(appSecret, t.Nonce, t.Created)
			h.Set("X-AKSK", t.String())
		}, status: 401, kept: "unauthenticated"},
		{name: "X-AKSK wrong secret", body: fees(record("wrong-secret", "")), sign: signAt(appKey, "not-it", false, now), status: 401, kept: "unauthenticated"},
		{name: "X-AKSK wrong app key", body: fees(record("wrong-key", "")), sign: signAt("other-app", appSecret, false, now), status: 401, kept: "unauthenticated"},
		{name: "X-AKSK 7 hours old", body: fees(record("expired", "")), sign: signAt(appKey, appSecret, false, now.Add(-7*time.Hour)), status: 401, kept: "unauthenticated"},
		{name: "X-AKSK 5 hours old (a late re-push)", body: fees(record("five-hours", "")), sign: signAt(appKey, appSecret, false, now.Add(-5*time.Hour)), status: 200, stored: 1},
		{name: "X-AKSK from a clock 6 min ahead", body: fees(record("future", "")), sign: signAt(appKey, appSecret, false, now.Add(6*time.Minute)), status: 401, kept: "unauthenticated"},
		{name: "X-AKSK from a clock 4 min ahead", body: fees(record("near-future", "")), sign: signAt(appKey, appSecret, false, now.Add(4*time.Minute)), status: 200, stored: 1},
		{name: "X-AKSK replayed", body: fees(record("replayed", "")), sign: replayed, status: 401, kept: "unauthenticated"},
		{name: "garbled X-WSSE", body: fees(record("wsse-garbled", "")), sign: setHeader("X-WSSE", `UsernameToken Username=`), status: 401, kept: "unauthenticated"},
		{name: "X-WSSE wrong secret", body: fees(record("wsse-secret", "")), sign: signAt(appKey, "not-it", true, now), status: 401, kept: "unauthenticated"},
		{name: "X-WSSE expired", body: fees(record("wsse-expired", "")), sign: signAt(appKey, appSecret, true, now.Add(-7*time.Hour)), status: 401, kept: "unauthenticated"},
		{name: "X-WSSE digest used as X-AKSK", body: fees(record("scheme-swap", "")), sign: func(h http.Header) {
			signAt(appKey, appSecret, true, now)(h)
			h.Set("X-AKSK", h.Get("X-WSSE"))
			h.Del("X-WSSE")
		}, status: 401, kept: "unauthenticated"},
		{name: "garbled X-AKSK beside a valid X-WSSE", body: fees(record("both", "")), sign: func(h http.Header) {
			signAt(appKey, appSecret, true, now)(h)
			h.Set("X-AKSK", "UsernameToken nonsense")
		}, status: 401, kept: "unauthenticated"},
		// Hostile bodies: bounded work, bounded keeping.
		{name: "unsigned 1 MiB", body: megabyte, sign: unsigned, status: 401, kept: "unauthenticated"},
		{name: "forged body under captured headers", body: forged, sign: replayed, status: 401, kept: "unauthenticated"},
		{name: "many tiny records", path: ingest.PathFees, body: tiny, status: 400, field: "feeLst", kept: "invalid"},
		// Deeper than encoding/json's 10,000 levels: the body is not JSON
		// any consumer could parse, so the whole push is refused.
		{name: "deep nesting in a record", body: fees(record("deep-record", `,"x":`+strings.Repeat("[", 30000)+strings.Repeat("]", 30000)), record("beside-deep", "")),
			status: 400, kept: "invalid"},
		{name: "huge string", body: fees(record("huge-string", `,"hostName":"`+strings.Repeat("s", 200<<10)+`"`)), status: 400, field: "feeLst[0]", kept: "invalid"},
		{name: "many keys", body: fees(record("many-keys", manyKeys.String())), status: 200, stored: 1},
		{name: "oversized record beside a valid one", body: fees(record("valid-beside", ""), record("oversized-record", `,"x":"`+strings.Repeat("o", 100<<10)+`"`)),
			status: 400, field: "feeLst[1]", kept: "invalid", stored: 1},
		{name: "oversized call event", path: ingest.PathEvents, body: []byte(`{"eventType":"answer","statusInfo":{"sessionId":"s-big","timestamp":"2024-05-01 10:00:00","x":"` +
			strings.Repeat("e", 70<<10) + `"}}`), status: 413, kept: "too_large"},
		// Paths and methods: answered, nothing kept or stored.
		{name: "unknown path", path: "/v1/notifications/other", body: fees(record("path", "")), status: 404},
		{name: "path with a typo", path: "/v1/notification", body: fees(record("typo", "")), status: 404},
		{name: "path with dot segments", path: "/v1/notifications/events/../fees", body: fees(record("dots", "")), status: http.StatusTemporaryRedirect},
		{name: "GET on a push path", method: http.MethodGet, path: ingest.PathFees, status: 405},
		{name: "PUT on a push path", method: http.MethodPut, body: fees(record("put", "")), status: 405},
		{name: "DELETE on a push path", method: http.MethodDelete, path: ingest.PathEvents, status: 405},
		{name: "OPTIONS on a push path", method: http.MethodOptions, status: 405},
		{name: "POST on /healthz", path: ingest.PathHealthz, body: fees(record("healthz", "")), status: 405},
		{name: "headers over 64 KiB", header: http.Header{"X-Junk": {strings.Repeat("j", 80<<10)}}, body: fees(record("big-header", "")), status: 431},
	}
}

// TestHostileInputMatrix sends every case of the matrix, each followed by a
// valid push, and checks the answer, what is kept in PN_REJECTED, what is
// stored, and that the valid push after it is stored.
func TestHostileInputMatrix(t *testing.T) {
	t.Parallel()
	h := newHostile(t)
	// A push whose signature is then replayed.
	replayHeader := http.Header{}
	signed(replayHeader)
	if r := h.send(hostileCase{name: "original of the replay", body: fees(record("replay-original", "")), sign: func(dst http.Header) {
		for k, v := range replayHeader {
			dst[k] = v
		}
	}}); r.status != 200 {
		t.Fatalf("original of the replay: %d", r.status)
	}
	replayed := func(dst http.Header) {
		for k, v := range replayHeader {
			dst[k] = v
		}
	}
	cases := hostileCases(replayed)
	if len(cases) < 30 {
		t.Fatalf("%d cases, want at least 30", len(cases))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stored := h.count(streams.Fees) + h.count(streams.Events) + h.count(streams.Numbers)
			rejected := h.count(streams.Rejected)
			r := h.send(c)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.raw)
			}
			if c.status == 400 && c.field != "" && (len(r.body.Errors) == 0 || r.body.Errors[0].Field != c.field) {
				t.Errorf("errors %+v, want field %q first", r.body.Errors, c.field)
			}
			if got := h.count(streams.Fees) + h.count(streams.Events) + h.count(streams.Numbers) - stored; got != c.stored {
				t.Errorf("%d records stored, want %d", got, c.stored)
			}
			if c.storedAs != "" {
				if id := h.lastMsg(streams.Fees, streams.FeeSubject).Header.Get(nats.MsgIdHdr); id != c.storedAs {
					t.Errorf("stored as %q, want %q", id, c.storedAs)
				}
			}
			h.checkKept(t, c, h.count(streams.Rejected)-rejected)

			// Valid traffic goes on.
			before := h.count(streams.Fees)
			if r := h.send(hostileCase{body: fees(record(fmt.Sprintf("valid-after-%d", i), ""))}); r.status != 200 {
				t.Fatalf("valid push after %q: %d %s", c.name, r.status, r.raw)
			}
			if n := h.count(streams.Fees); n != before+1 {
				t.Errorf("valid push after %q: PN_FEES %d, want %d", c.name, n, before+1)
			}
		})
	}
}

// checkKept checks what the case left in PN_REJECTED: nothing, or its body
// (its first MaxBodyBytes when too large) under its reason class.
func (h *hostile) checkKept(t *testing.T, c hostileCase, added uint64) {
	t.Helper()
	if c.kept == "" {
		if added != 0 {
			t.Errorf("%d bodies kept in PN_REJECTED, want none", added)
		}
		return
	}
	if added != 1 {
		t.Fatalf("%d bodies kept in PN_REJECTED, want 1", added)
	}
	m := h.lastMsg(streams.Rejected, streams.RejectedPrefix+c.kept)
	want := c.body
	if c.kept != "invalid" && len(want) > ingest.RefusedBodyBytes {
		// 401 and 413 keep the first 4 KiB.
		want = c.body[:ingest.RefusedBodyBytes]
		if m.Header.Get(streams.HeaderTruncated) != "true" {
			t.Error("truncated body kept without Pn-Truncated")
		}
	}
	for name := range m.Header {
		if n := strings.ToLower(name); strings.Contains(n, "aksk") || strings.Contains(n, "wsse") || strings.Contains(n, "authorization") {
			t.Errorf("credential header %s kept", name)
		}
	}
	if !bytes.Equal(m.Data, want) {
		t.Errorf("kept %d bytes, not the body as received (%d bytes)", len(m.Data), len(want))
	}
	if m.Header.Get(streams.HeaderReason) == "" || m.Header.Get(streams.HeaderStatus) != fmt.Sprint(c.status) {
		t.Errorf("kept without its reason and status: %v", m.Header)
	}
}

type hostileReply struct {
	status int
	raw    []byte
	body   struct {
		ResultCode string `json:"resultcode"`
		Errors     []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
}

func (h *hostile) send(c hostileCase) hostileReply {
	h.t.Helper()
	method, path := c.method, c.path
	if method == "" {
		method = http.MethodPost
	}
	if path == "" {
		path = ingest.PathNotifications
	}
	var body io.Reader = bytes.NewReader(c.body)
	if c.chunked {
		body = io.MultiReader(body) // hides the length: sent chunked
	}
	req, err := http.NewRequest(method, h.url+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	for k, v := range c.header {
		req.Header[k] = v
	}
	if c.sign == nil {
		signed(req.Header)
	} else {
		c.sign(req.Header)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s: %v", c.name, err)
	}
	defer resp.Body.Close()
	r := hostileReply{status: resp.StatusCode}
	r.raw, _ = io.ReadAll(resp.Body)
	if resp.StatusCode == 200 || resp.StatusCode == 400 || resp.StatusCode == 401 || resp.StatusCode == 413 {
		if err := json.Unmarshal(r.raw, &r.body); err != nil {
			h.t.Errorf("%s: answer %d is not JSON: %q", c.name, resp.StatusCode, r.raw)
		}
	}
	return r
}

// TestSlowClientsAreCutAndValidTrafficFlows holds slow-loris connections
// (headers or body trickled a byte at a time) open against ingest: each is
// closed once ReadTimeout passes, and valid pushes are stored meanwhile.
//
// Not parallel: it bounds how long ingest takes to answer and to cut.
func TestSlowClientsAreCutAndValidTrafficFlows(t *testing.T) {
	h := newHostile(t)
	addr := strings.TrimPrefix(h.url, "http://")
	starts := map[string]string{
		"slow headers": "POST /v1/notifications HTTP/1.1\r\nHost: ingest\r\nX-Slow: ",
		"slow body":    "POST /v1/notifications HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
	}
	const perKind = 10
	var wg sync.WaitGroup
	cut := make(chan time.Duration, 2*perKind)
	for name, start := range starts {
		for range perKind {
			wg.Go(func() {
				d, err := trickle(addr, start)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
				cut <- d
			})
		}
	}
	// Meanwhile valid pushes are answered 200 promptly (in milliseconds;
	// the bound leaves room for a loaded machine).
	for i := range 20 {
		t0 := time.Now()
		if r := h.send(hostileCase{body: fees(record(fmt.Sprintf("beside-slow-%d", i), ""))}); r.status != 200 {
			t.Fatalf("valid push %d beside slow clients: %d %s", i, r.status, r.raw)
		}
		if d := time.Since(t0); d > 2*hostileReadTimeout {
			t.Errorf("valid push %d took %s beside slow clients, want well under %s", i, d, 2*hostileReadTimeout)
		}
	}
	wg.Wait()
	close(cut)
	for d := range cut {
		if d > 3*hostileReadTimeout {
			t.Errorf("a slow client was cut after %s, want about ReadTimeout (%s)", d, hostileReadTimeout)
		}
	}
	if n := h.count(streams.Fees); n != 20 {
		t.Errorf("PN_FEES holds %d, want the 20 valid pushes", n)
	}
}

// trickle writes start, then one byte every 100 ms, until the server
// closes the connection, and returns how long that took. It gives up after
// 10 s.
func trickle(addr, start string) (time.Duration, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	t0 := time.Now()
	if _, err := conn.Write([]byte(start)); err != nil {
		return 0, err
	}
	// Read in the background: the server's close (or an answer and then a
	// close) ends the read.
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_, _ = io.Copy(io.Discard, conn)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for time.Since(t0) < 10*time.Second {
		select {
		case <-closed:
			return time.Since(t0), nil
		case <-tick.C:
			if _, err := conn.Write([]byte("a")); err != nil {
				<-closed
				return time.Since(t0), nil
			}
		}
	}
	conn.Close()
	<-closed
	return 0, fmt.Errorf("connection still open after %s", time.Since(t0))
}
