package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/localserver"
	"github.com/pnstream/pnstream/internal/privatenumber"
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
		{[]string{"-app-secret", "s", "-stream-replicas", "0", "-ingest-write-timeout", "1s"}, "replicas"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-ingest-addr", addr, "-nats-url", ns.URL(), "-app-key", "cmd-key"}) }()

	base := "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
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
	(&privatenumber.Signer{AppKey: "cmd-key", AppSecret: "cmd-secret"}).Sign(req.Header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("push: %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
	if _, err := http.Get(pprof); err == nil {
		t.Error("still serving pprof after shutdown")
	}
}
