package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/localserver"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

var (
	clickhouse *testenv.ClickHouseServer
	s3         *testenv.S3Server
)

func TestMain(m *testing.M) { testenv.Main(m, testenv.Servers{ClickHouse: &clickhouse, S3: &s3}) }

func TestRunRefusesBadConfig(t *testing.T) {
	err := run(context.Background(), []string{"-recorder-batch-size", "0", "-clickhouse-database", "bad name"})
	if err == nil || !strings.Contains(err.Error(), "batch size") || !strings.Contains(err.Error(), "database") {
		t.Errorf("run = %v, want errors about batch size and database", err)
	}
}

func TestRunMigratesConsumesAndStops(t *testing.T) {
	ns := testenv.NATS(t)
	db := clickhouse.NewDatabase(t)
	admin, pprof := loopbackAddr(t), loopbackAddr(t)
	t.Setenv("PN_LOG_LEVEL", "warn")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-nats-url", ns.URL(), "-clickhouse-addr", clickhouse.Addr(),
			"-clickhouse-database", db, "-recorder-admin-addr", admin, "-recorder-batch-wait", "100ms",
			"-pprof-addr", pprof})
	}()

	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	waitFor(t, "readyz", func() bool {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if resp, err := http.Get("http://" + pprof + "/debug/pprof/cmdline"); err != nil || resp.StatusCode != 200 {
		t.Errorf("pprof: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	msg := nats.NewMsg(streams.FeeSubject)
	msg.Data = []byte(`{"icid":"cmd-1","sessionId":"s","callInTime":"2024-01-01 00:00:00"}`)
	if _, err := nc.RequestMsg(msg, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	conn := clickhouse.Open(t, db)
	waitFor(t, "row", func() bool {
		var n uint64
		return conn.QueryRow(context.Background(), "SELECT count() FROM fee_records FINAL").Scan(&n) == nil && n == 1
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// -migrate-only applies the migrations and provisions the streams, then
// returns without consuming or serving anything.
func TestRunMigrateOnly(t *testing.T) {
	ns := testenv.NATS(t)
	db := clickhouse.NewDatabase(t)
	admin := loopbackAddr(t)
	t.Setenv("PN_LOG_LEVEL", "warn")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, []string{"-migrate-only", "-nats-url", ns.URL(), "-clickhouse-addr", clickhouse.Addr(),
		"-clickhouse-database", db, "-recorder-admin-addr", admin}); err != nil {
		t.Fatalf("run -migrate-only: %v", err)
	}

	var n uint64
	if err := clickhouse.Open(t, db).QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name IN ('fee_records', 'call_events', 'recordings')", db).Scan(&n); err != nil || n != 3 {
		t.Errorf("tables after -migrate-only: %d of 3, %v", n, err)
	}
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{streams.Events, streams.Fees, streams.Recordings, streams.Rejected, streams.Dead} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Errorf("stream %s after -migrate-only: %v", name, err)
			continue
		}
		if info, err := s.Info(ctx); err != nil || info.State.Consumers != 0 {
			t.Errorf("stream %s has consumers after -migrate-only: %+v, %v", name, info, err)
		}
	}
	if resp, err := http.Get("http://" + admin + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("-migrate-only left the admin server running")
	}
}

// loopbackAddr returns a free address on 127.0.0.1 to listen on.
func loopbackAddr(t *testing.T) string {
	t.Helper()
	port, err := localserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Secrets given to the recorder never reach its logs or errors.
func TestSecretsNeverLogged(t *testing.T) {
	ns := testenv.NATS(t)
	db := clickhouse.NewDatabase(t)
	port, err := localserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	const appSecret = "app-secret-5f1b0c"
	// The test server has no authorization, so it takes any user.
	const natsPassword = "nats-password-3c8d"
	natsURL := strings.Replace(ns.URL(), "nats://", "nats://pnstream:"+natsPassword+"@", 1)
	t.Setenv("PN_APP_SECRET", appSecret)
	t.Setenv("PN_S3_SECRET_KEY", s3.SecretKey())
	t.Setenv("PN_LOG_LEVEL", "debug")
	logs := captureStderr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	admin := fmt.Sprintf("127.0.0.1:%d", port)
	go func() {
		done <- run(ctx, []string{"-nats-url", natsURL, "-clickhouse-addr", clickhouse.Addr(), "-clickhouse-database", db,
			"-recorder-admin-addr", admin, "-app-key", "k", "-api-base-url", "http://127.0.0.1:1",
			"-s3-endpoint", s3.Endpoint(), "-s3-access-key", s3.AccessKey(), "-s3-insecure", "-s3-bucket", "secrets-test",
			"-s3-probe-interval", "200ms", "-s3-probe-timeout", "200ms"})
	}()
	waitFor(t, "readyz", func() bool {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	// The probe runs with the mirror: S3 shows as reachable once the
	// mirror created the bucket.
	waitFor(t, "pn_archive_s3_up 1", func() bool {
		resp, err := http.Get("http://" + admin + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return err == nil && strings.Contains(string(body), "\npn_archive_s3_up 1\n")
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30 s of cancel")
	}
	// A start-up that cannot reach ClickHouse retries, logging why, until
	// it is stopped; neither those lines nor its error show the password.
	const chPassword = "ch-password-9a7e"
	unreachable, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	err = run(unreachable, []string{"-clickhouse-addr", "127.0.0.1:1", "-clickhouse-password", chPassword,
		"-clickhouse-dial-timeout", "200ms"})
	if err == nil || strings.Contains(err.Error(), chPassword) {
		t.Errorf("run with an unreachable ClickHouse = %v", err)
	}
	out := logs()
	if !strings.Contains(out, "starting") {
		t.Fatalf("captured no logs: %q", out)
	}
	if !strings.Contains(out, "nats://redacted@127.0.0.1:") {
		t.Errorf("the start-up line does not show the NATS URL redacted: %q", out)
	}
	for _, secret := range []string{appSecret, s3.SecretKey(), chPassword, natsPassword} {
		if strings.Contains(out, secret) {
			t.Errorf("secret %q appears in the logs", secret)
		}
	}
}

// captureStderr sends os.Stderr (where the logger writes) to a pipe until
// the returned func is called; it returns what was written.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	orig := os.Stderr
	os.Stderr = w
	var buf strings.Builder
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&buf, r)
		close(copied)
	}()
	restore := func() {
		if os.Stderr == w {
			os.Stderr = orig
			_ = w.Close()
			<-copied
		}
	}
	t.Cleanup(restore)
	return func() string {
		restore()
		return buf.String()
	}
}
