package archive_test

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
	ctx := context.Background()
	var err error
	if clickhouse, err = testenv.StartClickHouse(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if s3, err = testenv.StartS3(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = clickhouse.Close()
		os.Exit(1)
	}
	code := m.Run()
	for _, c := range []interface{ Close() error }{s3, clickhouse} {
		if err := c.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
