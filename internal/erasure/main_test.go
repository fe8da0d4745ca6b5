package erasure_test

import (
	"testing"

	"github.com/pnstream/pnstream/internal/testenv"
)

// The servers of this package's tests; each test has its own database and
// bucket.
var (
	chServer *testenv.ClickHouseServer
	s3Server *testenv.S3Server
)

func TestMain(m *testing.M) { testenv.Main(m, testenv.Servers{ClickHouse: &chServer, S3: &s3Server}) }
