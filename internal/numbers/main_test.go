package numbers

import (
	"testing"

	"github.com/pnstream/pnstream/internal/testenv"
)

// chServer is the ClickHouse server of this package's tests, each in a
// database of its own.
var chServer *testenv.ClickHouseServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.Servers{ClickHouse: &chServer}) }
