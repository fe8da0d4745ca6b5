package schemas_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pnstream/pnstream/schemas"
)

func TestClusterStatements(t *testing.T) {
	m := schemas.Migration{Name: "0001_x.sql", SQL: `-- a table, a view
CREATE TABLE IF NOT EXISTS {{database}}.calls
(
    icid        String COMMENT 'the identity (icid); it\'s quoted',
    call_time   Nullable(DateTime) COMMENT 'UTC',
    ingested_at DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ingested_at)
ORDER BY (icid, call_time);

CREATE VIEW IF NOT EXISTS {{database}}.calls_latest AS
SELECT * FROM {{database}}.calls FINAL;
`}
	got, err := m.ClusterStatements("pn", "pn_cluster")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`CREATE TABLE IF NOT EXISTS pn.calls_local ON CLUSTER pn_cluster
(
    icid        String,
    call_time   Nullable(DateTime),
    ingested_at DateTime DEFAULT now()
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/pn/calls', '{replica}', ingested_at)
PARTITION BY toYYYYMM(ingested_at)
ORDER BY (icid, call_time)`,
		`CREATE TABLE IF NOT EXISTS pn.calls ON CLUSTER pn_cluster AS pn.calls_local
ENGINE = Distributed(pn_cluster, pn, calls_local, cityHash64(icid))`,
		`CREATE VIEW IF NOT EXISTS pn.calls_latest ON CLUSTER pn_cluster AS
SELECT * FROM pn.calls FINAL`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("ClusterStatements =\n%s\nwant\n%s", strings.Join(got, "\n;\n"), strings.Join(want, "\n;\n"))
	}

	// Two ALTERs of an embedded table: its local table is altered, then
	// its Distributed table created again once, sharded by its identity.
	alter := schemas.Migration{SQL: `ALTER TABLE {{database}}.fee_records ADD COLUMN tags Array(String) COMMENT 'a; b' AFTER icid;
ALTER TABLE {{database}}.fee_records ADD COLUMN n UInt8;

DROP TABLE IF EXISTS {{database}}.fee_records_latest;

CREATE VIEW IF NOT EXISTS {{database}}.fee_records_latest AS
SELECT * FROM {{database}}.fee_records FINAL;
`}
	got, err = alter.ClusterStatements("pn", "pn_cluster")
	want = []string{
		"ALTER TABLE pn.fee_records_local ON CLUSTER pn_cluster ADD COLUMN tags Array(String) AFTER icid",
		"ALTER TABLE pn.fee_records_local ON CLUSTER pn_cluster ADD COLUMN n UInt8",
		"DROP TABLE IF EXISTS pn.fee_records ON CLUSTER pn_cluster",
		"CREATE TABLE IF NOT EXISTS pn.fee_records ON CLUSTER pn_cluster AS pn.fee_records_local\nENGINE = Distributed(pn_cluster, pn, fee_records_local, cityHash64(icid))",
		"DROP TABLE IF EXISTS pn.fee_records_latest ON CLUSTER pn_cluster",
		"CREATE VIEW IF NOT EXISTS pn.fee_records_latest ON CLUSTER pn_cluster AS\nSELECT * FROM pn.fee_records FINAL",
	}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ALTER and DROP: ClusterStatements =\n%s, %v\nwant\n%s", strings.Join(got, "\n;\n"), err, strings.Join(want, "\n;\n"))
	}
	// A table created in the same migration shards by its own key.
	both := schemas.Migration{SQL: m.SQL + "\nALTER TABLE {{database}}.calls ADD COLUMN x String;\n"}
	got, err = both.ClusterStatements("pn", "pn_cluster")
	if err != nil || len(got) != 6 || !strings.HasSuffix(got[5], "cityHash64(icid))") || !strings.HasPrefix(got[4], "DROP TABLE IF EXISTS pn.calls ON CLUSTER") {
		t.Errorf("ALTER of a table of the same migration: %q, %v", got, err)
	}

	db := schemas.Migration{SQL: "CREATE DATABASE IF NOT EXISTS {{database}}"}
	if got, err := db.ClusterStatements("pn", "c"); err != nil || !slices.Equal(got, []string{"CREATE DATABASE IF NOT EXISTS pn ON CLUSTER c"}) {
		t.Errorf("database: %q, %v", got, err)
	}
	plain := schemas.Migration{SQL: "CREATE TABLE IF NOT EXISTS {{database}}.t\n(\n    k String\n)\nENGINE = MergeTree\nORDER BY k"}
	got, err = plain.ClusterStatements("pn", "c")
	if err != nil || len(got) != 2 || !strings.Contains(got[0], "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/pn/t', '{replica}')\nORDER BY k") {
		t.Errorf("engine without arguments: %q, %v", got, err)
	}
}

