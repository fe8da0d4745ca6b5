package testenv_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/pnstream/pnstream/internal/testenv"
)

var (
	clickhouse *testenv.ClickHouseServer
	s3         *testenv.S3Server
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	clickhouse, err = testenv.StartClickHouse(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s3, err = testenv.StartS3(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if err := clickhouse.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		return 1
	}
	code := m.Run()
	for _, srv := range []interface{ Close() error }{clickhouse, s3} {
		if err := srv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	// Checked after Close: the servers' reaper goroutines end with them.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	return code
}
