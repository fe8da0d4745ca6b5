package platformsim

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/axeapi"
)

const (
	testKey       = "appkey0001"
	testSecret    = "appsecret0001"
	testX1        = "+8613800000001"
	testX2        = "+8613800000002"
	testXShenzhen = "+8675512345678" // landline: area code 0755
	testA1        = "+8613900000001"
	testA2        = "+8613900000002"
)

// apiClock is a settable clock shared by the simulator and its clients.
type apiClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *apiClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *apiClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixedRecordings is the Recordings seam with fixed answers: fileName →
// URL, and "broken.wav" failing inside the simulator.
type fixedRecordings map[string]string

func (s fixedRecordings) DownloadURL(_, fileName string, _ time.Time) (string, error) {
	if fileName == "broken.wav" {
		return "", errors.New("storage unavailable")
	}
	if u, ok := s[fileName]; ok {
		return u, nil
	}
	return "", ErrRecordingNotFound
}

// apiHarness is the simulated API on a TLS test server and a client that
// trusts its certificate through ClientConfig.RootCAs, as it would a
// private CA.
type apiHarness struct {
	t        *testing.T
	srv      *httptest.Server
	clock    *apiClock
	bindings *Bindings
	roots    *x509.CertPool
	fault    atomic.Pointer[axeapi.APIError]
	v2Calls  atomic.Int64 // requests to query v2
	client   *axeapi.Client
}

func newAPIHarness(t *testing.T, recs Recordings) *apiHarness {
	t.Helper()
	h := &apiHarness{t: t, clock: &apiClock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}}
	var err error
	if h.bindings, err = NewBindings("", 4); err != nil {
		t.Fatal(err)
	}
	api := NewAPI(APIConfig{
		AppKey: testKey, AppSecret: testSecret, Now: h.clock.Now,
		Fault: func(r *http.Request) *axeapi.APIError {
			if r.URL.Path == axeapi.PathAXEv2 {
				h.v2Calls.Add(1)
			}
			return h.fault.Load()
		},
		VirtualNumbers: []string{testX1, testX2, testXShenzhen},
	}, h.bindings, recs, zaptest.NewLogger(t))
	h.srv = httptest.NewTLSServer(api)
	t.Cleanup(h.srv.Close)
	h.roots = x509.NewCertPool()
	h.roots.AddCert(h.srv.Certificate())
	h.client = h.newClient(testKey, testSecret, h.clock.Now)
	return h
}

