package schemas

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// The cluster variant of the migrations. The files in clickhouse/ describe
// one server; on a ClickHouse cluster (remote_servers, ZooKeeper, and the
// {shard} and {replica} macros on every server) the same migrations are
// applied in a form derived from them, so that there is one text to review
// and to keep up to date:
//
//   - CREATE DATABASE gains ON CLUSTER.
//   - Each table T becomes T_local, created ON CLUSTER with the Replicated
//     twin of its engine (ReplacingMergeTree → ReplicatedReplacingMergeTree)
//     under the ZooKeeper path /clickhouse/tables/{shard}/<database>/T, so
//     the replicas of a shard share its rows; and T itself becomes a
//     Distributed table over T_local, sharded by cityHash64 of the first
//     column of T's ORDER BY key. Every copy of an identity (icid;
//     session_id, event_type, event_time) therefore lands on the same shard,
//     where ReplacingMergeTree collapses it, and readers and writers keep
//     using T: SELECT ... FROM T FINAL is merged on each shard.
//   - Views gain ON CLUSTER; they read the Distributed tables.
//   - ALTER TABLE T ADD COLUMN becomes the same ALTER ON CLUSTER of
//     T_local; after the migration's last ALTER of T, the Distributed T is
//     dropped and created again AS T_local, with T_local's new columns.
//     (An ALTER ON CLUSTER of a Distributed table is refused where shards
//     replicate internally: "Table isn't replicated, but shard is
//     replicated according to its cluster definition", code 371. T holds
//     no rows of its own: pnstream inserts with insert_distributed_sync.)
//     T's sharding key is that of its CREATE TABLE, in this migration or
//     an embedded one.
//   - DROP TABLE IF EXISTS V gains ON CLUSTER. It is derived only for a
//     view the same migration creates again (a view is dropped to be
//     recreated with new columns); dropping a table has no cluster form.
//
// Column comments are dropped: ClickHouse 18.16 refuses to create a
// replicated table whose columns have comments ("Table structure in
// ZooKeeper is too different from local table structure", code 122). They
// stay documented in the migration files.
//
// A statement of another shape (a materialized view, another ALTER, a
// table without ORDER BY) has no derived form: ClusterStatements returns an error
// naming it, which the tests of this package turn into a failure for every
// embedded migration, so a new migration cannot silently lack its cluster
// variant.

// LocalTableSuffix names the per-shard table under a Distributed one:
// fee_records holds Distributed rows stored in fee_records_local.
const LocalTableSuffix = "_local"

// ReplicationPathPrefix is where the replicated tables keep their state in
// ZooKeeper; a table's path is ReplicationPathPrefix + "{shard}/<database>/<table>".
const ReplicationPathPrefix = "/clickhouse/tables/"

var (
	clusterCreateDatabase = regexp.MustCompile(`^CREATE DATABASE IF NOT EXISTS ([A-Za-z_]\w*)$`)
	clusterCreateView     = regexp.MustCompile(`(?s)^(CREATE VIEW IF NOT EXISTS [A-Za-z_]\w*\.[A-Za-z_]\w*)(\s+AS\s.*)$`)
	clusterCreateTable    = regexp.MustCompile(`^CREATE TABLE IF NOT EXISTS ([A-Za-z_]\w*)\.([A-Za-z_]\w*)\s*\(`)
	// The engine clause after the column list: a MergeTree family engine
	// with simple arguments, then the rest (PARTITION BY, ORDER BY, ...).
	clusterEngine = regexp.MustCompile(`(?s)^\s*ENGINE\s*=\s*([A-Za-z]*MergeTree)(?:\s*\(([^()]*)\))?(.*)$`)
	// The first column of the ORDER BY key, bare or in a tuple.
	clusterOrderBy   = regexp.MustCompile(`\bORDER BY\s+(?:\(\s*)?([A-Za-z_]\w*)\s*(?:[,)]|$)`)
	columnComment    = regexp.MustCompile(`\s+COMMENT\s+'(?:[^'\\]|\\.)*'`)
	clusterAddColumn = regexp.MustCompile(`(?s)^ALTER TABLE ([A-Za-z_]\w*)\.([A-Za-z_]\w*)(\s+ADD COLUMN\s.*)$`)
	clusterDropView  = regexp.MustCompile(`^DROP TABLE IF EXISTS ([A-Za-z_]\w*\.[A-Za-z_]\w*)$`)
)

// ClusterStatements returns the migration's statements for a database
// sharded and replicated on the named ClickHouse cluster, in file order: the
// cluster variant described above. database and cluster must be plain
// identifiers; the caller validates them, since they are spliced into DDL.
func (m Migration) ClusterStatements(database, cluster string) ([]string, error) {
	var out []string
	stmts := m.Statements(database)
	lastAlter := map[string]int{} // table → index of the migration's last ALTER of it
	for i, s := range stmts {
		if a := clusterAddColumn.FindStringSubmatch(s); a != nil {
			lastAlter[a[2]] = i
		}
	}
	for i, s := range stmts {
		if d := clusterDropView.FindStringSubmatch(s); d != nil {
			if !recreatesView(stmts[i+1:], d[1]) {
				return nil, fmt.Errorf("%s: no cluster variant: DROP TABLE %s: only a view the migration creates again may be dropped", m.Name, d[1])
			}
			out = append(out, s+" ON CLUSTER "+cluster)
			continue
		}
		if a := clusterAddColumn.FindStringSubmatch(s); a != nil {
			db, table, add := a[1], a[2], columnComment.ReplaceAllString(a[3], "")
			out = append(out, "ALTER TABLE "+db+"."+table+LocalTableSuffix+" ON CLUSTER "+cluster+add)
			if lastAlter[table] == i {
				key, err := shardKeyOf(database, table, stmts)
				if err != nil {
					return nil, fmt.Errorf("%s: no cluster variant: ALTER TABLE %s: %w", m.Name, table, err)
				}
				out = append(out, "DROP TABLE IF EXISTS "+db+"."+table+" ON CLUSTER "+cluster, distributedDDL(db, table, cluster, key))
			}
			continue
		}
		derived, err := clusterStatement(s, cluster)
		if err != nil {
			return nil, fmt.Errorf("%s: no cluster variant: %w", m.Name, err)
		}
		out = append(out, derived...)
	}
	return out, nil
}

