package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/streams"
)

// captured returns a signed header set and a sign function that copies it
// onto a request: what an attacker holding one captured push can send.
func captured(sign func(http.Header)) func(http.Header) {
	h := http.Header{}
	sign(h)
	return func(dst http.Header) {
		for k, v := range h {
			dst[k] = v
		}
	}
}

// lastRefusal returns the last PN_REJECTED message of a reason class and
// its precise reason.
func (e *env) lastRefusal(class string) (*jetstream.RawStreamMsg, string) {
	e.t.Helper()
	m := e.lastMsg(streams.Rejected, streams.RejectedPrefix+class)
	return m, m.Header.Get(ingest.HeaderRefusal)
}

func TestNoncesSharedByReplicasAndRestarts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	second := e.replica()
	replay := captured(signed)
	original := feeBody(3, "shared")
	if r := e.post(ingest.PathFees, original, replay); r.status != 200 {
		t.Fatalf("original: %d %s", r.status, r.raw)
	}

	// The same headers with another body, on the other replica: a forgery.
	forged := feeBody(3, "forged")
	if r := e.postTo(second, ingest.PathFees, forged, replay); r.status != 401 {
		t.Fatalf("forged body on the second replica: %d %s", r.status, r.raw)
	}
	if m, why := e.lastRefusal("unauthenticated"); why != "nonce_reused" || !bytes.Equal(m.Data, forged) {
		t.Errorf("forgery kept as %q with reason %q", m.Data, why)
	}
	// The platform re-sending the push with its original headers: accepted,
	// stored once.
	if r := e.postTo(second, ingest.PathFees, original, replay); r.status != 200 {
		t.Fatalf("original again on the second replica: %d %s", r.status, r.raw)
	}
	if n := e.count(streams.Fees); n != 3 {
		t.Errorf("PN_FEES holds %d, want the 3 original records once", n)
	}

	// A replica started later (a restarted pod) knows the nonce too.
	third := e.replica()
	if r := e.postTo(third, ingest.PathFees, forged, replay); r.status != 401 {
		t.Fatalf("forged body after a restart: %d %s", r.status, r.raw)
	}
	if n := e.count(streams.Fees) + e.count(streams.Events); n != 3 {
		t.Errorf("data streams hold %d, want 3: a forged record was stored", n)
	}
}

func TestConcurrentBodiesUnderOneNonce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	servers := []*httptest.Server{e.srv, e.replica()}
	replay := captured(signed)
	var wg sync.WaitGroup
	var ok, refused atomic.Int32
	for i := range 10 {
		wg.Go(func() {
			r := e.postTo(servers[i%2], ingest.PathFees, feeBody(1, fmt.Sprintf("race-%d", i)), replay)
			switch r.status {
			case 200:
				ok.Add(1)
			case 401:
				refused.Add(1)
			default:
				t.Errorf("body %d: %d %s", i, r.status, r.raw)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || refused.Load() != 9 {
		t.Errorf("%d accepted and %d refused of 10 bodies under one nonce, want 1 and 9", ok.Load(), refused.Load())
	}
	if n := e.count(streams.Fees); n != 1 {
		t.Errorf("PN_FEES holds %d, want 1", n)
	}
}

func TestCreatedAge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now()
	at := func(d time.Duration) func(http.Header) { return signAt(appKey, appSecret, false, now.Add(d)) }
	tests := []struct {
		name   string
		offset time.Duration
		status int
		why    string
	}{
		{"5 hours old (the 300-minute re-push)", -5 * time.Hour, 200, ""},
		{"7 hours old", -7 * time.Hour, 401, "auth_expired"},
		{"4 minutes in the future", 4 * time.Minute, 200, ""},
		{"10 minutes in the future", 10 * time.Minute, 401, "auth_expired"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(ingest.PathFees, feeBody(1, fmt.Sprint("age-", i)), at(tt.offset))
			if r.status != tt.status {
				t.Fatalf("%d %s, want %d", r.status, r.raw, tt.status)
			}
			if tt.why != "" {
				if _, why := e.lastRefusal("unauthenticated"); why != tt.why {
					t.Errorf("refusal %q, want %q", why, tt.why)
				}
			}
		})
	}
}

func TestSeveralCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *ingest.Config) {
		if err := c.Credentials.Set(appKey + ":rotated-secret, second-app:second-secret"); err != nil {
			t.Fatal(err)
		}
	})
	tests := []struct {
		name, key, secret string
		status            int
	}{
		{"old secret of the rotation", appKey, appSecret, 200},
		{"new secret of the rotation", appKey, "rotated-secret", 200},
		{"second app", "second-app", "second-secret", 200},
		{"second app with the first's secret", "second-app", appSecret, 401},
		{"unknown app", "third-app", "second-secret", 401},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := e.post(ingest.PathFees, feeBody(1, fmt.Sprint("cred-", i)), signAt(tt.key, tt.secret, false, time.Now())); r.status != tt.status {
				t.Fatalf("%d %s, want %d", r.status, r.raw, tt.status)
			}
		})
	}
}

func TestWSSEOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *ingest.Config) { c.WSSE = false })
	if r := e.post(ingest.PathFees, feeBody(1, "wsse-off"), signAt(appKey, appSecret, true, time.Now())); r.status != 401 {
		t.Fatalf("X-WSSE with WSSE off: %d %s", r.status, r.raw)
	}
	if _, why := e.lastRefusal("unauthenticated"); why != "auth_wsse_off" {
		t.Errorf("refusal %q, want auth_wsse_off", why)
	}
	if r := e.post(ingest.PathFees, feeBody(1, "aksk-on"), signed); r.status != 200 {
		t.Fatalf("X-AKSK with WSSE off: %d %s", r.status, r.raw)
	}
}

// TestUnauthorizedAnswersAreIdentical: a client learns nothing from a 401
// (which keys exist, whether its digest or its clock was wrong); only
// PN_REJECTED and the metrics tell the reasons apart.
func TestUnauthorizedAnswersAreIdentical(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now()
	replay := captured(signed)
	if r := e.post(ingest.PathFees, feeBody(1, "replayed-original"), replay); r.status != 200 {
		t.Fatalf("original: %d", r.status)
	}
	tests := []struct {
		name string
		sign func(http.Header)
		why  string
	}{
		{"unknown key", signAt("no-such-app", appSecret, false, now), "auth_unknown_key"},
		{"wrong digest", signAt(appKey, "wrong-secret", false, now), "auth_digest"},
		{"expired", signAt(appKey, appSecret, false, now.Add(-7*time.Hour)), "auth_expired"},
		{"missing", nil, "auth_missing"},
		{"malformed", setHeader("X-AKSK", "UsernameToken junk"), "auth_malformed"},
		{"nonce reused", replay, "nonce_reused"},
	}
	var first []byte
	for _, tt := range tests {
		r := e.post(ingest.PathFees, feeBody(1, strings.ReplaceAll("who-"+tt.name, " ", "-")), tt.sign)
		if r.status != 401 {
			t.Fatalf("%s: %d %s", tt.name, r.status, r.raw)
		}
		if first == nil {
			first = r.raw
		} else if !bytes.Equal(r.raw, first) {
			t.Errorf("%s answered %q, %s answered %q", tt.name, r.raw, tests[0].name, first)
		}
		if _, why := e.lastRefusal("unauthenticated"); why != tt.why {
			t.Errorf("%s: refusal %q, want %q", tt.name, why, tt.why)
		}
	}
	if strings.Contains(string(first), "key") || strings.Contains(string(first), "digest") {
		t.Errorf("401 answer %q says why", first)
	}
	// The metrics tell them apart.
	metrics := e.get(ingest.PathMetrics)
	for _, tt := range tests {
		if line := fmt.Sprintf(`pn_ingest_refused_total{reason=%q} 1`, tt.why); !strings.Contains(metrics, line) {
			t.Errorf("metrics lack %s", line)
		}
	}
	if !strings.Contains(metrics, "pn_ingest_nonce_claim_duration_seconds_count 2") {
		t.Errorf("nonce claim latency not measured (want 2 claims):\n%s", grep(metrics, "nonce"))
	}
}

