package testenv

import (
	"context"
	"fmt"
	"os"
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
	ctx := context.Background()
	var closers []interface{ Close() error }
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			if err := closers[i].Close(); err != nil {
				fmt.Fprintln(os.Stderr, "testenv:", err)
			}
		}
	}()
	if s.ClickHouse != nil {
		srv, err := StartClickHouse(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testenv:", err)
			return 1
		}
		*s.ClickHouse = srv
		closers = append(closers, srv)
	}
	if s.S3 != nil {
		srv, err := StartS3(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testenv:", err)
			return 1
		}
		*s.S3 = srv
		closers = append(closers, srv)
	}
	code := m.Run()
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i].Close(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv:", err)
			code = 1
		}
	}
	closers = nil
	if code == 0 {
		if err := goleak.Find(leakOpts...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	return code
}
