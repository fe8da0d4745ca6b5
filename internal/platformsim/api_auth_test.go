package platformsim

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/axeapi"
)

func TestAuthHeadersRefused(t *testing.T) {
	h := newAPIHarness(t, nil)
	signed := func() http.Header {
		hd := http.Header{"Content-Type": {axeapi.ContentType}}
		(&aksk.Signer{AppKey: testKey, AppSecret: testSecret, Now: h.clock.Now}).Sign(hd)
		return hd
	}
	token := func(hd http.Header) aksk.UsernameToken {
		tok, err := aksk.ParseUsernameToken(hd.Get(aksk.HeaderAKSK))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, tc := range []struct {
		name   string
		mutate func(http.Header)
		code   string
	}{
		{"no Authorization", func(hd http.Header) { hd.Del("Authorization") }, "1023006"},
		{"WSSE scheme", func(hd http.Header) { hd.Set("Authorization", aksk.AuthorizationWSSE) }, "1023006"},
		{"no realm", func(hd http.Header) { hd.Set("Authorization", `AKSK profile="UsernameToken",type="Appkey"`) }, "1023007"},
		{"no profile", func(hd http.Header) { hd.Set("Authorization", `AKSK realm="SDP",type="Appkey"`) }, "1023008"},
		{"wrong realm", func(hd http.Header) {
			hd.Set("Authorization", `AKSK realm="SDX",profile="UsernameToken",type="Appkey"`)
		}, "1023009"},
		{"wrong profile", func(hd http.Header) { hd.Set("Authorization", `AKSK realm="SDP",profile="Digest",type="Appkey"`) }, "1023010"},
		{"wrong type", func(hd http.Header) {
			hd.Set("Authorization", `AKSK realm="SDP",profile="UsernameToken",type="AppKey"`)
		}, "1023011"},
		{"no type", func(hd http.Header) { hd.Set("Authorization", `AKSK realm="SDP",profile="UsernameToken"`) }, "1023012"},
		{"no X-AKSK", func(hd http.Header) { hd.Del("X-AKSK") }, "1023033"},
		{"X-WSSE instead", func(hd http.Header) { hd.Set("X-WSSE", hd.Get("X-AKSK")); hd.Del("X-AKSK") }, "1023033"},
		{"no Username", func(hd http.Header) { tok := token(hd); tok.Username = ""; hd.Set("X-AKSK", tok.String()) }, "1023034"},
		{"no Nonce", func(hd http.Header) { tok := token(hd); tok.Nonce = ""; hd.Set("X-AKSK", tok.String()) }, "1023035"},
		{"bad Nonce", func(hd http.Header) { tok := token(hd); tok.Nonce = "ab-cd"; hd.Set("X-AKSK", tok.String()) }, "1023035"},
		{"no Created", func(hd http.Header) { tok := token(hd); tok.Created = ""; hd.Set("X-AKSK", tok.String()) }, "1023036"},
		{"no PasswordDigest", func(hd http.Header) { tok := token(hd); tok.PasswordDigest = ""; hd.Set("X-AKSK", tok.String()) }, "1023037"},
		{"no UsernameToken", func(hd http.Header) {
			hd.Set("X-AKSK", strings.TrimPrefix(hd.Get("X-AKSK"), "UsernameToken "))
		}, "1023038"},
		{"forged digest", func(hd http.Header) {
			tok := token(hd)
			tok.PasswordDigest = aksk.AKSKDigest("guessed", tok.Nonce, tok.Created)
			hd.Set("X-AKSK", tok.String())
		}, "1010012"},
		{"unknown app key", func(hd http.Header) {
			tok := token(hd)
			tok.Username = "otherapp"
			hd.Set("X-AKSK", tok.String())
		}, "1010003"},
		{"stale Created", func(hd http.Header) {
			tok := token(hd)
			tok.Created = h.clock.Now().Add(-6 * time.Minute).Format(aksk.CreatedLayout)
			tok.PasswordDigest = aksk.AKSKDigest(testSecret, tok.Nonce, tok.Created)
			hd.Set("X-AKSK", tok.String())
		}, "1010013"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hd := signed()
			tc.mutate(hd)
			status, _, body := h.raw(http.MethodGet, axeapi.PathAXE+"?subscriptionId=x", hd, "", false)
			if body["resultcode"] != tc.code || status != http.StatusBadRequest {
				t.Errorf("HTTP %d %v, want 400 %s", status, body, tc.code)
			}
		})
	}
}

