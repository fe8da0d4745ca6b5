package testenv_test

import (
	"context"
	"regexp"
	"testing"
	"time"
)

func TestNewDatabaseIsUniqueAndDropped(t *testing.T) {
	t.Parallel()
	var names []string
	t.Run("create", func(t *testing.T) {
		a, b := clickhouse.NewDatabase(t), clickhouse.NewDatabase(t)
		if a == b {
			t.Fatalf("two databases named %q", a)
		}
		for _, n := range []string{a, b} {
			if !regexp.MustCompile(`^test_[0-9a-f]{16}$`).MatchString(n) {
				t.Errorf("database name %q, want test_<16 hex digits>", n)
			}
		}
		names = []string{a, b}
	})
	clickhouse.Require(t)
	conn := clickhouse.Open(t, "default")
	for _, n := range names {
		var count uint64
		if err := conn.QueryRow(context.Background(),
			"SELECT count() FROM system.databases WHERE name = ?", n).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if count != 0 {
			t.Errorf("database %s still exists after its test ended", n)
		}
	}
}

// countRows opens a fresh connection: connections do not survive an outage.
func countRows(t *testing.T, db string) uint64 {
	t.Helper()
	var n uint64
	if err := clickhouse.Open(t, db).QueryRow(context.Background(), "SELECT count() FROM kept").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Not parallel: Stop and Kill take the server away from every test.
func TestClickHouseOutageKeepsData(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := clickhouse.NewDatabase(t)
	conn := clickhouse.Open(t, db)
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("ClickHouse %s at %s", version, clickhouse.Addr())
	if err := conn.Exec(ctx, "CREATE TABLE kept (n UInt32) ENGINE = MergeTree ORDER BY n"); err != nil {
		t.Fatal(err)
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO kept (n)")
	if err != nil {
		t.Fatal(err)
	}
	for n := range uint32(5) {
		if err := batch.Append(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}

	clickhouse.Stop(t)
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("Ping succeeded while the server is stopped")
	}
	clickhouse.Start(t)
	if n := countRows(t, db); n != 5 {
		t.Fatalf("after stop and start: %d rows, want 5", n)
	}

	clickhouse.Kill(t)
	clickhouse.Start(t)
	if n := countRows(t, db); n != 5 {
		t.Fatalf("after kill and start: %d rows, want 5", n)
	}
}

// The restart at cleanup keeps the server available to later tests even when
// a test ends during an outage.
func TestClickHouseRestartedAfterTest(t *testing.T) {
	t.Run("leaves it stopped", func(t *testing.T) {
		clickhouse.NewDatabase(t) // dropped at cleanup, after the restart
		clickhouse.Stop(t)
	})
	db := clickhouse.NewDatabase(t)
	var one uint8
	if err := clickhouse.Open(t, db).QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("server not back after the subtest: %v", err)
	}
}
