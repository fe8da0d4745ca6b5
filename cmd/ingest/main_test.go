package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/localserver"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

func TestRunRefusesIncompleteConfig(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-nats-url", "nats://127.0.0.1:1"}, "PN_APP_SECRET"},
		{[]string{"-push-auth", "required"}, "no app secret"},
		{[]string{"-push-auth", "maybe", "-app-secret", "s"}, `push auth "maybe"`},
		{[]string{"-app-secret", "s", "-push-max-age", "0s", "-ingest-write-timeout", "1s"}, "push max age"},
		{[]string{"-app-secret", "s", "-push-max-age", "0s", "-ingest-write-timeout", "1s"}, "write timeout"},
		{[]string{"-push-credentials", "app:secret,broken"}, "push credential 2"},
		{[]string{"-push-credentials", "a:same,b:same"}, "share a secret"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

// waitReady waits until /readyz answers status with a body containing
// want.
func waitReady(t *testing.T, base string, status int, want string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == status && strings.Contains(string(body), want),
			fmt.Sprintf("readyz %d %q, want %d %q", resp.StatusCode, body, status, want)
	})
}

func TestRunServesThenShutsDownGracefully(t *testing.T) {
	ns := testenv.NATS(t)
	port, err := localserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	pprofPort, err := localserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	pprof := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/cmdline", pprofPort)
	t.Setenv("PN_APP_SECRET", "cmd-secret")
	t.Setenv("PN_LOG_LEVEL", "warn")
	t.Setenv("PN_PPROF_ADDR", fmt.Sprintf("127.0.0.1:%d", pprofPort))
	bg := testenv.Go(t, func(ctx context.Context) error {
		return run(ctx, []string{"-ingest-addr", addr, "-nats-url", ns.URL(), "-app-key", "cmd-key"})
	})
	ctx := t.Context()

	base := "http://" + addr
	// ingest provisions nothing: it is not ready until the recorder's
	// set-up created the streams (the nonce stream too).
	waitReady(t, base, http.StatusServiceUnavailable, "not provisioned")
	nc, js, err := streams.Connect(streams.ConnConfig{URL: ns.URL(), ReconnectWait: 50 * time.Millisecond}, "cmd-test", zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := streams.Check(ctx, js); !errors.Is(err, streams.ErrNotProvisioned) {
		t.Fatalf("before provisioning, Check = %v: ingest created streams", err)
	}
	sc := streams.DefaultConfig()
	sc.MaxBytes, sc.RejectedMaxBytes, sc.DeadMaxBytes = 64<<20, 16<<20, 16<<20 // the test server's store is 1 GiB
	sc.NumbersMaxBytes = 16 << 20
	if err := streams.Provision(ctx, js, sc); err != nil {
		t.Fatal(err)
	}
	waitReady(t, base, http.StatusOK, "ready")
	if resp, err := http.Get(pprof); err != nil || resp.StatusCode != 200 {
		t.Errorf("pprof (PN_PPROF_ADDR): %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	body, err := os.ReadFile("../../internal/privatenumber/testdata/seed-fee.json")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/notifications", bytes.NewReader(body))
	(&aksk.Signer{AppKey: "cmd-key", AppSecret: "cmd-secret"}).Sign(req.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("push: %d", resp.StatusCode)
	}

	if err := bg.StopWithin(t, 15*time.Second); err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
	if _, err := http.Get(pprof); err == nil {
		t.Error("still serving pprof after shutdown")
	}
}
