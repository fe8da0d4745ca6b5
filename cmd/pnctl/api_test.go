package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/platformsim"
)

const (
	ctlKey    = "ctlappkey"
	ctlSecret = "ctlappsecret"
	ctlX      = "+8613800000011"
	ctlA      = "+8613900000011"
)

type ctlRecordings struct{}

func (ctlRecordings) DownloadURL(_, fileName string, _ time.Time) (string, error) {
	if fileName == "call.wav" {
		return "https://ostor.invalid/call.wav?sig=1", nil
	}
	return "", platformsim.ErrRecordingNotFound
}

// simulator starts the simulated API over TLS and returns the flags that
// reach it: credentials, base URL and the CA file of its certificate.
func simulator(t *testing.T) []string {
	t.Helper()
	b, err := platformsim.NewBindings("", 4)
	if err != nil {
		t.Fatal(err)
	}
	return simulatorOn(t, b, nil)
}

// simulatorOn serves the simulated API over the bindings b; requests, when
// set, counts the requests by path.
func simulatorOn(t *testing.T, b *platformsim.Bindings, requests *sync.Map) []string {
	t.Helper()
	var api http.Handler = platformsim.NewAPI(platformsim.APIConfig{AppKey: ctlKey, AppSecret: ctlSecret, VirtualNumbers: []string{ctlX}},
		b, ctlRecordings{}, zaptest.NewLogger(t))
	if requests != nil {
		inner := api
		api = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := requests.LoadOrStore(r.URL.Path, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			inner.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewUnstartedServer(api)
	// The untrusted-certificate case makes the server log its handshake error.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--api-base-url", srv.URL, "--app-key", ctlKey, "--app-secret", ctlSecret, "--api-ca-file", ca}
}

func ctl(t *testing.T, conn []string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	full := append([]string{args[0]}, conn...)
	full = append(full, args[1:]...)
	err := run(context.Background(), full, &out)
	return out.String(), err
}

func TestAPICommands(t *testing.T) {
	conn := simulator(t)

	out, err := ctl(t, conn, "bind", "--virtual-num", ctlX, "--bind-num", ctlA, "--record", "--bind-expired-time", "24", "--json")
	if err != nil {
		t.Fatalf("bind: %v\n%s", err, out)
	}
	var bound axeapi.BindResponse
	if err := json.Unmarshal([]byte(out), &bound); err != nil || bound.ExtendNum != "0001" || bound.BindExpiredTime != 24 {
		t.Fatalf("bind --json printed %s (%v)", out, err)
	}

	out, err = ctl(t, conn, "query", bound.SubscriptionID)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	for _, want := range []string{bound.SubscriptionID, ctlA, "recordFlag", "true", "0 (hours)"} {
		if !strings.Contains(out, want) {
			t.Errorf("query output lacks %q:\n%s", want, out)
		}
	}

	if out, err = ctl(t, conn, "modify", "--virtual-num", ctlX, "--extend-num", "0001", "--record=false", "--callback-num", "+8613900000099"); err != nil {
		t.Fatalf("modify: %v\n%s", err, out)
	}
	out, err = ctl(t, conn, "query", "--json", "--virtual-num", ctlX, "--extend-num", "0001")
	if err != nil {
		t.Fatalf("query --json: %v", err)
	}
	var info axeapi.BindingInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil || info.RecordFlag || info.CallbackNum != "+8613900000099" {
		t.Errorf("after modify: %s (%v)", out, err)
	}

	out, err = ctl(t, conn, "recording-url", "ostorQH2.huawei.com", "call.wav")
	if err != nil || strings.TrimSpace(out) != "https://ostor.invalid/call.wav?sig=1" {
		t.Errorf("recording-url: %q, %v", out, err)
	}

	if out, err = ctl(t, conn, "unbind", bound.SubscriptionID); err != nil || !strings.Contains(out, "unbound") {
		t.Fatalf("unbind: %q, %v", out, err)
	}
	_, err = ctl(t, conn, "query", bound.SubscriptionID)
	if !errors.Is(err, axeapi.ErrNotFound) || !strings.Contains(err.Error(), "1012007") ||
		!strings.Contains(err.Error(), "meaning: the record does not exist") {
		t.Errorf("query of an unbound binding: %v", err)
	}
}

func TestAPICommandErrors(t *testing.T) {
	conn := simulator(t)

	out, err := ctl(t, conn, "bind", "--json", "--virtual-num", ctlX, "--bind-num", ctlA, "--callback-tone", "t.wav", "--callback-num", ctlA)
	if !errors.Is(err, axeapi.ErrInvalidParameter) || !strings.Contains(err.Error(), "callbackTone") {
		t.Errorf("bind with both callback settings: %v", err)
	}
	var answer struct {
		Error struct {
			ResultCode string `json:"resultcode"`
			Meaning    string `json:"meaning"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(out), &answer) != nil || answer.Error.ResultCode != "1010002" || answer.Error.Meaning == "" {
		t.Errorf("--json error output: %s", out)
	}

	wrong := append([]string{}, conn...)
	wrong[5] = "not-the-secret" // --app-secret value
	_, err = ctl(t, wrong, "query", "any")
	if !errors.Is(err, axeapi.ErrCredentials) || !strings.Contains(err.Error(), "1010012") {
		t.Errorf("wrong secret: %v", err)
	}
	if strings.Contains(err.Error(), "not-the-secret") {
		t.Error("error prints the secret")
	}

	_, err = ctl(t, conn, "recording-url", "d", "gone.wav")
	if !errors.Is(err, axeapi.ErrNotFound) {
		t.Errorf("missing recording: %v", err)
	}

	for _, args := range [][]string{
		{"query"},
		{"unbind", "--virtual-num", ctlX},
		{"bind", "--bind-num", ctlA},
		{"bind", "--virtual-num", ctlX, "--bind-num", ctlA, "--time-unit", "weeks"},
		{"recording-url", "only-one"},
	} {
		if _, err := ctl(t, conn, args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}

	// Without a CA file the simulator's certificate is not trusted: TLS is
	// always verified.
	_, err = ctl(t, conn[:6], "query", "any")
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate: %v", err)
	}
}

func TestAPICommandsReadEnvironment(t *testing.T) {
	conn := simulator(t)
	t.Setenv("PN_API_BASE_URL", conn[1])
	t.Setenv("PN_APP_KEY", ctlKey)
	t.Setenv("PN_APP_SECRET", ctlSecret)
	t.Setenv("PN_API_CA_FILE", conn[7])
	var out bytes.Buffer
	if err := run(context.Background(), []string{"bind", "--virtual-num", ctlX, "--bind-num", ctlA}, &out); err != nil {
		t.Fatalf("bind from the environment: %v", err)
	}
	if !strings.Contains(out.String(), "extendNum") {
		t.Errorf("bind printed %q", out.String())
	}
	var help bytes.Buffer
	if err := run(context.Background(), nil, &help); err != nil || !strings.Contains(help.String(), "recording-url") {
		t.Errorf("usage: %q %v", help.String(), err)
	}
}

// -ca-file and PN_CA_FILE, pnctl's names for -api-ca-file before the
// recorder and pnctl registered the same flags, are still read.
func TestLegacyCAFileStillRead(t *testing.T) {
	conn := simulator(t)
	legacy := append(append([]string{}, conn[:6]...), "--ca-file", conn[7])
	if _, err := ctl(t, legacy, "count-bindings", "--virtual-num", ctlX); err != nil {
		t.Errorf("with --ca-file: %v", err)
	}
	t.Setenv("PN_CA_FILE", conn[7])
	if _, err := ctl(t, conn[:6], "count-bindings", "--virtual-num", ctlX); err != nil {
		t.Errorf("with PN_CA_FILE: %v", err)
	}
}
