package warehouse

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/testenv"
)

// chServer is the server every integration test of this package uses,
// each in a database of its own. Tests here do not call t.Parallel: one of
// them stops the server.
var chServer *testenv.ClickHouseServer

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	chServer, err = testenv.StartClickHouse(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := chServer.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	// Every Warehouse a test opens must be closed: the driver's pool runs a
	// goroutine until Close.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	return code
}

// openTest opens a Warehouse on a new database of the test server, closed
// when the test ends. It does not migrate. It stores phone numbers raw, so
// that tests can compare rows with what was inserted; pii_test.go covers
// the other modes.
func openTest(t testing.TB) *Warehouse {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Addr = chServer.Addr()
	cfg.Database = chServer.NewDatabase(t)
	cfg.PIIMode = pii.ModeRaw
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
