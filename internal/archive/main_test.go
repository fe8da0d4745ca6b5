package archive_test

import (
	"testing"

	"github.com/pnstream/pnstream/internal/testenv"
)

var (
	clickhouse *testenv.ClickHouseServer
	s3         *testenv.S3Server
)

func TestMain(m *testing.M) { testenv.Main(m, testenv.Servers{ClickHouse: &clickhouse, S3: &s3}) }
