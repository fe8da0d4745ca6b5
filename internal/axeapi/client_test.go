package axeapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/aksk"
)

// The round trip against the simulator, with every error path, is in
// internal/platformsim/api_test.go. These tests pin what the client puts
// on the wire and how it reads answers.

type recorded struct {
	method, path, rawQuery string
	header                 http.Header
	body                   map[string]json.RawMessage
}

// wireServer records each request and answers with answer.
func wireServer(t *testing.T, status int, answer string) (*Client, *[]recorded) {
	t.Helper()
	var got []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recorded{method: r.Method, path: r.URL.Path, rawQuery: r.URL.RawQuery, header: r.Header.Clone()}
		if b, _ := io.ReadAll(r.Body); len(b) > 0 {
			if err := json.Unmarshal(b, &rec.body); err != nil {
				t.Errorf("request body is not a JSON object: %s", b)
			}
		}
		got = append(got, rec)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(ClientConfig{BaseURL: srv.URL, AppKey: "key", AppSecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	return c, &got
}

func TestClientWireFormat(t *testing.T) {
	ctx := context.Background()
	c, got := wireServer(t, 200, `{"resultcode":"0","resultdesc":"Success","subscriptionId":"s1","virtualNum":"+8613800000000","extendNum":"0001","bindExpiredTime":24,"callbackExpiredTime":0}`)
	hours := 24
	if _, err := c.Bind(ctx, &BindRequest{VirtualNum: "+8613800000000", BindNum: "+8613900000000", BindExpiredTime: &hours}); err != nil {
		t.Fatal(err)
	}
	if err := c.Unbind(ctx, BindingRef{VirtualNum: "+8613800000000", ExtendNum: "0001"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(ctx, BindingRef{SubscriptionID: "s1"}); err != nil {
		t.Fatal(err)
	}
	on := Flag(true)
	if err := c.Modify(ctx, &ModifyRequest{SubscriptionID: "s1", RecordFlag: &on}); err != nil {
		t.Fatal(err)
	}

	want := []struct{ method, rawQuery string }{
		{"POST", ""},
		{"DELETE", "extendNum=0001&virtualNum=%2B8613800000000"},
		{"GET", "subscriptionId=s1"},
		{"PUT", ""},
	}
	if len(*got) != len(want) {
		t.Fatalf("%d requests, want %d", len(*got), len(want))
	}
	v := aksk.NewVerifier("key", "secret", time.Minute, 0, nil)
	for i, r := range *got {
		if r.method != want[i].method || r.path != PathAXE || r.rawQuery != want[i].rawQuery {
			t.Errorf("request %d: %s %s?%s, want %s %s?%s", i, r.method, r.path, r.rawQuery, want[i].method, PathAXE, want[i].rawQuery)
		}
		if ct := r.header.Get("Content-Type"); ct != ContentType {
			t.Errorf("request %d: Content-Type %q", i, ct)
		}
		if a := r.header.Get(aksk.HeaderAuthorization); a != aksk.AuthorizationAKSK {
			t.Errorf("request %d: Authorization %q", i, a)
		}
		if _, err := v.VerifyOnce(r.header); err != nil {
			t.Errorf("request %d: X-AKSK: %v", i, err)
		}
	}
	bind := (*got)[0].body
	for field, want := range map[string]string{
		"virtualNum": `"+8613800000000"`, "bindNum": `"+8613900000000"`,
		"recordFlag": `"false"`, "bindExpiredTime": `24`,
	} {
		if string(bind[field]) != want {
			t.Errorf("bind %s = %s, want %s", field, bind[field], want)
		}
	}
	for _, absent := range []string{"areaCode", "extendNum", "callbackTone", "callbackNum", "callbackExpiredTime", "timeUnit"} {
		if _, ok := bind[absent]; ok {
			t.Errorf("bind sends empty %s", absent)
		}
	}
	modify := (*got)[3].body
	if len(modify) != 2 || string(modify["recordFlag"]) != `"true"` || string(modify["subscriptionId"]) != `"s1"` {
		t.Errorf("modify body %v, want only subscriptionId and recordFlag \"true\"", modify)
	}
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		status int
		answer string
		is     error
		code   string
	}{
		{"string code", 403, `{"resultcode":"1012007","resultdesc":"The record does not exist"}`, ErrNotFound, "1012007"},
		{"numeric code", 403, `{"resultcode":1010010,"resultdesc":"flow control"}`, ErrFlowControl, "1010010"},
		{"code on a 200", 200, `{"resultcode":"1020167","resultdesc":"No idle extend Number"}`, ErrExtensionTaken, "1020167"},
		{"gateway 502", 502, `<html>bad gateway</html>`, ErrInternal, ""},
		{"200 without code", 200, `{}`, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := wireServer(t, tc.status, tc.answer)
			_, err := c.Query(ctx, BindingRef{SubscriptionID: "s"})
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an *APIError", err)
			}
			if apiErr.ResultCode != tc.code || apiErr.HTTPStatus != tc.status {
				t.Errorf("code %q status %d, want %q %d", apiErr.ResultCode, apiErr.HTTPStatus, tc.code, tc.status)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
		})
	}
}

func TestAPIErrorRetry(t *testing.T) {
	flow := &APIError{ResultCode: "1010010"}
	if !flow.Temporary() || flow.RetryAfter() != time.Minute {
		t.Errorf("flow control: temporary %v, retry after %v", flow.Temporary(), flow.RetryAfter())
	}
	internal := &APIError{ResultCode: "1023002", HTTPStatus: 500}
	if !internal.Temporary() || internal.RetryAfter() != 0 {
		t.Errorf("internal: temporary %v, retry after %v", internal.Temporary(), internal.RetryAfter())
	}
	for _, code := range []string{"1010002", "1012007", "1023006", "1010013", "1020167"} {
		if e := (&APIError{ResultCode: code}); e.Temporary() {
			t.Errorf("%s is temporary", code)
		}
	}
	if !errors.Is(&APIError{ResultCode: "1023035"}, ErrCredentials) || !errors.Is(&APIError{ResultCode: "1010013"}, ErrClock) {
		t.Error("credential and clock categories not matched")
	}
}

func TestMeaningCoversCategories(t *testing.T) {
	for code := range codeCategory {
		if Meaning(code) == "" {
			t.Errorf("no meaning for %s", code)
		}
	}
	if Meaning("999") != "" {
		t.Error("meaning for an unknown code")
	}
}

func TestFlagJSON(t *testing.T) {
	for in, want := range map[string]Flag{`"true"`: true, `true`: true, `"false"`: false, `false`: false, `null`: false} {
		var f Flag
		if err := json.Unmarshal([]byte(in), &f); err != nil || f != want {
			t.Errorf("%s: %v %v", in, f, err)
		}
	}
	var f Flag
	if err := json.Unmarshal([]byte(`"yes"`), &f); err == nil {
		t.Error(`"yes" accepted`)
	}
	if b, _ := json.Marshal(Flag(true)); string(b) != `"true"` {
		t.Errorf("marshal: %s", b)
	}
}

func TestClientConfigValidate(t *testing.T) {
	err := ClientConfig{BaseURL: "http://platform.example.com", Timeout: -1}.Validate()
	for _, want := range []string{"app key", "app secret", "negative", "https"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	ok := ClientConfig{BaseURL: "http://127.0.0.1:9000", AppKey: "k", AppSecret: "s"}
	if err := ok.Validate(); err != nil {
		t.Errorf("loopback http refused: %v", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok.CAFile = ca
	if _, err := NewClient(ok); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("NewClient with a bad CA file: %v", err)
	}
	if strings.Contains(ClientConfig{AppSecret: "hunter2"}.Validate().Error(), "hunter2") {
		t.Error("Validate prints the secret")
	}
}

// The record-URL API answers with a signed URL, a bearer secret: no error
// of the client quotes it, whatever the answer's shape, and a base URL's
// credentials are not printed either.
func TestClientErrorsCarryNoSignedURL(t *testing.T) {
	const token = "SIGNED-TOKEN-51c2"
	for _, tc := range []struct {
		name     string
		status   int
		location string
		body     string
	}{
		{"unparsable Location", http.StatusMovedPermanently, "https://rec.example.com/%zz.wav?Signature=" + token, ""},
		{"302 page quoting the URL", http.StatusFound, "", `<a href="https://rec.example.com/a.wav?Signature=` + token + `">moved</a>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tc.location != "" {
					w.Header()["Location"] = []string{tc.location}
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c, err := NewClient(ClientConfig{BaseURL: srv.URL, AppKey: "key", AppSecret: "secret"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.RecordingURL(context.Background(), "rec.example.com", "a.wav")
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error carries the signed URL: %v", err)
			}
			if !strings.Contains(err.Error(), "rec.example.com") {
				t.Errorf("error %q no longer says where", err)
			}
		})
	}
	_, err := NewClient(ClientConfig{BaseURL: "https://user:" + token + "@platform.example.com", AppKey: "k", AppSecret: "s"})
	if err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("base URL with credentials: %v", err)
	}
}
