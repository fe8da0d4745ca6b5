package warehouse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/pnstream/pnstream/schemas"
)

// migrationsTable records which migrations were applied, when, and the
// checksum of the text that was applied. Like the migrations it is created
// with IF NOT EXISTS; concurrent migrators may both record a version, which
// ReplacingMergeTree collapses and the reader ignores.
const migrationsTable = "schema_migrations"

// Migrate brings the database up to the embedded migrations of package
// schemas: it creates the database, then applies, in version order, every
// migration not yet recorded in schema_migrations, and records it.
//
// Migrate is safe to run repeatedly and from several processes at once:
// every statement is idempotent (IF NOT EXISTS), and a concurrent creator
// winning the race is not an error. A migration that fails midway is simply
// applied again next time. Migrate refuses to continue when an applied
// migration's text has changed since, because the change would silently not
// reach existing databases: the fix is a new migration. Errors reaching the
// server are transient (see retry.IsPermanent).
//
// With Config.Cluster set, every statement runs ON CLUSTER and the
// migrations are applied in their cluster variant (see
// schemas.Migration.ClusterStatements); schema_migrations is then one
// table replicated to every server of the cluster, so whichever server a
// migrator reaches knows what was applied. The checksum is that of the
// migration file in both forms.
func (w *Warehouse) Migrate(ctx context.Context) error {
	_, err := w.migrate(ctx)
	return err
}

// migrate is Migrate, also returning the names of the migrations it
// applied, none when the schema was up to date.
func (w *Warehouse) migrate(ctx context.Context) ([]string, error) {
	ms, err := schemas.ClickHouseMigrations()
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if err := w.execDDL(ctx, "CREATE DATABASE IF NOT EXISTS "+w.db+w.onCluster()); err != nil {
		return nil, fmt.Errorf("migrate: create database %s: %w", w.db, err)
	}
	if err := w.execDDL(ctx, w.migrationsTableDDL()); err != nil {
		return nil, fmt.Errorf("migrate: create %s: %w", migrationsTable, err)
	}
	applied, err := w.appliedMigrations(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}

	var done []string
	for _, m := range ms {
		sum := checksum(m)
		if prev, ok := applied[uint32(m.Version)]; ok {
			if prev != sum {
				return done, fmt.Errorf("migrate: %s changed after it was applied to %s (checksum %.12s, applied %.12s); add a new migration instead of editing one", m.Name, w.db, sum, prev)
			}
			continue
		}
		stmts, err := w.statements(m)
		if err != nil {
			return done, fmt.Errorf("migrate: %w", err)
		}
		for i, stmt := range stmts {
			if err := w.execDDL(ctx, stmt); err != nil {
				return done, fmt.Errorf("migrate: %s statement %d: %w", m.Name, i+1, err)
			}
		}
		if err := w.recordMigration(ctx, m, sum); err != nil {
			return done, fmt.Errorf("migrate: record %s: %w", m.Name, err)
		}
		done = append(done, m.Name)
	}
	return done, nil
}

// migrationsColumns are the columns of schema_migrations.
const migrationsColumns = `
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime
)`

// migrationsTableDDL creates schema_migrations. On a cluster its replicas
// are all the servers of the cluster, whatever their shard: the ZooKeeper
// path has no {shard}, and each replica is named by its shard and replica
// macros, which together are unique.
func (w *Warehouse) migrationsTableDDL() string {
	if w.cluster == "" {
		return `CREATE TABLE IF NOT EXISTS ` + w.table(migrationsTable) + migrationsColumns + `
ENGINE = ReplacingMergeTree()
ORDER BY version`
	}
	return `CREATE TABLE IF NOT EXISTS ` + w.table(migrationsTable) + w.onCluster() + migrationsColumns + `
ENGINE = ReplicatedReplacingMergeTree('` + schemas.ReplicationPathPrefix + `all/` + w.db + `/` + migrationsTable + `', '{shard}-{replica}')
ORDER BY version`
}

// onCluster is the ON CLUSTER clause of DDL: empty for one server.
func (w *Warehouse) onCluster() string {
	if w.cluster == "" {
		return ""
	}
	return " ON CLUSTER " + w.cluster
}

// statements returns m's statements for this deployment: as written for one
// server, or their cluster variant.
func (w *Warehouse) statements(m schemas.Migration) ([]string, error) {
	if w.cluster == "" {
		return m.Statements(w.db), nil
	}
	return m.ClusterStatements(w.db, w.cluster)
}

// execDDL runs one idempotent DDL statement. An "already exists" answer is
// success: should a concurrent migrator create the object between the
// server's existence check and this statement's create, that is what the
// server says. (Six concurrent migrators never hit it on 18.16, which
// serializes DDL, but servers with ON CLUSTER or Atomic databases differ.)
// So is a column that exists for an ALTER TABLE ... ADD COLUMN: 18.16 has
// no ADD COLUMN IF NOT EXISTS, and a migration stopped after its ALTERs is
// applied again.
func (w *Warehouse) execDDL(ctx context.Context, stmt string) error {
	err := w.conn.Exec(ctx, stmt)
	if code, ok := ExceptionCode(err); ok {
		switch proto.Error(code) {
		case proto.ErrTableAlreadyExists, proto.ErrDatabaseAlreadyExists:
			return nil
		case proto.ErrDuplicateColumn, proto.ErrIllegalColumn:
			// Current releases say DUPLICATE_COLUMN, 18.16 ILLEGAL_COLUMN,
			// which it also uses for other column problems.
			if strings.HasPrefix(stmt, "ALTER TABLE ") && strings.Contains(err.Error(), "already exists") {
				return nil
			}
		}
	}
	return classify(err)
}

// appliedMigrations returns the checksum of every recorded version.
func (w *Warehouse) appliedMigrations(ctx context.Context) (map[uint32]string, error) {
	rows, err := w.conn.Query(ctx, "SELECT version, checksum FROM "+w.table(migrationsTable))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", migrationsTable, classify(err))
	}
	defer rows.Close()
	applied := make(map[uint32]string)
	for rows.Next() {
		var (
			v   uint32
			sum string
		)
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("read %s: %w", migrationsTable, err)
		}
		applied[v] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", migrationsTable, classify(err))
	}
	return applied, nil
}

// recordMigration inserts the row that marks m applied.
func (w *Warehouse) recordMigration(ctx context.Context, m schemas.Migration, sum string) error {
	b, err := w.conn.PrepareBatch(ctx, "INSERT INTO "+w.table(migrationsTable)+" (version, name, checksum, applied_at)")
	if err != nil {
		return classify(err)
	}
	if err := b.Append(uint32(m.Version), m.Name, sum, time.Now().UTC()); err != nil {
		return errors.Join(err, b.Abort())
	}
	return classify(b.Send())
}

// checksum identifies the text of a migration.
func checksum(m schemas.Migration) string {
	h := sha256.Sum256([]byte(m.SQL))
	return hex.EncodeToString(h[:])
}
