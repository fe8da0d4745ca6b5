package warehouse

import (
	"context"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/testenv"
)

// chServer is the server every integration test of this package uses,
// each in a database of its own. Tests here do not call t.Parallel: one of
// them stops the server.
var chServer *testenv.ClickHouseServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.Servers{ClickHouse: &chServer}) }

// openTest opens a Warehouse on a new database of the test server, closed
// when the test ends. It does not migrate.
func openTest(t testing.TB) *Warehouse {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = chServer.Addr()
	cfg.Database = chServer.NewDatabase(t)
	return openConfig(t, cfg)
}

func openConfig(t testing.TB, cfg Config) *Warehouse {
	t.Helper()
	w, err := Open(testContext(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	return w
}

// migrated opens a Warehouse on a new, migrated database.
func migrated(t testing.TB) *Warehouse {
	t.Helper()
	w := openTest(t)
	if err := w.Migrate(testContext(t)); err != nil {
		t.Fatal(err)
	}
	return w
}

// testContext bounds every call of a test, so a hung server fails the test
// instead of the whole run.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
