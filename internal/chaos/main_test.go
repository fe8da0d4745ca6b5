package chaos

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/pnstream/pnstream/internal/testenv"
)

var (
	clickhouse *testenv.ClickHouseServer
	s3         *testenv.S3Server
	// bins holds the binaries the suite runs: PN_CHAOS_BIN, or a directory
	// TestMain builds them into.
	bins string
)

// commands are the binaries the suite runs, by package to build them from.
var commands = map[string]string{
	"ingest":      "github.com/pnstream/pnstream/cmd/ingest",
	"recorder":    "github.com/pnstream/pnstream/cmd/recorder",
	"pnsim":       "github.com/pnstream/pnstream/cmd/pnsim",
	"nats-server": "github.com/nats-io/nats-server/v2", // the version go.mod pins
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err == nil && code == 0 {
		err = goleak.Find(goleak.IgnoreCurrent())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	flag.Parse()
	if testing.Short() {
		return m.Run(), nil // every test skips: nothing to build or start
	}
	ctx := context.Background()
	var err error
	if bins, err = binaries(); err != nil {
		return 1, err
	}
	if os.Getenv("PN_CHAOS_BIN") == "" {
		defer os.RemoveAll(bins)
	}
	if clickhouse, err = testenv.StartClickHouse(ctx); err != nil {
		return 1, err
	}
	defer closeLogged(clickhouse)
	if s3, err = testenv.StartS3(ctx); err != nil {
		return 1, err
	}
	defer closeLogged(s3)
	return m.Run(), nil
}

func closeLogged(c interface{ Close() error }) {
	if err := c.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
}

// binaries returns the directory of the suite's binaries: PN_CHAOS_BIN when
// set (`make test-chaos` builds them into bin/), else a temporary directory
// it builds them into with the go command that runs the tests.
func binaries() (string, error) {
	if dir := os.Getenv("PN_CHAOS_BIN"); dir != "" {
		for name := range commands {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				return "", fmt.Errorf("chaos: PN_CHAOS_BIN=%s: %w (run `make build bin/nats-server`)", dir, err)
			}
		}
		return dir, nil
	}
	gocmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("chaos: no go command to build the binaries with, and PN_CHAOS_BIN is not set: %w", err)
	}
	dir, err := os.MkdirTemp("", "pnstream-chaos-bin-")
	if err != nil {
		return "", err
	}
	var errs []error
	for name, pkg := range commands {
		out, err := exec.Command(gocmd, "build", "-o", filepath.Join(dir, name), pkg).CombinedOutput()
		if err != nil {
			errs = append(errs, fmt.Errorf("chaos: go build %s: %w\n%s", pkg, err, out))
		}
	}
	return dir, errors.Join(errs...)
}