func (e *env) get(path string) string {
	e.t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grep(s, word string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, word) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// countingListener counts the bytes the server reads from its connections.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	return countingConn{c, l.read}, err
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// TestUnsignedMegabyteCostsLittle: a stranger's 1 MiB body is refused
// after its first 4 KiB, the connection closed rather than drained, and
// PN_REJECTED keeps 4 KiB and headers without any credential.
func TestUnsignedMegabyteCostsLittle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *ingest.Config) { c.MaxBodyBytes = 1 << 20 })
	var read atomic.Int64
	srv := httptest.NewUnstartedServer(e.server(e.nc, e.js, func(c *ingest.Config) { c.MaxBodyBytes = 1 << 20 }).Handler())
	srv.Listener = countingListener{srv.Listener, &read}
	srv.Start()
	t.Cleanup(srv.Close)

	if r := e.postTo(srv, ingest.PathFees, bytes.Repeat([]byte("B"), 1<<20), nil); r.status != 401 {
		t.Fatalf("unsigned 1 MiB: %d %s", r.status, r.raw)
	}
	if n := read.Load(); n > 64<<10 {
		t.Errorf("server read %d bytes of a refused 1 MiB body, want a few KiB", n)
	}
	body := bytes.Repeat([]byte("A"), 1<<20)
	r := e.postTo(srv, ingest.PathFees, body, func(h http.Header) {
		// Credentials of every scheme, all wrong: none may be kept.
		signAt(appKey, "wrong", true, time.Now())(h)
		h.Set("Cookie", "session=s3cr3t")
		h.Set("User-Agent", strings.Repeat("é", 2000)) // cut on a rune boundary
	})
	if r.status != 401 {
		t.Fatalf("wrongly signed 1 MiB: %d %s", r.status, r.raw)
	}
	m, why := e.lastRefusal("unauthenticated")
	if why != "auth_digest" || !bytes.Equal(m.Data, body[:ingest.RefusedBodyBytes]) || m.Header.Get(streams.HeaderTruncated) != "true" {
		t.Errorf("kept %d bytes, truncated=%q, reason %q", len(m.Data), m.Header.Get(streams.HeaderTruncated), why)
	}
	size := 0
	for name, vs := range m.Header {
		for _, v := range vs {
			size += len(name) + len(v) + 4
			if strings.Contains(v, "s3cr3t") || strings.Contains(v, "PasswordDigest") {
				t.Errorf("header %s keeps a credential: %q", name, v)
			}
			if !utf8Valid(v) {
				t.Errorf("header %s cut inside a rune: %q", name, v)
			}
		}
		if n := strings.ToLower(name); strings.Contains(n, "wsse") || strings.Contains(n, "aksk") || strings.Contains(n, "authorization") || strings.Contains(n, "cookie") {
			t.Errorf("credential header %s kept", name)
		}
	}
	if size > 2<<10 {
		t.Errorf("kept %d bytes of headers, want at most 2 KiB", size)
	}
	if m.Header.Get(ingest.HeaderAuthNonce) == "" {
		t.Error("the token's nonce is not kept (needed to trace a replay)")
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestEightMegabytes: a body over the limit is 413 (kept: 4 KiB) whatever
// the NATS server's max_payload (the embedded server has the default,
// 1 MiB), with a length or chunked.
func TestEightMegabytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *ingest.Config) { c.MaxBodyBytes = 1 << 20 })
	if mp := e.nc.MaxPayload(); mp != 1<<20 {
		t.Fatalf("server max_payload %d, want the default 1 MiB", mp)
	}
	body := append(feeBody(1, "eight"), bytes.Repeat([]byte(" "), 8<<20)...)
	for _, chunked := range []bool{false, true} {
		req, err := http.NewRequest(http.MethodPost, e.srv.URL+ingest.PathFees, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if chunked {
			req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body[:8<<20]))) // hides the length
			req.ContentLength = -1
		}
		signed(req.Header)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("8 MiB (chunked %t): %d, want 413", chunked, resp.StatusCode)
		}
		m, why := e.lastRefusal("too_large")
		if why != "too_large" || len(m.Data) != ingest.RefusedBodyBytes {
			t.Errorf("8 MiB (chunked %t): kept %d bytes, reason %q", chunked, len(m.Data), why)
		}
	}
}

