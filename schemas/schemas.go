// Package schemas holds the ClickHouse DDL and JSON Schemas that are
// pnstream's external contract, embedded in the binaries that apply and
// serve them.
//
// The ClickHouse migrations live in clickhouse/, numbered NNNN_name.sql and
// applied in order by the warehouse package. Each names its database only
// through the DatabasePlaceholder, runs on every ClickHouse from 18.16 to
// current releases, and is idempotent: CREATE ... IF NOT EXISTS; ALTER
// TABLE ... ADD COLUMN of one column (18.16 has no IF NOT EXISTS there, and
// the migrator takes an existing column for done); DROP TABLE IF EXISTS of
// a view the migration then creates again.
//
// The JSON Schemas (draft 2020-12) in json/ describe the three push bodies
// the platform sends: a fee push, a call event and an X-number status push.
// They accept what privatenumber's decoder accepts (only identities refuse
// a record; any other value not as documented is tolerated through
// $defs/tolerated), and with $defs/tolerated replaced by false they
// describe the documented form; the golden test in this package checks
// both against the decoder on every sample in testdata/.
package schemas

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// DatabasePlaceholder stands for the database name in the migrations; the
// migrator replaces it with the configured database before execution.
const DatabasePlaceholder = "{{database}}"

// JSON Schema file names, the $id's last element of each schema.
const (
	FeePushSchemaFile   = "fee-push.schema.json"
	CallEventSchemaFile = "call-event.schema.json"
	NumStatusSchemaFile = "numstatus-push.schema.json"
)

//go:embed clickhouse/*.sql
var clickhouseFS embed.FS

//go:embed json/*.schema.json
var jsonFS embed.FS

// Migration is one numbered ClickHouse migration.
type Migration struct {
	// Version is the number the file name starts with; migrations apply in
	// ascending Version.
	Version int
	// Name is the file name, such as "0001_fee_records.sql".
	Name string
	// SQL is the file's text, with the DatabasePlaceholder unreplaced.
	SQL string
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// ClickHouseMigrations returns the embedded migrations in ascending Version.
// It fails when a file is misnamed or two files share a version, which the
// tests of this package rule out for the embedded set.
func ClickHouseMigrations() ([]Migration, error) {
	return loadMigrations(clickhouseFS, "clickhouse")
}

func loadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if e.IsDir() || m == nil {
			return nil, fmt.Errorf("migration %q: want a file named NNNN_name.sql", e.Name())
		}
		v, err := strconv.Atoi(m[1])
		if err != nil {
			return nil, fmt.Errorf("migration %q: %w", e.Name(), err)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations %q and %q share version %d", ms[i-1].Name, ms[i].Name, ms[i].Version)
		}
	}
	return ms, nil
}

// Statements returns the migration's statements for the given database, in
// file order, without comments. Statements are separated by a semicolon at
// the end of a line; a semicolon inside a line (in a COMMENT string, say)
// does not split. database must be a plain identifier; the caller validates
// it, since it is spliced into DDL.
func (m Migration) Statements(database string) []string {
	var (
		stmts []string
		cur   strings.Builder
	)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			stmts = append(stmts, s)
		}
		cur.Reset()
	}
	for line := range strings.Lines(m.SQL) {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			// Whole-line comments are dropped so that a comment after the
			// last statement does not become an (empty, rejected) query of
			// its own, and errors quote the DDL, not its preamble.
			continue
		}
		if strings.HasSuffix(trimmed, ";") {
			cur.WriteString(strings.TrimSuffix(strings.TrimRight(line, " \t\r\n"), ";"))
			flush()
			continue
		}
		cur.WriteString(line)
	}
	flush()
	for i, s := range stmts {
		stmts[i] = strings.ReplaceAll(s, DatabasePlaceholder, database)
	}
	return stmts
}

// FeePushSchema returns the JSON Schema of a fee push body.
func FeePushSchema() []byte { return mustReadJSON(FeePushSchemaFile) }

// CallEventSchema returns the JSON Schema of a call event push body.
func CallEventSchema() []byte { return mustReadJSON(CallEventSchemaFile) }

// NumStatusPushSchema returns the JSON Schema of an X-number status push
// body.
func NumStatusPushSchema() []byte { return mustReadJSON(NumStatusSchemaFile) }

// JSONSchemas returns the embedded JSON Schemas as a file system whose root
// holds FeePushSchemaFile, CallEventSchemaFile and NumStatusSchemaFile.
func JSONSchemas() fs.FS {
	sub, err := fs.Sub(jsonFS, "json")
	if err != nil {
		panic(fmt.Sprintf("schemas: embedded json directory: %v", err)) // cannot happen: the path is a constant
	}
	return sub
}

func mustReadJSON(name string) []byte {
	b, err := jsonFS.ReadFile("json/" + name)
	if err != nil {
		// The file is embedded at build time; a missing one is a build
		// defect the tests of this package catch, not a runtime condition.
		panic(fmt.Sprintf("schemas: embedded %s: %v", name, err))
	}
	return b
}
