// Package warehousetest gives a test a Warehouse on a database of its own,
// migrated, on the test ClickHouse server: the set-up every package that
// stores or reads rows starts its tests with.
package warehousetest

import (
	"testing"

	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// Open returns a Warehouse with the default settings on a new, migrated
// database of ch, closed when the test ends, and the database's name. It
// ends the test as ch.Require does when the server is not usable.
func Open(t testing.TB, ch *testenv.ClickHouseServer) (*warehouse.Warehouse, string) {
	t.Helper()
	ch.Require(t)
	cfg := warehouse.DefaultConfig()
	cfg.Addr, cfg.Database = ch.Addr(), ch.NewDatabase(t)
	w, err := warehouse.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := w.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return w, cfg.Database
}