// TestTwoMegabytesWithARaisedLimit: with PN_INGEST_MAX_BODY_BYTES above
// the NATS max_payload, a valid push is stored record by record, and an
// invalid one is answered 400 with what fits of it kept, not 503.
func TestTwoMegabytesWithARaisedLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *ingest.Config) { c.MaxBodyBytes = 4 << 20 })
	rec := func(i int) string {
		return record(fmt.Sprintf("two-mb-%d", i), `,"hostName":"`+strings.Repeat("h", 50<<10)+`"`)
	}
	var recs []string
	for i := range 42 {
		recs = append(recs, rec(i))
	}
	valid := fees(recs...)
	if len(valid) < 2<<20 {
		t.Fatalf("body of %d bytes, want 2 MiB", len(valid))
	}
	if r := e.post(ingest.PathFees, valid, signed); r.status != 200 {
		t.Fatalf("valid 2 MiB push: %d %s", r.status, r.raw)
	}
	if n := e.count(streams.Fees); n != 42 {
		t.Errorf("PN_FEES holds %d, want 42", n)
	}

	invalid := append([]byte(`{"eventType":"fee","feeLst":[{"icid":`), bytes.Repeat([]byte("9"), 2<<20)...)
	r := e.post(ingest.PathFees, invalid, signed)
	if r.status != 400 {
		t.Fatalf("invalid 2 MiB body: %d %s", r.status, r.raw)
	}
	m, _ := e.lastRefusal("invalid")
	if m.Header.Get(streams.HeaderTruncated) != "true" || len(m.Data) >= 1<<20 || !bytes.HasPrefix(invalid, m.Data) || len(m.Data) < 1<<19 {
		t.Errorf("kept %d bytes truncated=%q, want the prefix that fits in 1 MiB", len(m.Data), m.Header.Get(streams.HeaderTruncated))
	}
}

func TestRecordOverTheLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var recs []string
	for i := range 50 {
		extra := ""
		if i == 17 {
			extra = `,"hostName":"` + strings.Repeat("x", 100<<10) + `"`
		}
		recs = append(recs, record(fmt.Sprintf("limit-%d", i), extra))
	}
	body := fees(recs...)
	r := e.post(ingest.PathFees, body, signed)
	if r.status != 400 || len(r.body.Errors) != 1 || r.body.Errors[0].Field != "feeLst[17]" {
		t.Fatalf("one 100 KiB record of 50: %d %s", r.status, r.raw)
	}
	if n := e.count(streams.Fees); n != 49 {
		t.Errorf("PN_FEES holds %d, want the 49 others", n)
	}
	if m, why := e.lastRefusal("invalid"); why != "record_too_large" || !bytes.Equal(m.Data, body) {
		t.Errorf("kept %d bytes with reason %q", len(m.Data), why)
	}

	// A call event is one record: over the limit, the body is too large.
	event := []byte(`{"eventType":"callin","statusInfo":{"sessionId":"big-event","timestamp":"2024-05-01 10:00:00","x":"` + strings.Repeat("e", 70<<10) + `"}}`)
	if r := e.post(ingest.PathEvents, event, signed); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("70 KiB call event: %d %s", r.status, r.raw)
	}
	if m, why := e.lastRefusal("too_large"); why != "record_too_large" || len(m.Data) != ingest.RefusedBodyBytes {
		t.Errorf("kept %d bytes with reason %q", len(m.Data), why)
	}
	if n := e.count(streams.Events); n != 0 {
		t.Errorf("PN_EVENTS holds %d, want 0", n)
	}
}

func TestNotReadyUntilProvisioned(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if err := e.js.DeleteStream(ctx, streams.Events); err != nil {
		t.Fatal(err)
	}
	if status, body := e.readyz(); status != http.StatusServiceUnavailable || !strings.Contains(body, "PN_EVENTS") {
		t.Errorf("readyz without the nonce stream: %d %q, want 503 naming PN_EVENTS", status, body)
	}
	// Without the stream a signed push cannot be checked for replays: 503,
	// and nothing is stored.
	if r := e.post(ingest.PathFees, feeBody(1, "no-stream"), signed); r.status != http.StatusServiceUnavailable {
		t.Fatalf("push without the nonce stream: %d %s", r.status, r.raw)
	}
	if n := e.count(streams.Fees); n != 0 {
		t.Errorf("PN_FEES holds %d, want 0", n)
	}
	if _, err := e.js.Stream(ctx, streams.Events); err == nil {
		t.Error("ingest created the nonce stream")
	}
}