func TestAuthThroughClient(t *testing.T) {
	h := newAPIHarness(t, nil)
	ctx := context.Background()
	ref := axeapi.BindingRef{SubscriptionID: "none"}

	forged := h.newClient(testKey, "not-the-secret", h.clock.Now)
	_, err := forged.Query(ctx, ref)
	wantResult(t, err, "1010012", axeapi.ErrCredentials)

	for _, skew := range []time.Duration{-10 * time.Minute, 10 * time.Minute} {
		stale := h.newClient(testKey, testSecret, func() time.Time { return h.clock.Now().Add(skew) })
		_, err = stale.Query(ctx, ref)
		wantResult(t, err, "1010013", axeapi.ErrClock)
	}
	// Within the window the call is authenticated and reaches the lookup.
	skewed := h.newClient(testKey, testSecret, func() time.Time { return h.clock.Now().Add(-4 * time.Minute) })
	_, err = skewed.Query(ctx, ref)
	wantResult(t, err, "1012007", axeapi.ErrNotFound)
}

func TestNonceReplayRefused(t *testing.T) {
	h := newAPIHarness(t, nil)
	hd := http.Header{"Content-Type": {axeapi.ContentType}}
	(&aksk.Signer{AppKey: testKey, AppSecret: testSecret, Now: h.clock.Now}).Sign(hd)
	if _, _, body := h.raw(http.MethodGet, axeapi.PathAXE+"?subscriptionId=x", hd.Clone(), "", false); body["resultcode"] != "1012007" {
		t.Fatalf("first use: %v", body)
	}
	status, _, body := h.raw(http.MethodGet, axeapi.PathAXE+"?subscriptionId=x", hd.Clone(), "", false)
	if status != http.StatusBadRequest || body["resultcode"] != "1010012" {
		t.Errorf("replay: HTTP %d %v, want 400 1010012", status, body)
	}
}

func TestRequestShapeChecks(t *testing.T) {
	h := newAPIHarness(t, nil)
	status, hdr, _ := h.raw(http.MethodPatch, axeapi.PathAXE, nil, "{}", true)
	if status != http.StatusMethodNotAllowed || !strings.Contains(hdr.Get("Allow"), "PUT") {
		t.Errorf("PATCH: HTTP %d Allow %q", status, hdr.Get("Allow"))
	}
	if status, _, _ := h.raw(http.MethodPost, axeapi.PathRecording, nil, "", true); status != http.StatusMethodNotAllowed {
		t.Errorf("POST recording: HTTP %d", status)
	}
	if status, _, _ := h.raw(http.MethodGet, "/rest/caas/extendnumber/v9.0", nil, "", true); status != http.StatusNotFound {
		t.Errorf("unknown path: HTTP %d", status)
	}
	status, _, body := h.raw(http.MethodGet, axeapi.PathAXE+"?subscriptionId=x", http.Header{}, "", true)
	if status != http.StatusForbidden || body["resultcode"] != "1010002" || !strings.Contains(body["resultdesc"].(string), "Content-Type") {
		t.Errorf("no Content-Type: HTTP %d %v", status, body)
	}
	for _, body := range []string{"[1]", "not json", "null"} {
		if _, _, got := h.raw(http.MethodPost, axeapi.PathAXE, nil, body, true); got["resultcode"] != "1010002" {
			t.Errorf("body %q: %v", body, got)
		}
	}
	// A "+" not sent as %2B arrives as a space and is refused.
	_, _, body = h.raw(http.MethodGet, axeapi.PathAXE+"?virtualNum=+8613800000001&extendNum=0001", nil, "", true)
	if body["resultcode"] != "1010002" || !strings.Contains(body["resultdesc"].(string), "virtualNum") {
		t.Errorf("unescaped +: %v", body)
	}
	_, _, body = h.raw(http.MethodDelete, axeapi.PathAXE+"?virtualNum=%2B8613800000001", nil, "", true)
	if body["resultcode"] != "1010002" || !strings.Contains(body["resultdesc"].(string), "extendNum") {
		t.Errorf("virtualNum without extendNum: %v", body)
	}
}