// Statements that have no derived cluster form are refused with a reason,
// never passed through as single-server DDL.
func TestClusterStatementsRefuse(t *testing.T) {
	table := "CREATE TABLE IF NOT EXISTS {{database}}.t\n(\n    k String\n)\n"
	for _, tt := range []struct{ name, sql, want string }{
		{"materialized view", "CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.mv ENGINE = SummingMergeTree() ORDER BY k AS SELECT k FROM {{database}}.t", "unsupported statement"},
		{"alter other than ADD COLUMN", "ALTER TABLE {{database}}.t DROP COLUMN x", "unsupported statement"},
		{"alter of a table no migration creates", "ALTER TABLE {{database}}.nowhere ADD COLUMN x String", "no CREATE TABLE of nowhere"},
		{"drop of a table", "DROP TABLE IF EXISTS {{database}}.t", "only a view the migration creates again"},
		{"drop of a view not created again", "DROP TABLE IF EXISTS {{database}}.v;\nCREATE VIEW IF NOT EXISTS {{database}}.w AS SELECT 1", "only a view"},
		{"drop without IF EXISTS", "DROP TABLE {{database}}.v;\nCREATE VIEW IF NOT EXISTS {{database}}.v AS SELECT 1", "unsupported statement"},
		{"replicated already", table + "ENGINE = ReplicatedMergeTree('/p', 'r')\nORDER BY k", "replicated already"},
		{"no order by", table + "ENGINE = MergeTree\nPARTITION BY k", "ORDER BY"},
		{"expression key", table + "ENGINE = MergeTree\nORDER BY cityHash64(k)", "ORDER BY"},
		{"other engine", table + "ENGINE = Log", "MergeTree family"},
		{"unbalanced", "CREATE TABLE IF NOT EXISTS {{database}}.t\n(\n    k String COMMENT ')'\n", "unbalanced"},
	} {
		_, err := schemas.Migration{Name: "0009_bad.sql", SQL: tt.sql}.ClusterStatements("pn", "c")
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "0009_bad.sql") {
			t.Errorf("%s: err = %v, want one naming the file and containing %q", tt.name, err, tt.want)
		}
	}
}

// Every embedded migration has a cluster variant: each table becomes a
// replicated local table and a Distributed table sharded by its identity.
func TestEmbeddedMigrationsClusterVariant(t *testing.T) {
	ms, err := schemas.ClickHouseMigrations()
	if err != nil {
		t.Fatal(err)
	}
	ddl := regexp.MustCompile(`^(?s)(CREATE (DATABASE|TABLE|VIEW) IF NOT EXISTS|ALTER TABLE|DROP TABLE IF EXISTS) db\.\w+ ON CLUSTER c(\s|$)`)
	distributed := regexp.MustCompile(`ENGINE = Distributed\(c, db, (\w+)_local, cityHash64\((\w+)\)\)$`)
	shardKeys := map[string]string{}
	for _, m := range ms {
		stmts, err := m.ClusterStatements("db", "c")
		if err != nil {
			t.Fatal(err)
		}
		if len(stmts) < len(m.Statements("db")) {
			t.Errorf("%s: %d cluster statements for %d single-server ones", m.Name, len(stmts), len(m.Statements("db")))
		}
		for _, s := range stmts {
			if !ddl.MatchString(s) {
				t.Errorf("%s: not an idempotent CREATE, an ALTER or a DROP ... ON CLUSTER:\n%s", m.Name, s)
			}
			if strings.Contains(s, "COMMENT") || strings.Contains(s, "{{") {
				t.Errorf("%s: keeps a column comment or a placeholder:\n%s", m.Name, s)
			}
			if d := distributed.FindStringSubmatch(s); d != nil {
				shardKeys[d[1]] = d[2]
			}
		}
	}
	want := map[string]string{"fee_records": "icid", "call_events": "session_id", "recordings": "icid", "number_status": "number"}
	for table, key := range want {
		if shardKeys[table] != key {
			t.Errorf("%s is sharded by %q, want %q (its identity, so that copies collapse on one shard)", table, shardKeys[table], key)
		}
	}
}

// The X-number states keep their engine and key on a cluster: every row of
// a number on one shard, where its states collapse and the current view
// groups them.
func TestNumberStatusClusterVariant(t *testing.T) {
	ms, err := schemas.ClickHouseMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for _, m := range ms {
		if m.Name == "0007_number_status.sql" {
			if stmts, err = m.ClusterStatements("db", "c"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(stmts) != 3 {
		t.Fatalf("got %d statements, want the local table, the Distributed one and the view:\n%s", len(stmts), strings.Join(stmts, "\n\n"))
	}
	for i, want := range []string{
		"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/number_status', '{replica}', ingested_at)\nORDER BY (number, status, cause)",
		"ENGINE = Distributed(c, db, number_status_local, cityHash64(number))",
		"CREATE VIEW IF NOT EXISTS db.number_status_current ON CLUSTER c AS",
	} {
		if !strings.Contains(stmts[i], want) {
			t.Errorf("statement %d lacks %q:\n%s", i, want, stmts[i])
		}
	}
}