// TestNotReadyWhileTheLegacyNonceStreamExists: ingest replicas of an
// earlier version claim nonces in PN_NONCES, which this version does not
// read; while it exists (the recorder's set-up of this version retires
// it), ingest is not ready and refuses pushes, events and fees alike, so
// that no replay slips between the two stores. Once it is gone, pushes go
// through.
func TestNotReadyWhileTheLegacyNonceStreamExists(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.js.CreateStream(ctx, jetstream.StreamConfig{Name: streams.LegacyNonces, Subjects: []string{streams.LegacyNonceSubject}}); err != nil {
		t.Fatal(err)
	}
	if status, body := e.readyz(); status != http.StatusServiceUnavailable || !strings.Contains(body, "PN_NONCES exists") {
		t.Errorf("readyz with PN_NONCES: %d %q, want 503 naming it", status, body)
	}
	if r := e.post(ingest.PathEvents, eventBody("legacy"), signed); r.status != http.StatusServiceUnavailable {
		t.Errorf("event push with PN_NONCES: %d %s, want 503", r.status, r.raw)
	}
	if r := e.post(ingest.PathFees, feeBody(1, "legacy"), signed); r.status != http.StatusServiceUnavailable {
		t.Errorf("fee push with PN_NONCES: %d %s, want 503", r.status, r.raw)
	}
	if n := e.count(streams.Fees) + e.count(streams.Events) + e.claims(); n != 0 {
		t.Errorf("%d messages stored while PN_NONCES exists, want 0", n)
	}
	if err := streams.Provision(ctx, e.js, smallStreams()); err != nil {
		t.Fatal(err)
	}
	if status, body := e.readyz(); status != http.StatusOK {
		t.Errorf("readyz after the retirement: %d %q", status, body)
	}
	if r := e.post(ingest.PathEvents, eventBody("legacy"), signed); r.status != http.StatusOK {
		t.Errorf("event push after the retirement: %d %s", r.status, r.raw)
	}
}

// TestSingleEventPushIsOneMessage: a push of one call event is stored as
// one message of PN_EVENTS that also claims its nonce (its id is the
// nonce's key, not the event's identity), and no separate claim. Its
// headers with another event, or with a fee push, are refused and store
// nothing; the platform's re-push of the same body is accepted and stored
// once; a fee push's nonce refuses an event under it.
func TestSingleEventPushIsOneMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	second := e.replica()
	replay := captured(signed)
	original := eventBody("one-message")
	if r := e.post(ingest.PathEvents, original, replay); r.status != http.StatusOK {
		t.Fatalf("event push: %d %s", r.status, r.raw)
	}
	if n, c := e.count(streams.Events), e.claims(); n != 1 || c != 0 {
		t.Fatalf("PN_EVENTS holds %d events and %d claims, want 1 and 0", n, c)
	}
	m := e.lastMsg(streams.Events, streams.EventSubject("disconnect"))
	if !bytes.Equal(m.Data, original) || m.Header.Get(streams.HeaderPushDigest) == "" ||
		strings.HasPrefix(m.Header.Get(jetstream.MsgIDHeader), "event:") {
		t.Errorf("stored event: id %q digest %q data %q", m.Header.Get(jetstream.MsgIDHeader), m.Header.Get(streams.HeaderPushDigest), m.Data)
	}
	for name, post := range map[string]func() reply{
		"another event":       func() reply { return e.postTo(second, ingest.PathEvents, eventBody("forged"), replay) },
		"a fee push":          func() reply { return e.postTo(second, ingest.PathFees, feeBody(2, "forged"), replay) },
		"any path, an event":  func() reply { return e.post(ingest.PathNotifications, eventBody("forged-any"), replay) },
		"an invalid body too": func() reply { return e.post(ingest.PathEvents, []byte(`{"eventType":"callin"}`), replay) },
	} {
		if r := post(); r.status != http.StatusUnauthorized {
			t.Errorf("%s under the event's nonce: %d %s, want 401", name, r.status, r.raw)
		}
	}
	if r := e.postTo(second, ingest.PathEvents, original, replay); r.status != http.StatusOK {
		t.Errorf("the re-push: %d %s", r.status, r.raw)
	}
	if n, f, c := e.count(streams.Events), e.count(streams.Fees), e.claims(); n != 1 || f != 0 || c != 0 {
		t.Errorf("PN_EVENTS holds %d events and %d claims, PN_FEES %d, want 1, 0, 0", n, c, f)
	}

	feeNonce := captured(signed)
	if r := e.post(ingest.PathFees, feeBody(1, "fee-first"), feeNonce); r.status != http.StatusOK {
		t.Fatalf("fee push: %d %s", r.status, r.raw)
	}
	if r := e.post(ingest.PathEvents, eventBody("after-fee"), feeNonce); r.status != http.StatusUnauthorized {
		t.Errorf("an event under a fee push's nonce: %d %s, want 401", r.status, r.raw)
	}
	if n, c := e.count(streams.Events), e.claims(); n != 1 || c != 1 {
		t.Errorf("PN_EVENTS holds %d events and %d claims, want 1 and 1", n, c)
	}
}

