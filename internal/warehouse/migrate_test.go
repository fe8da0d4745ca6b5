package warehouse

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pnstream/pnstream/schemas"
)

// tables lists the tables and views of w's database.
func tables(t *testing.T, w *Warehouse) []string {
	t.Helper()
	rows, err := w.conn.Query(testContext(t), "SELECT name FROM system.tables WHERE database = ? ORDER BY name", w.db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

func TestMigrateTwice(t *testing.T) {
	w := openTest(t)
	ctx := testContext(t)
	ms, err := schemas.ClickHouseMigrations()
	if err != nil {
		t.Fatal(err)
	}

	applied, err := w.migrate(ctx)
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	if len(applied) != len(ms) {
		t.Errorf("first Migrate applied %v, want all %d migrations", applied, len(ms))
	}
	applied, err = w.migrate(ctx)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if len(applied) != 0 {
		t.Errorf("second Migrate applied %v, want nothing", applied)
	}

	want := append([]string{"access_log", "call_events", "call_events_latest", "fee_records", "fee_records_latest", "field_anomalies", "legal_holds",
		"number_status", "number_status_current", "recordings", "recordings_latest", "schema_migrations"}, analyticsViews...)
	slices.Sort(want)
	if got := tables(t, w); !slices.Equal(got, want) {
		t.Errorf("tables = %v, want %v", got, want)
	}
	var n uint64
	if err := w.conn.QueryRow(ctx, "SELECT count() FROM "+w.table(migrationsTable)+" FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != uint64(len(ms)) {
		t.Errorf("schema_migrations has %d versions, want %d", n, len(ms))
	}
}

func TestMigrateCreatesDatabase(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Addr = chServer.Addr()
	// A database the test server does not have yet: Open must not need it.
	cfg.Database = chServer.NewDatabase(t) + "_new"
	w := openConfig(t, cfg)
	t.Cleanup(func() {
		// t.Context is done by now.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := w.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+cfg.Database); err != nil {
			t.Error(err)
		}
	})
	if err := w.Migrate(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if got := tables(t, w); !slices.Contains(got, "fee_records") {
		t.Errorf("tables = %v, want fee_records among them", got)
	}
}

// TestMigrateConcurrently runs Migrate on one fresh database from several
// processes' worth of connections at once, as replicas of the recorder do
// when they start together.
func TestMigrateConcurrently(t *testing.T) {
	first := openTest(t)
	cfg := DefaultConfig()
	cfg.Addr, cfg.Database = chServer.Addr(), first.db
	const n = 6
	ws := []*Warehouse{first}
	for range n - 1 {
		ws = append(ws, openConfig(t, cfg))
	}
	ctx := testContext(t)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() { errs[i] = w.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	if got := tables(t, first); !slices.Contains(got, "fee_records_latest") {
		t.Errorf("tables = %v, want every table and view", got)
	}
	if applied, err := first.migrate(ctx); err != nil || len(applied) != 0 {
		t.Errorf("Migrate after the race = %v, %v; want nothing to do", applied, err)
	}
}

// TestMigrateRefusesEditedMigration: a migration whose text changed after
// it was applied would never reach existing databases.
func TestMigrateRefusesEditedMigration(t *testing.T) {
	w := migrated(t)
	ctx := testContext(t)
	// Make version 1 look as if a different text had been applied, and
	// merge so that only the altered row remains.
	b, err := w.conn.PrepareBatch(ctx, "INSERT INTO "+w.table(migrationsTable)+" (version, name, checksum, applied_at)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append(uint32(1), "0001_fee_records.sql", "0000edited", mustTime(t, "2030-01-01 00:00:00")); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	if err := w.conn.Exec(ctx, "OPTIMIZE TABLE "+w.table(migrationsTable)+" FINAL"); err != nil {
		t.Fatal(err)
	}

	err = w.Migrate(ctx)
	if err == nil || !strings.Contains(err.Error(), "0001_fee_records.sql changed after it was applied") {
		t.Errorf("Migrate = %v, want a refusal naming 0001_fee_records.sql", err)
	}
}

// TestMigrateAddsColumns: a database of the migrations before 0006 with
// rows gets the new columns, their defaults on the old rows, and *_latest
// views that show them; and 0006 applies again after stopping midway
// (18.16 has no ADD COLUMN IF NOT EXISTS).
func TestMigrateAddsColumns(t *testing.T) {
	w := openTest(t)
	ctx := testContext(t)
	ms, err := schemas.ClickHouseMigrations()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ms, func(m schemas.Migration) bool { return m.Name == "0006_tolerance.sql" })
	if i < 0 {
		t.Fatal("no 0006_tolerance.sql")
	}
	if err := w.execDDL(ctx, "CREATE DATABASE IF NOT EXISTS "+w.db); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:i] {
		for _, s := range m.Statements(w.db) {
			if err := w.execDDL(ctx, s); err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
		}
	}
	b, err := w.conn.PrepareBatch(ctx, "INSERT INTO "+w.table("fee_records")+" (icid, session_id, call_in_time, raw)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append("old", "s", mustTime(t, "2024-01-01 00:00:00"), "{}"); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	// 0006 stopped after its ALTERs, then the whole of it applied again.
	for _, s := range ms[i].Statements(w.db) {
		if strings.HasPrefix(s, "ALTER TABLE") {
			if err := w.execDDL(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Migrate(ctx); err != nil {
		t.Fatalf("Migrate after a partial 0006: %v", err)
	}
	var (
		derived uint8
		as      []string
		dur     *int32
		area    string
	)
	if err := w.conn.QueryRow(ctx, "SELECT call_in_time_derived, anomalies, call_duration, area_code FROM "+w.table("fee_records_latest")+
		" WHERE icid = 'old'").Scan(&derived, &as, &dur, &area); err != nil {
		t.Fatal(err)
	}
	if derived != 0 || len(as) != 0 || dur != nil || area != "" {
		t.Errorf("an old row reads call_in_time_derived %d, anomalies %v, call_duration %v, area_code %q", derived, as, dur, area)
	}
	var n uint64
	if err := w.conn.QueryRow(ctx, "SELECT count() FROM "+w.table("call_events_latest")+" WHERE call_rel_direction IS NULL AND empty(anomalies)").Scan(&n); err != nil {
		t.Errorf("call_events_latest lacks the new columns: %v", err)
	}
}