// clusterStatement derives the cluster form of one single-server statement.
func clusterStatement(stmt, cluster string) ([]string, error) {
	onCluster := " ON CLUSTER " + cluster
	if clusterCreateDatabase.MatchString(stmt) {
		return []string{stmt + onCluster}, nil
	}
	if v := clusterCreateView.FindStringSubmatch(stmt); v != nil {
		return []string{v[1] + onCluster + v[2]}, nil
	}
	t, err := parseCreateTable(stmt)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(t.engine, "Replicated") {
		return nil, fmt.Errorf("table %s: engine %s is replicated already; migrations describe one server", t.table, t.engine)
	}
	replicated := fmt.Sprintf("'%s{shard}/%s/%s', '{replica}'", ReplicationPathPrefix, t.db, t.table)
	if t.args != "" {
		replicated += ", " + t.args
	}
	return []string{
		fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s%s\n%s\nENGINE = Replicated%s(%s)%s",
			t.db, t.table+LocalTableSuffix, onCluster, t.columns, t.engine, replicated, t.rest),
		distributedDDL(t.db, t.table, cluster, t.key),
	}, nil
}

// createTable is a CREATE TABLE statement of a migration, in parts.
type createTable struct {
	db, table string
	columns   string // the column list in its parentheses, without comments
	engine    string // a MergeTree family engine
	args      string // the engine's arguments
	rest      string // what follows the engine: PARTITION BY, ORDER BY, ...
	key       string // the first column of the ORDER BY key, to shard by
}

func parseCreateTable(stmt string) (createTable, error) {
	t := clusterCreateTable.FindStringSubmatchIndex(stmt)
	if t == nil {
		return createTable{}, fmt.Errorf("unsupported statement (want CREATE DATABASE, TABLE or VIEW IF NOT EXISTS, ALTER TABLE ADD COLUMN, or DROP TABLE IF EXISTS of a view created again): %.60q", stmt)
	}
	c := createTable{db: stmt[t[2]:t[3]], table: stmt[t[4]:t[5]]}
	open := t[1] - 1
	end, err := closingParen(stmt, open)
	if err != nil {
		return createTable{}, fmt.Errorf("table %s: %w", c.table, err)
	}
	c.columns = columnComment.ReplaceAllString(stmt[open:end+1], "")
	e := clusterEngine.FindStringSubmatch(stmt[end+1:])
	if e == nil {
		return createTable{}, fmt.Errorf("table %s: want ENGINE = <MergeTree family>(simple arguments) after the columns", c.table)
	}
	c.engine, c.args, c.rest = e[1], strings.TrimSpace(e[2]), e[3]
	key := clusterOrderBy.FindStringSubmatch(c.rest)
	if key == nil {
		return createTable{}, fmt.Errorf("table %s: want ORDER BY starting with a column, to shard by", c.table)
	}
	c.key = key[1]
	return c, nil
}

// distributedDDL creates the Distributed table over table's local one,
// sharded by key.
func distributedDDL(db, table, cluster, key string) string {
	local := table + LocalTableSuffix
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s ON CLUSTER %s AS %s.%s\nENGINE = Distributed(%s, %s, %s, cityHash64(%s))",
		db, table, cluster, db, local, cluster, db, local, key)
}

// shardKeyOf returns the sharding key of table, from its CREATE TABLE in
// stmts or else in the embedded migrations.
func shardKeyOf(database, table string, stmts []string) (string, error) {
	find := func(stmts []string) (string, bool) {
		for _, s := range stmts {
			if t, err := parseCreateTable(s); err == nil && t.table == table {
				return t.key, true
			}
		}
		return "", false
	}
	if key, ok := find(stmts); ok {
		return key, nil
	}
	ms, err := ClickHouseMigrations()
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		if key, ok := find(m.Statements(database)); ok {
			return key, nil
		}
	}
	return "", fmt.Errorf("no CREATE TABLE of %s in the migrations, to shard its Distributed table by", table)
}

// closingParen returns the index of the parenthesis that closes the one at
// open, skipping single-quoted strings (with backslash escapes).
func closingParen(s string, open int) (int, error) {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '\'':
			for i++; i < len(s) && s[i] != '\''; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return i, nil
			}
		}
	}
	return 0, errors.New("unbalanced parentheses in the column list")
}

// recreatesView reports whether stmts create the view name (db.view).
func recreatesView(stmts []string, name string) bool {
	for _, s := range stmts {
		if v := clusterCreateView.FindStringSubmatch(s); v != nil && v[1] == "CREATE VIEW IF NOT EXISTS "+name {
			return true
		}
	}
	return false
}
