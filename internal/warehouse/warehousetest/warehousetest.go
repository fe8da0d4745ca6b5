// Package warehousetest gives a test a Warehouse on a database of its own,
// migrated, on the test ClickHouse server: the set-up every package that
// stores or reads rows starts its tests with.
package warehousetest

import (
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

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

// Strings returns the single String column of query's rows on conn (a
// Warehouse's Conn, or a connection of the test's own), in the order the
// query gives them, and ends the test on any error.
func Strings(t testing.TB, conn driver.Conn, query string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