// TestNotReadyWithAShortNonceWindow: a nonce stream that forgets nonces
// before PN_PUSH_MAX_AGE + PN_PUSH_CLOCK_SKEW would let a replay through
// after its window. Ingest is not ready and refuses pushes, including on a
// replica bound to the stream before its window was shortened; set right
// again, it is ready and takes them.
func TestNotReadyWithAShortNonceWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if status, _ := e.readyz(); status != http.StatusOK {
		t.Fatalf("readyz with the provisioned stream: %d", status)
	}
	if r := e.post(ingest.PathFees, feeBody(1, "before"), signed); r.status != http.StatusOK {
		t.Fatalf("push before the change: %d %s", r.status, r.raw)
	}
	cfg := smallStreams()
	window := testConfig(t).NonceWindow()
	cfg.NonceWindow = window - time.Second
	if err := streams.Provision(ctx, e.js, cfg); err != nil {
		t.Fatal(err)
	}
	status, body := e.readyz()
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "nonce window too short") || !strings.Contains(body, "PN_STREAM_NONCE_WINDOW") {
		t.Errorf("readyz with a window of %s (want %s): %d %q", cfg.NonceWindow, window, status, body)
	}
	if r := e.post(ingest.PathFees, feeBody(2, "short-window"), signed); r.status != http.StatusServiceUnavailable {
		t.Errorf("push with a short nonce window: %d %s, want 503", r.status, r.raw)
	}
	// A replica started now refuses too, ready or not.
	replica := e.replica()
	if r := e.postTo(replica, ingest.PathFees, feeBody(3, "short-window-replica"), signed); r.status != http.StatusServiceUnavailable {
		t.Errorf("push to a new replica with a short nonce window: %d %s, want 503", r.status, r.raw)
	}
	if n := e.count(streams.Fees); n != 1 {
		t.Errorf("PN_FEES holds %d, want only the push before the change", n)
	}

	cfg.NonceWindow = window
	if err := streams.Provision(ctx, e.js, cfg); err != nil {
		t.Fatal(err)
	}
	if status, body := e.readyz(); status != http.StatusOK {
		t.Errorf("readyz with a window of %s: %d %q", window, status, body)
	}
	if r := e.post(ingest.PathFees, feeBody(4, "after"), signed); r.status != http.StatusOK {
		t.Errorf("push after the fix: %d %s", r.status, r.raw)
	}
}

// readyz is the env server's readiness answer.
func (e *env) readyz() (int, string) {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL + ingest.PathReadyz)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestInvalidBodyAboveTheStreamsMessageSize: when PN_REJECTED's own max
// message size is below the server's max_payload (an operator raised
// max_payload), a signed invalid body that fits the payload but not the
// stream is still answered 400, with the first 4 KiB kept, not 503.
func TestInvalidBodyAboveTheStreamsMessageSize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	s, err := e.js.Stream(ctx, streams.Rejected)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxMsgSize = 128 << 10
	if _, err := e.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	invalid := append([]byte(`{"eventType":"fee","feeLst":[{"icid":`), bytes.Repeat([]byte("9"), 200<<10)...)
	r := e.post(ingest.PathFees, invalid, signed)
	if r.status != 400 {
		t.Fatalf("invalid 200 KiB body over the stream's 128 KiB: %d %s", r.status, r.raw)
	}
	m, _ := e.lastRefusal("invalid")
	if m.Header.Get(streams.HeaderTruncated) != "true" || len(m.Data) != ingest.RefusedBodyBytes || !bytes.HasPrefix(invalid, m.Data) {
		t.Errorf("kept %d bytes truncated=%q, want the first %d", len(m.Data), m.Header.Get(streams.HeaderTruncated), ingest.RefusedBodyBytes)
	}
}
