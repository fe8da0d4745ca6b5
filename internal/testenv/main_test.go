package testenv_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/pnstream/pnstream/internal/testenv"
)

var clickhouse *testenv.ClickHouseServer

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
	code := m.Run()
	if err := clickhouse.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	// Checked after Close: the server's reaper goroutine ends with it.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	return code
}