func (h *apiHarness) newClient(key, secret string, now func() time.Time) *axeapi.Client {
	h.t.Helper()
	c, err := axeapi.NewClient(axeapi.ClientConfig{
		BaseURL: h.srv.URL, AppKey: key, AppSecret: secret, RootCAs: h.roots, Now: now,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// raw sends a request as given, signed unless header already carries
// X-AKSK or sign is false, and returns the status, headers and body.
func (h *apiHarness) raw(method, target string, header http.Header, body string, sign bool) (int, http.Header, map[string]any) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+target, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if header == nil {
		header = http.Header{"Content-Type": {axeapi.ContentType}}
	}
	req.Header = header
	if sign {
		(&aksk.Signer{AppKey: testKey, AppSecret: testSecret, Now: h.clock.Now}).Sign(req.Header)
	}
	client := h.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	var m map[string]any
	// Every answer of the API is JSON but the gateway's plain 404.
	if len(b) > 0 && resp.StatusCode != http.StatusNotFound {
		if err := json.Unmarshal(b, &m); err != nil {
			h.t.Fatalf("answer is not a JSON object: %s", b)
		}
	}
	return resp.StatusCode, resp.Header, m
}

func apiInt(n int) *int           { return &n }
func apiStr(s string) *string     { return &s }
func apiFlag(b bool) *axeapi.Flag { f := axeapi.Flag(b); return &f }

// wantResult checks err is an *APIError with code, matching is (if set).
func wantResult(t *testing.T, err error, code string, is error) *axeapi.APIError {
	t.Helper()
	var apiErr *axeapi.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want platform result %s", err, code)
	}
	if apiErr.ResultCode != code {
		t.Errorf("result %s (%s), want %s", apiErr.ResultCode, apiErr.ResultDesc, code)
	}
	if is != nil && !errors.Is(err, is) {
		t.Errorf("errors.Is(%v, %v) = false", err, is)
	}
	return apiErr
}

func TestRoundTrip(t *testing.T) {
	h := newAPIHarness(t, nil)
	ctx := context.Background()
	bound, err := h.client.Bind(ctx, &axeapi.BindRequest{
		VirtualNum: testX1, BindNum: testA1, RecordFlag: true, BindExpiredTime: apiInt(24), UserData: "order-17",
	})
	if err != nil {
		t.Fatal(err)
	}
	if bound.SubscriptionID == "" || bound.VirtualNum != testX1 || bound.ExtendNum != "0001" || bound.BindExpiredTime != 24 {
		t.Fatalf("bind answered %+v", bound)
	}

	byID, err := h.client.Query(ctx, axeapi.BindingRef{SubscriptionID: bound.SubscriptionID})
	if err != nil {
		t.Fatal(err)
	}
	want := axeapi.BindingInfo{
		SubscriptionID: bound.SubscriptionID, VirtualNum: testX1, ExtendNum: "0001", BindNum: testA1,
		DisplayNumMode: "0", RecordFlag: true, TimeUnit: "0", BindExpiredTime: 24, UserData: "order-17",
	}
	if *byID != want {
		t.Errorf("query = %+v\nwant    %+v", *byID, want)
	}
	byPair, err := h.client.Query(ctx, axeapi.BindingRef{VirtualNum: testX1, ExtendNum: "0001"})
	if err != nil || *byPair != want {
		t.Errorf("query by virtualNum+extendNum = %+v, %v", byPair, err)
	}

	err = h.client.Modify(ctx, &axeapi.ModifyRequest{
		SubscriptionID: bound.SubscriptionID, RecordFlag: apiFlag(false), CallbackNum: apiStr(testA2), BindExpiredTime: apiInt(48),
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.client.Query(ctx, axeapi.BindingRef{SubscriptionID: bound.SubscriptionID})
	if err != nil {
		t.Fatal(err)
	}
	if got.RecordFlag || got.CallbackNum != testA2 || got.UserData != "order-17" {
		t.Errorf("after modify: %+v", got)
	}
	// Documented quirk: the bind set the lifetime, so query reports it,
	// while the binding now expires by the modified one.
	if got.BindExpiredTime != 24 {
		t.Errorf("bindExpiredTime after modify = %d, want the bind-time 24", got.BindExpiredTime)
	}
	if b, _ := h.bindings.Get(bound.SubscriptionID); !b.ExpiresAt.Equal(h.clock.Now().Add(48 * time.Hour)) {
		t.Errorf("expires at %v, want 48 h from the modify", b.ExpiresAt)
	}

	_, err = h.client.Bind(ctx, &axeapi.BindRequest{VirtualNum: testX1, BindNum: testA2, ExtendNum: "0001"})
	wantResult(t, err, "1020167", axeapi.ErrExtensionTaken)
	_, err = h.client.Bind(ctx, &axeapi.BindRequest{VirtualNum: testX1, BindNum: testA1})
	wantResult(t, err, "1012008", nil)

	if err := h.client.Unbind(ctx, axeapi.BindingRef{VirtualNum: testX1, ExtendNum: "0001"}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.Query(ctx, axeapi.BindingRef{SubscriptionID: bound.SubscriptionID})
	wantResult(t, err, "1012007", axeapi.ErrNotFound)
	err = h.client.Unbind(ctx, axeapi.BindingRef{SubscriptionID: bound.SubscriptionID})
	wantResult(t, err, "1012007", axeapi.ErrNotFound)
	err = h.client.Modify(ctx, &axeapi.ModifyRequest{SubscriptionID: bound.SubscriptionID, UserData: apiStr("x")})
	wantResult(t, err, "1012007", axeapi.ErrNotFound)
}

func TestBindRefusesInvalidParameters(t *testing.T) {
	h := newAPIHarness(t, nil)
	base := func(mod func(*axeapi.BindRequest)) *axeapi.BindRequest {
		r := &axeapi.BindRequest{VirtualNum: testX1, BindNum: testA1}
		mod(r)
		return r
	}
	for _, tc := range []struct {
		name  string
		req   *axeapi.BindRequest
		field string
	}{
		{"callbackTone with callbackNum", base(func(r *axeapi.BindRequest) { r.CallbackTone, r.CallbackNum = "tone.wav", testA2 }), "callbackTone"},
		{"bad timeUnit", base(func(r *axeapi.BindRequest) { r.TimeUnit = "2" }), "timeUnit"},
		{"721 hours", base(func(r *axeapi.BindRequest) { r.BindExpiredTime = apiInt(721) }), "bindExpiredTime"},
		{"43201 minutes", base(func(r *axeapi.BindRequest) { r.TimeUnit, r.BindExpiredTime = "1", apiInt(43201) }), "bindExpiredTime"},
		{"negative lifetime", base(func(r *axeapi.BindRequest) { r.BindExpiredTime = apiInt(-1) }), "bindExpiredTime"},
		{"callback outlives binding", base(func(r *axeapi.BindRequest) { r.BindExpiredTime, r.CallbackExpiredTime = apiInt(24), apiInt(25) }), "callbackExpiredTime"},
		{"short extension", base(func(r *axeapi.BindRequest) { r.ExtendNum = "12" }), "extendNum"},
		{"zero extension", base(func(r *axeapi.BindRequest) { r.ExtendNum = "0000" }), "extendNum"},
		{"X without +", base(func(r *axeapi.BindRequest) { r.VirtualNum = "13800000001" }), "virtualNum"},
		{"stray spaces", base(func(r *axeapi.BindRequest) { r.BindNum = " " + testA1 }), "bindNum"},
		{"no bindNum", base(func(r *axeapi.BindRequest) { r.BindNum = "" }), "bindNum"},
		{"neither X nor area", base(func(r *axeapi.BindRequest) { r.VirtualNum = "" }), "virtualNum"},
		{"bad displayNumMode", base(func(r *axeapi.BindRequest) { r.DisplayNumMode = "2" }), "displayNumMode"},
		{"bad callbackNum", base(func(r *axeapi.BindRequest) { r.CallbackNum = "12345" }), "callbackNum"},
		{"bad areaMatchMode", base(func(r *axeapi.BindRequest) { r.VirtualNum, r.AreaCode, r.AreaMatchMode = "", "0755", "3" }), "areaMatchMode"},
		{"bad areaCode", base(func(r *axeapi.BindRequest) { r.VirtualNum, r.AreaCode = "", "755" }), "areaCode"},
		{"userData too long", base(func(r *axeapi.BindRequest) { r.UserData = strings.Repeat("u", 257) }), "userData"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.Bind(context.Background(), tc.req)
			e := wantResult(t, err, "1010002", axeapi.ErrInvalidParameter)
			if !strings.Contains(e.ResultDesc, tc.field) || e.HTTPStatus != http.StatusForbidden {
				t.Errorf("HTTP %d %q, want 403 naming %s", e.HTTPStatus, e.ResultDesc, tc.field)
			}
		})
	}
	if got := len(h.bindings.Snapshot(h.clock.Now())); got != 0 {
		t.Errorf("%d bindings stored by refused binds", got)
	}

	_, err := h.client.Bind(context.Background(), &axeapi.BindRequest{VirtualNum: "+8613700000009", BindNum: testA1})
	wantResult(t, err, "1011001", nil)
	ok, err := h.client.Bind(context.Background(), &axeapi.BindRequest{VirtualNum: testX1, BindNum: testA1, TimeUnit: "1", BindExpiredTime: apiInt(43200)})
	if err != nil || ok.BindExpiredTime != 43200 {
		t.Errorf("43200 minutes refused: %+v %v", ok, err)
	}
}

func TestBindByAreaCode(t *testing.T) {
	h := newAPIHarness(t, nil)
	ctx := context.Background()
	got, err := h.client.Bind(ctx, &axeapi.BindRequest{AreaCode: "0755", BindNum: testA1})
	if err != nil || got.VirtualNum != testXShenzhen {
		t.Fatalf("0755 bound %+v, %v; want X %s", got, err, testXShenzhen)
	}
	_, err = h.client.Bind(ctx, &axeapi.BindRequest{AreaCode: "010", BindNum: testA1})
	wantResult(t, err, "1011002", nil)
	got, err = h.client.Bind(ctx, &axeapi.BindRequest{AreaCode: "010", AreaMatchMode: "1", BindNum: testA1})
	if err != nil || got.VirtualNum != testX1 {
		t.Fatalf("loose 010 bound %+v, %v; want the first X", got, err)
	}
}

func TestBindingExpires(t *testing.T) {
	h := newAPIHarness(t, nil)
	ctx := context.Background()
	b, err := h.client.Bind(ctx, &axeapi.BindRequest{VirtualNum: testX1, BindNum: testA1, TimeUnit: "1", BindExpiredTime: apiInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(61 * time.Second)
	_, err = h.client.Query(ctx, axeapi.BindingRef{SubscriptionID: b.SubscriptionID})
	wantResult(t, err, "1012007", axeapi.ErrNotFound)
	again, err := h.client.Bind(ctx, &axeapi.BindRequest{VirtualNum: testX1, BindNum: testA1, ExtendNum: b.ExtendNum})
	if err != nil {
		t.Fatalf("extension of an expired binding not idle: %+v %v", again, err)
	}
}

func TestFlowControlFault(t *testing.T) {
	h := newAPIHarness(t, nil)
	h.fault.Store(&axeapi.APIError{ResultCode: "1010010", ResultDesc: "Flow control"})
	_, err := h.client.Query(context.Background(), axeapi.BindingRef{SubscriptionID: "any"})
	e := wantResult(t, err, "1010010", axeapi.ErrFlowControl)
	if !e.Temporary() || e.RetryAfter() != time.Minute {
		t.Errorf("flow control: temporary %v, retry after %v", e.Temporary(), e.RetryAfter())
	}
	h.fault.Store(nil)
	_, err = h.client.Query(context.Background(), axeapi.BindingRef{SubscriptionID: "any"})
	wantResult(t, err, "1012007", axeapi.ErrNotFound)
}

// TestBindByAreaCodeOnDefaultNumbers: each default X has a city, so an
// areaCode bind on the defaults gets the X of that city; an area code of
// no default X is refused with 1011002 in strict mode.
func TestBindByAreaCodeOnDefaultNumbers(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AppKey, cfg.AppSecret = testKey, testSecret
	cfg.CallRate, cfg.Bindings = 0, 0
	sim, err := New(cfg, Deps{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(sim.Handler())
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	client, err := axeapi.NewClient(axeapi.ClientConfig{BaseURL: srv.URL, AppKey: testKey, AppSecret: testSecret, RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if len(cfg.AreaCodes) != len(cfg.VirtualNumbers) {
		t.Fatalf("area codes %v do not cover the default X numbers %v", cfg.AreaCodes, cfg.VirtualNumbers)
	}
	for _, x := range cfg.VirtualNumbers {
		area := cfg.AreaCodes[x]
		got, err := client.Bind(ctx, &axeapi.BindRequest{AreaCode: area, BindNum: testA1})
		if err != nil || got.VirtualNum != x {
			t.Errorf("areaCode %s bound %+v, %v; want X %s", area, got, err, x)
		}
	}
	_, err = client.Bind(ctx, &axeapi.BindRequest{AreaCode: "0571", BindNum: testA1}) // Hangzhou: no default X
	wantResult(t, err, "1011002", nil)
	_, err = client.Bind(ctx, &axeapi.BindRequest{AreaCode: "0571", AreaMatchMode: "0", BindNum: testA1})
	wantResult(t, err, "1011002", nil)
}
