package main

import (
	"context"
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
		nil, {"nats"}, {"clickhouse", "extra"}, {"clickhouse", "--tcp-port", "0"},
		{"s3", "--port", "0", "--s3-access-key", "a", "--s3-secret-key", "s"},
		{"s3"}, // no credentials
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

// lines is an io.Writer that hands each write to a channel, to follow what
// run prints while it runs.
type lines chan string

func (l lines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}

func TestRunS3UntilCancelled(t *testing.T) {
	if _, err := localserver.FindS3Binary(); err != nil {
		testenv.MissingServer(t, err.Error())
	}
	port, err := localserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PN_S3_ACCESS_KEY", "pnlocal-test")
	t.Setenv("PN_S3_SECRET_KEY", "pnlocal-test-secret")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(lines, 10)
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"s3", "--dir", t.TempDir(), "--port", strconv.Itoa(port)}, out) }()

	select {
	case line := <-out:
		if !strings.Contains(line, "s3 listening on 127.0.0.1:"+strconv.Itoa(port)) || strings.Contains(line, "pnlocal-test-secret") {
			t.Errorf("first line %q: want the address and no secret", line)
		}
	case err := <-errc:
		t.Fatalf("run returned before it was ready: %v", err)
	}
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + localserver.S3HealthPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("health: %s", resp.Status)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("run after cancel = %v, want nil", err)
	}
	for _, want := range []string{"stopping s3\n", "s3 stopped\n"} {
		if got := <-out; got != want {
			t.Errorf("printed %q, want %q", got, want)
		}
	}
}
