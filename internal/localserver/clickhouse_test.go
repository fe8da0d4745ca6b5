package localserver_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/pnstream/pnstream/internal/localserver"
	"github.com/pnstream/pnstream/internal/testenv"
)

func TestConfigValidate(t *testing.T) {
	valid := localserver.Config{Dir: "/tmp/x", TCPPort: 19000, HTTPPort: 18123}
	tests := []struct {
		name    string
		mutate  func(*localserver.Config)
		wantErr []string
	}{
		{"valid", func(*localserver.Config) {}, nil},
		{"everything wrong", func(c *localserver.Config) {
			*c = localserver.Config{TCPPort: 70000, StartTimeout: -1, StopTimeout: -1}
		}, []string{"dir is required", "tcp port: 70000", "http port: 0", "start timeout", "stop timeout"}},
		{"same ports", func(c *localserver.Config) { c.HTTPPort = c.TCPPort }, []string{"both 19000"}},
		{"TLS", func(c *localserver.Config) { c.SecureTCPPort, c.CertFile, c.KeyFile = 19440, "c.pem", "k.pem" }, nil},
		{"TLS port without a certificate", func(c *localserver.Config) { c.SecureTCPPort = 19440 }, []string{"go together"}},
		{"certificate without a TLS port", func(c *localserver.Config) { c.CertFile, c.KeyFile = "c.pem", "k.pem" }, []string{"go together"}},
		{"TLS on the plain port", func(c *localserver.Config) { c.SecureTCPPort, c.CertFile, c.KeyFile = 19000, "c.pem", "k.pem" }, []string{"already the tcp or http port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.mutate(&cfg)
			requireProblems(t, cfg.Validate(), tt.wantErr...)
		})
	}
}

// newServer returns a server on free ports in a temporary directory, stopped
// when the test ends. It skips (or fails in CI) without clickhouse-server.
func newServer(t *testing.T, dir string) *localserver.ClickHouse {
	t.Helper()
	return newServerWith(t, localserver.Config{Dir: dir})
}

// newServerWith is newServer for cfg, its zero ports picked with FreePort.
func newServerWith(t *testing.T, cfg localserver.Config) *localserver.ClickHouse {
	t.Helper()
	if _, err := localserver.FindBinary(); err != nil {
		testenv.MissingServer(t, err.Error())
	}
	for _, p := range []*int{&cfg.TCPPort, &cfg.HTTPPort} {
		if *p == 0 {
			*p = freePort(t)
		}
	}
	ch, err := localserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stopAtCleanup(t, ch)
	return ch
}

func start(t *testing.T, ch *localserver.ClickHouse) {
	t.Helper()
	began := time.Now()
	if err := ch.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("clickhouse-server answered after %s", time.Since(began).Round(time.Millisecond))
}

// query runs q on a fresh connection and returns the single value it selects.
func query[T any](t *testing.T, ch *localserver.ClickHouse, q string) T {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr()}, ReadTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var v T
	if err := conn.QueryRow(context.Background(), q).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

func exec(t *testing.T, ch *localserver.ClickHouse, q string) {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{ch.Addr()}, ReadTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestStartStopRestartKeepsData(t *testing.T) {
	t.Parallel()
	ch := newServer(t, t.TempDir())
	start(t, ch)

	if v := query[string](t, ch, "SELECT version()"); !strings.Contains(v, ".") {
		t.Errorf("version() = %q", v)
	}
	if tz := query[string](t, ch, "SELECT timezone()"); !strings.HasSuffix(tz, "UTC") {
		t.Errorf("timezone() = %q, want UTC", tz)
	}
	exec(t, ch, "CREATE TABLE default.kept (n UInt32) ENGINE = MergeTree ORDER BY n")
	// INSERT ... VALUES through Exec hangs on 18.16 with clickhouse-go (the
	// server waits for a data block); INSERT ... SELECT runs server-side.
	exec(t, ch, "INSERT INTO default.kept (n) SELECT toUInt32(number + 1) FROM system.numbers LIMIT 2")

	if err := ch.Start(context.Background()); err == nil {
		t.Error("Start on a running server succeeded, want an error")
	}

	began := time.Now()
	if err := ch.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("graceful stop took %s", time.Since(began).Round(time.Millisecond))
	requireDown(t, ch, ch.Addr())
	if err := ch.Stop(context.Background()); err != nil {
		t.Errorf("second Stop = %v, want nil", err)
	}

	start(t, ch)
	if n := query[uint64](t, ch, "SELECT count() FROM default.kept"); n != 2 {
		t.Fatalf("after restart count() = %d, want 2", n)
	}
	exec(t, ch, "INSERT INTO default.kept (n) SELECT toUInt32(3)")

	if err := ch.Kill(); err != nil {
		t.Fatal(err)
	}
	requireDown(t, ch, ch.Addr())
	start(t, ch)
	// A part is on disk once its INSERT returned, so it survives a crash.
	if n := query[uint64](t, ch, "SELECT count() FROM default.kept"); n != 3 {
		t.Fatalf("after kill and restart count() = %d, want 3", n)
	}
}

func TestStartReportsLogTailWhenPortTaken(t *testing.T) {
	t.Parallel()
	ch := newServerWith(t, localserver.Config{Dir: t.TempDir(), TCPPort: takenPort(t)})
	err := ch.Start(context.Background())
	if err == nil {
		t.Fatal("Start succeeded with its TCP port taken")
	}
	t.Logf("Start error:\n%v", err)
	for _, want := range []string{"exited during start-up", "tail of", "Address already in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	select {
	case <-ch.Done():
	default:
		t.Error("server still running after a failed Start")
	}
}

func TestStartHonoursContext(t *testing.T) {
	t.Parallel()
	ch := newServer(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := ch.Start(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Start(cancelled ctx) = %v, want context.Canceled", err)
	}
	if done := ch.Done(); done != nil { // nil: never launched
		select {
		case <-done:
		default:
			t.Error("server still running after a cancelled Start")
		}
	}
}

func TestStartTimeoutKillsServer(t *testing.T) {
	t.Parallel()
	ch := newServerWith(t, localserver.Config{Dir: t.TempDir(), StartTimeout: time.Millisecond})
	err := ch.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not answering after 1ms") {
		t.Fatalf("Start = %v, want a start-up timeout", err)
	}
	select {
	case <-ch.Done():
	default:
		t.Error("server still running after its start timed out")
	}
}
