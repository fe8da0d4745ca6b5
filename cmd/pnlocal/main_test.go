package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/localserver"
	"github.com/pnstream/pnstream/internal/testenv"
)

func TestParseClickHouseFlags(t *testing.T) {
	t.Setenv("PN_LOCAL_CLICKHOUSE_TCP_PORT", "29000")
	t.Setenv("PN_LOCAL_CLICKHOUSE_START_TIMEOUT", "5s")
	cfg, err := parseClickHouseFlags([]string{"--dir", "/tmp/ch", "--tcp-port", "19001"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Dir != "/tmp/ch" || cfg.TCPPort != 19001 || cfg.HTTPPort != 18123 || cfg.StartTimeout != 5*time.Second {
		t.Errorf("got %+v; want the flag over the environment, the environment over the default", cfg)
	}

	t.Setenv("PN_LOCAL_CLICKHOUSE_HTTP_PORT", "many")
	if _, err := parseClickHouseFlags(nil); err == nil || !strings.Contains(err.Error(), "PN_LOCAL_CLICKHOUSE_HTTP_PORT") {
		t.Errorf("bad environment value: err = %v, want one naming the variable", err)
	}
}

func TestRunRejectsBadUsage(t *testing.T) {
	t.Setenv("PN_S3_ACCESS_KEY", "")
	t.Setenv("PN_S3_SECRET_KEY", "")
	for _, args := range [][]string{
		nil, {"kafka"}, {"clickhouse", "extra"}, {"clickhouse", "--tcp-port", "0"},
		{"s3", "--port", "0", "--s3-access-key", "a", "--s3-secret-key", "s"},
		{"s3"}, // no credentials
		{"nats", "--port", "0"}, {"nats", "--sync-interval", "soon"},
	} {
		if err := run(context.Background(), args, io.Discard); err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		}
	}
}

func TestParseS3Flags(t *testing.T) {
	unsetenv(t, "PN_LOCAL_S3_DIR", "PN_LOCAL_S3_PORT", "PN_S3_ACCESS_KEY", "PN_S3_SECRET_KEY")
	if cfg, err := parseS3Flags(nil); err != nil || cfg.Port != 17070 || cfg.Dir != ".local/s3" || cfg.SecretKey != "" {
		t.Errorf("defaults: %+v, %v; want port 17070 in .local/s3 and no secret", cfg, err)
	}

	t.Setenv("PN_S3_ACCESS_KEY", "from-env")
	t.Setenv("PN_S3_SECRET_KEY", "secret-from-env")
	t.Setenv("PN_LOCAL_S3_PORT", "29100")
	cfg, err := parseS3Flags([]string{"--dir", "/tmp/s3", "--s3-access-key", "from-flag"})
	if err != nil {
		t.Fatal(err)
	}
	want := localserver.S3Config{
		Dir: "/tmp/s3", Port: 29100, AccessKey: "from-flag", SecretKey: "secret-from-env",
		StartTimeout: localserver.DefaultStartTimeout,
	}
	if cfg != want {
		t.Errorf("got %v, want %v; the flag over the environment, the environment over the default", cfg, want)
	}
}

// unsetenv removes the variables for the rest of the test; t.Setenv restores
// them afterwards.
func unsetenv(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		t.Setenv(n, "")
		if err := os.Unsetenv(n); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParseNATSFlags(t *testing.T) {
	unsetenv(t, "PN_LOCAL_NATS_DIR", "PN_LOCAL_NATS_PORT", "PN_LOCAL_NATS_MONITOR_PORT", "PN_LOCAL_NATS_SYNC_INTERVAL", "PN_LOCAL_NATS_BINARY")
	cfg, err := parseNATSFlags(nil)
	if err != nil || cfg.Port != 14222 || cfg.MonitorPort != 18222 || cfg.Dir != ".local/nats" || cfg.Binary != "" || cfg.SyncInterval != "" {
		t.Errorf("defaults: %+v, %v; want ports 14222 and 18222 in .local/nats, embedded, default sync", cfg, err)
	}
	t.Setenv("PN_LOCAL_NATS_SYNC_INTERVAL", "always")
	t.Setenv("PN_LOCAL_NATS_PORT", "24222")
	if cfg, err = parseNATSFlags([]string{"--port", "24223", "--binary", "bin/nats-server"}); err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 24223 || cfg.SyncInterval != "always" || cfg.Binary != "bin/nats-server" {
		t.Errorf("got %+v; want the flag over the environment, the environment over the default", cfg)
	}
}

// lines is an io.Writer that hands each write to a channel, to follow what
// run prints while it runs.
type lines chan string

func (l lines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}

// runUntilCancelled runs pnlocal with args until it printed its ready line,
// checks that line with ready and the server with check, then cancels run
// and checks that it stopped the server and returned nil.
func runUntilCancelled(t *testing.T, name string, args []string, ready func(line string) error, check func()) {
	t.Helper()
	out := make(lines, 10)
	bg := testenv.Go(t, func(ctx context.Context) error { return run(ctx, args, out) })
	select {
	case line := <-out:
		if err := ready(line); err != nil {
			t.Errorf("first line %q: %v", line, err)
		}
	case <-bg.Done():
		t.Fatalf("run returned before it was ready: %v", bg.Wait())
	}
	check()
	if err := bg.Stop(); err != nil {
		t.Fatalf("run after cancel = %v, want nil", err)
	}
	for _, want := range []string{"stopping " + name + "\n", name + " stopped\n"} {
		if got := <-out; got != want {
			t.Errorf("printed %q, want %q", got, want)
		}
	}
}

// httpOK fails t unless GET url answers 200.
func httpOK(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", url, resp.Status)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	port, err := localserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(port)
}

func TestRunS3UntilCancelled(t *testing.T) {
	if _, err := localserver.FindS3Binary(); err != nil {
		testenv.MissingServer(t, err.Error())
	}
	port := freePort(t)
	t.Setenv("PN_S3_ACCESS_KEY", "pnlocal-test")
	t.Setenv("PN_S3_SECRET_KEY", "pnlocal-test-secret")
	runUntilCancelled(t, "s3", []string{"s3", "--dir", t.TempDir(), "--port", port},
		func(line string) error {
			if !strings.Contains(line, "s3 listening on 127.0.0.1:"+port) || strings.Contains(line, "pnlocal-test-secret") {
				return errors.New("want the address and no secret")
			}
			return nil
		},
		func() { httpOK(t, "http://127.0.0.1:"+port+localserver.S3HealthPath) })
}

func TestRunNATSUntilCancelled(t *testing.T) {
	unsetenv(t, "PN_LOCAL_NATS_SYNC_INTERVAL", "PN_LOCAL_NATS_BINARY")
	port, monitor := freePort(t), freePort(t)
	runUntilCancelled(t, "nats", []string{"nats", "--dir", t.TempDir(), "--port", port, "--monitor-port", monitor},
		func(line string) error {
			want := "nats listening on nats://127.0.0.1:" + port + " (monitoring http://127.0.0.1:" + monitor + ")"
			if !strings.HasPrefix(line, want) {
				return fmt.Errorf("want it to begin %q", want)
			}
			return nil
		},
		func() { httpOK(t, "http://127.0.0.1:"+monitor+"/healthz?js-enabled-only=true") })
}
