package testenv

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

// Servers names the shared servers of a package's tests. Main starts each
// one that is set, stores it there, and stops it after the tests.
type Servers struct {
	ClickHouse **ClickHouseServer
	S3         **S3Server
}

// Main is the whole TestMain of a package that uses shared servers:
//
//	var clickhouse *testenv.ClickHouseServer
//
//	func TestMain(m *testing.M) { testenv.Main(m, testenv.Servers{ClickHouse: &clickhouse}) }
//
// It starts the servers, runs the tests, stops the servers and, when the
// tests passed, checks that no goroutine leaked (after the servers stopped:
// their reapers end with them). It exits the process with the result.
func Main(m *testing.M, s Servers, leakOpts ...goleak.Option) {
	os.Exit(run(m, s, leakOpts))
}

func run(m *testing.M, s Servers, leakOpts []goleak.Option) int {
	code := 1
	closers, err := startServers(context.Background(), s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
	} else {
		code = m.Run()
	}
	for _, c := range slices.Backward(closers) {
		if err := c.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv:", err)
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(leakOpts...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	return code
}

type closer interface{ Close() error }

// startServers starts the servers s names and returns those it started,
// to be closed in reverse order also when it fails.
func startServers(ctx context.Context, s Servers) ([]closer, error) {
	var starts []func() (closer, error)
	if s.ClickHouse != nil {
		starts = append(starts, startInto(ctx, s.ClickHouse, StartClickHouse))
	}
	if s.S3 != nil {
		starts = append(starts, startInto(ctx, s.S3, StartS3))
	}
	var closers []closer
	for _, start := range starts {
		c, err := start()
		if err != nil {
			return closers, err
		}
		closers = append(closers, c)
	}
	return closers, nil
}

// startInto returns what starts a server with start and stores it in dst.
func startInto[S closer](ctx context.Context, dst *S, start func(context.Context) (S, error)) func() (closer, error) {
	return func() (closer, error) {
		srv, err := start(ctx)
		*dst = srv
		return srv, err
	}
}
