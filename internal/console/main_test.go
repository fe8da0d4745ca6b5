package console_test

import (
	"testing"

	"github.com/pnstream/pnstream/internal/testenv"
)

var (
	chServer *testenv.ClickHouseServer
	s3Server *testenv.S3Server
)

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Servers{ClickHouse: &chServer, S3: &s3Server})
}
