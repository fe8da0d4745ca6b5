// Package warehouse stores pushes in ClickHouse: it is the ClickHouse edge
// of the recorder. It applies the embedded migrations of package schemas,
// writes fee records, call events and recording outcomes in batches, and
// classifies every failure as permanent (the data is bad: dead-letter it) or
// transient (retry it).
//
// It speaks clickhouse-go's native protocol, the one that works with every
// server from ClickHouse 18.16 to current releases, and logs nothing: each
// error is returned, wrapped with what was being done, for the caller to
// handle once.
package warehouse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Warehouse is a pool of connections to one ClickHouse deployment and the
// database pnstream writes to. It is safe for concurrent use.
type Warehouse struct {
	conn driver.Conn
	db   string
	// cluster is Config.Cluster: empty for one server.
	cluster string
}

// Open validates cfg, opens a connection pool and pings the server, so a
// wrong address or password is reported here rather than at the first
// insert. A server that cannot be reached yields a transient error (see
// retry.IsPermanent): the caller may retry Open. The database need not exist yet:
// connections use the server's default database and every statement names
// cfg.Database explicitly, so Migrate can create it.
func Open(ctx context.Context, cfg Config) (*Warehouse, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("clickhouse config: %w", err)
	}
	var settings clickhouse.Settings
	if cfg.Cluster != "" {
		// An insert into a Distributed table returns once every shard
		// stored its rows, not once the receiving server queued them, so
		// a message is acked only after its row is on its shard.
		settings = clickhouse.Settings{"insert_distributed_sync": 1}
	}
	tlsConfig, err := cfg.TLSConfig()
	if err != nil {
		return nil, fmt.Errorf("clickhouse config: %w", err)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol: clickhouse.Native,
		TLS:      tlsConfig,
		Settings: settings,
		Addr:     cfg.addrs(),
		Auth: clickhouse.Auth{
			Username: cfg.User,
			Password: cfg.Password,
		},
		ClientInfo: clickhouse.ClientInfo{
			Products: []struct{ Name, Version string }{{Name: "pnstream"}},
		},
		DialTimeout: cfg.DialTimeout,
		ReadTimeout: cfg.ReadTimeout,
		// LZ4 shrinks batches of repetitive CDR text on the wire, every
		// server version speaks it, and on loopback it cost no measurable
		// throughput.
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		// A few concurrent inserters and a migrator are all pnstream needs;
		// idle connections beyond that only hold server threads.
		MaxOpenConns:    8,
		MaxIdleConns:    4,
		ConnMaxLifetime: 30 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", cfg.Addr, err)
	}
	w := &Warehouse{conn: conn, db: cfg.Database, cluster: cfg.Cluster}
	if err := w.Ping(ctx); err != nil {
		return nil, errors.Join(err, w.Close())
	}
	return w, nil
}

// Ping checks that the server answers, for readiness probes.
func (w *Warehouse) Ping(ctx context.Context) error {
	if err := w.conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping clickhouse: %w", classify(err))
	}
	return nil
}

// ServerVersion returns the server's version, such as "18.16.1", for the
// start-up log and for using newer-server features only where they exist.
func (w *Warehouse) ServerVersion(ctx context.Context) (string, error) {
	var v string
	if err := w.conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return "", fmt.Errorf("clickhouse server version: %w", classify(err))
	}
	return v, nil
}

// Database returns the database pnstream's tables live in.
func (w *Warehouse) Database() string { return w.db }

// Close releases the pool. Inserts in flight fail; call it after the last
// flush.
func (w *Warehouse) Close() error {
	if err := w.conn.Close(); err != nil {
		return fmt.Errorf("close clickhouse: %w", err)
	}
	return nil
}

// table qualifies a table name with the database.
func (w *Warehouse) table(name string) string { return w.db + "." + name }
