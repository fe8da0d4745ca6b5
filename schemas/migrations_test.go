package schemas_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"

	"github.com/pnstream/pnstream/schemas"
)

func TestClickHouseMigrations(t *testing.T) {
	ms, err := schemas.ClickHouseMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 3 {
		t.Fatalf("got %d migrations, want at least the three tables", len(ms))
	}
	// Features ClickHouse 18.16 lacks; the DDL must run there too.
	forbidden := regexp.MustCompile(`(?i)\b(LowCardinality|DateTime64|TTL|CODEC|insert_deduplication_token)\b`)
	ddl := regexp.MustCompile(`^(?s)CREATE (DATABASE|TABLE|VIEW|MATERIALIZED VIEW) IF NOT EXISTS `)
	// One column an ALTER, which the migrator takes for done when the
	// column exists (18.16 has no ADD COLUMN IF NOT EXISTS).
	addColumn := regexp.MustCompile(`^ALTER TABLE \w+\.\w+ ADD COLUMN \w+ [^,]*$`)
	comment := regexp.MustCompile(`\s+COMMENT\s+'(?:[^'\\]|\\.)*'`)
	dropView := regexp.MustCompile(`^DROP TABLE IF EXISTS (\w+\.\w+)$`)
	for i, m := range ms {
		if i > 0 && m.Version <= ms[i-1].Version {
			t.Errorf("%s: versions not ascending", m.Name)
		}
		stmts := m.Statements("pn_test")
		if len(stmts) == 0 {
			t.Errorf("%s: no statements", m.Name)
		}
		if !strings.Contains(m.SQL, schemas.DatabasePlaceholder) {
			t.Errorf("%s: does not name its database through %s", m.Name, schemas.DatabasePlaceholder)
		}
		for j, s := range stmts {
			drop := dropView.FindStringSubmatch(s)
			switch {
			case ddl.MatchString(s), addColumn.MatchString(comment.ReplaceAllString(s, "")):
			case drop != nil:
				// Only a view is dropped, to be created again with new
				// columns; never a table.
				if !slices.ContainsFunc(stmts[j+1:], func(later string) bool {
					return strings.HasPrefix(later, "CREATE VIEW IF NOT EXISTS "+drop[1]+" AS")
				}) {
					t.Errorf("%s: drops %s without creating it again as a view", m.Name, drop[1])
				}
			default:
				t.Errorf("%s: statement is not an idempotent CREATE ... IF NOT EXISTS, ALTER TABLE ... ADD COLUMN of one column, or DROP of a view created again:\n%s", m.Name, s)
			}
			if f := forbidden.FindString(s); f != "" {
				t.Errorf("%s: uses %s, which ClickHouse 18.16 lacks", m.Name, f)
			}
			if strings.Contains(s, "{{") || strings.HasSuffix(s, ";") || strings.Contains(s, "\n--") {
				t.Errorf("%s: statement keeps a placeholder, a semicolon or a comment:\n%s", m.Name, s)
			}
		}
	}
}

func TestStatements(t *testing.T) {
	m := schemas.Migration{SQL: `-- leading comment; with a semicolon
CREATE TABLE IF NOT EXISTS {{database}}.a
(
    x String COMMENT 'one; two'
) ENGINE = MergeTree ORDER BY x;

-- between
CREATE VIEW IF NOT EXISTS {{database}}.b AS
SELECT * FROM {{database}}.a;
`}
	got := m.Statements("db")
	want := []string{
		"CREATE TABLE IF NOT EXISTS db.a\n(\n    x String COMMENT 'one; two'\n) ENGINE = MergeTree ORDER BY x",
		"CREATE VIEW IF NOT EXISTS db.b AS\nSELECT * FROM db.a",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Statements =\n%q\nwant\n%q", got, want)
	}
}

// TestFeeRecordColumns checks the contract that fee_records has a column,
// named in snake_case, for every field of privatenumber.FeeRecord; the two
// spellings of the extension share extend_num.
func TestFeeRecordColumns(t *testing.T) {
	ms, err := schemas.ClickHouseMigrations()
	if err != nil {
		t.Fatal(err)
	}
	cols := columnsOf(t, ms, "fee_records")
	for _, f := range feeRecordJSONFields() {
		col := snakeCase(f)
		if f == "extendNumber" {
			col = "extend_num"
		}
		if !slices.Contains(cols, col) {
			t.Errorf("fee_records lacks column %s for field %s", col, f)
		}
	}
	for _, c := range []string{"raw", "ingested_at", "call_in_time_derived", "anomalies"} {
		if !slices.Contains(cols, c) {
			t.Errorf("fee_records lacks column %s", c)
		}
	}
	events := columnsOf(t, ms, "call_events")
	for _, c := range []string{"call_rel_direction", "anomalies", "raw"} {
		if !slices.Contains(events, c) {
			t.Errorf("call_events lacks column %s", c)
		}
	}
}

// columnsOf returns the column names of a table in the migrations: those
// of its CREATE TABLE, then those later ALTERs add.
func columnsOf(t *testing.T, ms []schemas.Migration, table string) []string {
	t.Helper()
	head := "CREATE TABLE IF NOT EXISTS db." + table + "\n("
	alter := "ALTER TABLE db." + table + " ADD COLUMN "
	var (
		cols    []string
		created bool
	)
	for _, m := range ms {
		for _, s := range m.Statements("db") {
			if add, ok := strings.CutPrefix(s, alter); ok {
				cols = append(cols, strings.Fields(add)[0])
				continue
			}
			body, ok := strings.CutPrefix(s, head)
			if !ok {
				continue
			}
			created = true
			body, _, _ = strings.Cut(body, "\n)")
			for line := range strings.Lines(body) {
				if f := strings.Fields(line); len(f) > 1 {
					cols = append(cols, f[0])
				}
			}
		}
	}
	if !created {
		t.Fatalf("no CREATE TABLE for %s", table)
	}
	return cols
}

// snakeCase turns the platform's camelCase names into column names:
// callInTime → call_in_time.
func snakeCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestJSONSchemasFS(t *testing.T) {
	if err := fstest.TestFS(schemas.JSONSchemas(), schemas.FeePushSchemaFile, schemas.CallEventSchemaFile, schemas.NumStatusSchemaFile); err != nil {
		t.Error(err)
	}
}
