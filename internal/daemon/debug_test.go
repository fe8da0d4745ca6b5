package daemon

import (
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pnstream/pnstream/internal/testenv"
)

func TestDebugConfigFromEnvironment(t *testing.T) {
	t.Setenv("PN_PPROF_ADDR", "127.0.0.1:6060")
	var c DebugConfig
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := Parse(fs, nil); err != nil {
		t.Fatal(err)
	}
	if c.PprofAddr != "127.0.0.1:6060" {
		t.Errorf("PprofAddr = %q, want the PN_PPROF_ADDR value", c.PprofAddr)
	}
}

func TestServeDebugServesPprofUntilDone(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve := testenv.Go(t, func(ctx context.Context) error { return ServeDebug(ctx, ln) })

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	base := "http://" + ln.Addr().String()
	for path, want := range map[string]string{
		"/debug/pprof/":                     "goroutine",
		"/debug/pprof/cmdline":              "",
		"/debug/pprof/goroutine?debug=1":    "goroutine profile",
		"/debug/pprof/heap?debug=1":         "heap profile",
		"/debug/pprof/profile?seconds=1":    "",
		"/debug/pprof/symbol":               "num_symbols",
		"/debug/pprof/trace?seconds=0.1":    "",
		"/debug/pprof/threadcreate?debug=1": "threadcreate",
	} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d %.80q, %v; want 200 containing %q", path, resp.StatusCode, body, err, want)
		}
	}

	if err := serve.StopWithin(t, 5*time.Second); err != nil {
		t.Errorf("ServeDebug = %v, want nil after ctx is done", err)
	}
	if _, err := client.Get(base + "/debug/pprof/"); err == nil {
		t.Error("still serving after ServeDebug returned")
	}
}

func TestServeDebugReportsServeFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // Serve fails at once
	if err := ServeDebug(context.Background(), ln); err == nil || !strings.Contains(err.Error(), "pprof server") {
		t.Errorf("ServeDebug on a closed listener = %v, want a pprof server error", err)
	}
}
