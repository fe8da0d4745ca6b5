package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
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
	t.Parallel()
	err := run(context.Background(), []string{"-recorder-batch-size", "0", "-clickhouse-database", "bad name"})
	if err == nil || !strings.Contains(err.Error(), "batch size") || !strings.Contains(err.Error(), "database") {
		t.Errorf("run = %v, want errors about batch size and database", err)
	}
}

func TestRunMigratesConsumesAndStops(t *testing.T) {
	t.Parallel()
	ns := testenv.NATS(t)
	db := clickhouse.NewDatabase(t)
	admin, pprof := loopbackAddr(t), loopbackAddr(t)
	bg := testenv.Go(t, func(ctx context.Context) error {
		return run(ctx, []string{"-nats-url", ns.URL(), "-clickhouse-addr", clickhouse.Addr(),
			"-clickhouse-database", db, "-recorder-admin-addr", admin, "-recorder-batch-wait", "100ms",
			"-pprof-addr", pprof, "-log-level", "warn"})
	})

	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	waitReady(t, admin, bg)
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
	waitRows(t, clickhouse.Open(t, db), "SELECT count() FROM fee_records FINAL", 1)

	if err := bg.StopWithin(t, 20*time.Second); err != nil {
		t.Fatalf("run: %v", err)
	}
}

// -migrate-only applies the migrations and provisions the streams, then
// returns without consuming or serving anything.
func TestRunMigrateOnly(t *testing.T) {
	t.Parallel()
	ns := testenv.NATS(t)
	db := clickhouse.NewDatabase(t)
	admin := loopbackAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, []string{"-migrate-only", "-nats-url", ns.URL(), "-clickhouse-addr", clickhouse.Addr(),
		"-clickhouse-database", db, "-recorder-admin-addr", admin, "-log-level", "warn"}); err != nil {
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

// waitReady waits until the recorder run by bg answers ready on its admin
// address, and fails the test at once if run returns.
func waitReady(t *testing.T, admin string, bg *testenv.Background) {
	t.Helper()
	waitAdmin(t, bg, admin, "/readyz", func(status int, body string) (bool, string) {
		return status == http.StatusOK, fmt.Sprintf("/readyz %d %q", status, body)
	})
}

// waitAdmin waits until GET path on the admin address answers what ok
// accepts, and fails the test at once if the recorder run by bg returns.
// ok says what it saw, as Eventually's condition does.
func waitAdmin(t *testing.T, bg *testenv.Background, admin, path string, ok func(status int, body string) (bool, string)) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		select {
		case <-bg.Done():
			t.Fatalf("run returned before %s answered: %v", path, bg.Wait())
		default:
		}
		resp, err := http.Get("http://" + admin + path)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return false, err.Error()
		}
		return ok(resp.StatusCode, string(body))
	})
}

// metricLines returns the lines of a /metrics body that show name.
func metricLines(body, name string) string {
	var lines []string
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, name) {
			lines = append(lines, strings.TrimSpace(line))
		}
	}
	if lines == nil {
		return "no " + name
	}
	return strings.Join(lines, "; ")
}

// waitRows waits until query, a count, returns want.
func waitRows(t *testing.T, conn driver.Conn, query string, want uint64) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, func() (bool, string) {
		var n uint64
		if err := conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
			return false, err.Error()
		}
		return n == want, fmt.Sprintf("%s = %d, want %d", query, n, want)
	})
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
	admin := fmt.Sprintf("127.0.0.1:%d", port)
	bg := testenv.Go(t, func(ctx context.Context) error {
		return run(ctx, []string{"-nats-url", natsURL, "-clickhouse-addr", clickhouse.Addr(), "-clickhouse-database", db,
			"-recorder-admin-addr", admin, "-app-key", "k", "-api-base-url", "http://127.0.0.1:1",
			"-s3-endpoint", s3.Endpoint(), "-s3-access-key", s3.AccessKey(), "-s3-insecure", "-s3-bucket", "secrets-test",
			"-s3-probe-interval", "200ms", "-s3-probe-timeout", "200ms"})
	})
	waitReady(t, admin, bg)
	// The probe runs with the mirror: S3 shows as reachable once the
	// mirror created the bucket.
	waitAdmin(t, bg, admin, "/metrics", func(_ int, body string) (bool, string) {
		return strings.Contains(body, "\npn_archive_s3_up 1\n"), metricLines(body, "pn_archive_s3_up")
	})
	if err := bg.StopWithin(t, 30*time.Second); err != nil {
		t.Fatalf("run: %v", err)
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
	out := logs.Stop()
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

// captured is what the process wrote to os.Stderr since captureStderr.
type captured struct {
	mu   sync.Mutex
	buf  strings.Builder
	stop func() // restores os.Stderr and waits for the last write
}

func (c *captured) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

// String returns what was written so far.
func (c *captured) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// Stop gives os.Stderr back and returns all that was written.
func (c *captured) Stop() string {
	c.stop()
	return c.String()
}

// captureStderr sends os.Stderr (where the logger writes) to a pipe until
// Stop is called or the test ends.
func captureStderr(t *testing.T) *captured {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	orig := os.Stderr
	os.Stderr = w
	c := &captured{}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(c, r)
		close(copied)
	}()
	c.stop = func() {
		if os.Stderr == w {
			os.Stderr = orig
			_ = w.Close()
			<-copied
		}
	}
	t.Cleanup(c.stop)
	return c
}