// TestWireShape checks the raw JSON both ways: lenient on input as the
// platform is, documented names and types on output.
func TestWireShape(t *testing.T) {
	h := newAPIHarness(t, nil)
	in := `{"virtualNum":"` + testX1 + `","bindNum":"` + testA1 + `","recordFlag":true,"displayNumMode":0,"bindExpiredTime":"24","maxDuration":60}`
	status, _, bound := h.raw(http.MethodPost, axeapi.PathAXE, nil, in, true)
	if status != http.StatusOK {
		t.Fatalf("lenient bind: HTTP %d %v", status, bound)
	}
	for field, want := range map[string]any{"resultcode": "0", "resultdesc": "Success", "virtualNum": testX1, "extendNum": "0001",
		"bindExpiredTime": float64(24), "callbackExpiredTime": float64(0)} {
		if bound[field] != want {
			t.Errorf("bind answer %s = %#v, want %#v", field, bound[field], want)
		}
	}
	sid, _ := bound["subscriptionId"].(string)
	_, _, got := h.raw(http.MethodGet, axeapi.PathAXE+"?subscriptionId="+sid, nil, "", true)
	for field, want := range map[string]any{"recordFlag": "true", "displayNumMode": "0", "timeUnit": "0",
		"bindNum": testA1, "bindExpiredTime": float64(24)} {
		if got[field] != want {
			t.Errorf("query answer %s = %#v, want %#v", field, got[field], want)
		}
	}
	if _, wrapped := got["bindInfo"]; wrapped {
		t.Error("query v1 answer wrapped in bindInfo")
	}
	_, _, modified := h.raw(http.MethodPut, axeapi.PathAXE, nil, `{"subscriptionId":"`+sid+`","recordFlag":"false"}`, true)
	if len(modified) != 2 || modified["resultcode"] != "0" {
		t.Errorf("modify answer %v", modified)
	}
}

func TestRecordingURL(t *testing.T) {
	const location = "https://ostor.invalid/sp-appkey/a.wav?Expires=1714567200&Signature=abc%2B"
	h := newAPIHarness(t, fixedRecordings{"a.wav": location})
	ctx := context.Background()
	// The Location host does not resolve: following it would fail.
	u, err := h.client.RecordingURL(ctx, "ostorQH2.huawei.com", "a.wav")
	if err != nil || u.String() != location {
		t.Fatalf("RecordingURL = %v, %v; want %s", u, err, location)
	}
	status, hdr, body := h.raw(http.MethodGet, axeapi.PathRecording+"?recordDomain=d&fileName=a.wav", nil, "", true)
	if status != http.StatusMovedPermanently || hdr.Get("Location") != location || body != nil {
		t.Errorf("raw: HTTP %d Location %q body %v", status, hdr.Get("Location"), body)
	}

	_, err = h.client.RecordingURL(ctx, "ostorQH2.huawei.com", "gone.wav")
	wantResult(t, err, "1012007", axeapi.ErrNotFound)
	_, err = h.client.RecordingURL(ctx, "", "a.wav")
	wantResult(t, err, "1010002", axeapi.ErrInvalidParameter)
	_, err = h.client.RecordingURL(ctx, "d", "")
	wantResult(t, err, "1010002", axeapi.ErrInvalidParameter)
	_, err = h.client.RecordingURL(ctx, "d", "broken.wav")
	e := wantResult(t, err, "1010001", axeapi.ErrInternal)
	if e.HTTPStatus != http.StatusInternalServerError || !e.Temporary() {
		t.Errorf("internal failure: HTTP %d temporary %v", e.HTTPStatus, e.Temporary())
	}

	none := newAPIHarness(t, nil)
	_, err = none.client.RecordingURL(ctx, "d", "a.wav")
	wantResult(t, err, "1012007", axeapi.ErrNotFound)
}
