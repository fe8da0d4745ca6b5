// Package audit is the compliance console's access log: who searched,
// viewed, played, downloaded, exported, held or erased which call data,
// when and from where. It exists so that every access to subscribers'
// calls can be accounted for afterwards; the console records an access
// before it serves the data, and serves nothing when the record cannot be
// written.
//
// The log is the ClickHouse table access_log (migration
// 0008_access_log.sql), append-only: this package inserts and reads, and
// nothing in pnstream deletes from it (a test of this package checks the
// source tree for statements that would).
package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/pnstream/pnstream/internal/warehouse"
)

// Table is the access log's table name in the warehouse's database.
const Table = "access_log"

// Actions the console records.
const (
	ActionLogin    = "login"
	ActionSearch   = "search"
	ActionView     = "view"
	ActionPlay     = "play"
	ActionDownload = "download"
	ActionExport   = "export"
	ActionHold     = "hold"
	ActionRelease  = "release"
	ActionErase    = "erase"
	ActionAudit    = "audit" // an auditor reading this log
	ActionRefused  = "refused"
)

// Entry is one access.
type Entry struct {
	// At is when the access was recorded, UTC, to the second; Record
	// fills it with the current time when zero.
	At time.Time
	// Who is the user (proxy user or e-mail, or the local token's user).
	Who string
	// Role is the console role the user acted with.
	Role string
	// Action is one of the Action constants.
	Action string
	// Target is what was accessed: an icid, an object key, search criteria.
	Target string
	// From is the client address of the request.
	From string
	// Detail is anything else worth keeping: a refusal's reason, counts.
	Detail string
}

// Validate reports an entry that would not account for an access: one
// without a user or an action.
func (e Entry) Validate() error {
	var errs []error
	if strings.TrimSpace(e.Who) == "" {
		errs = append(errs, errors.New("audit entry: no user"))
	}
	if strings.TrimSpace(e.Action) == "" {
		errs = append(errs, errors.New("audit entry: no action"))
	}
	return errors.Join(errs...)
}

// Filter selects entries for List. Empty fields select everything.
type Filter struct {
	Who    string    // exact user
	Action string    // exact action
	Target string    // substring of the target
	Since  time.Time // at or after, when not zero
	Until  time.Time // before, when not zero
	// Limit caps the entries returned (default 100, at most 1000); Offset
	// skips the first ones, newest first.
	Limit, Offset int
}

// DefaultLimit and MaxLimit bound a page of List.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// Log writes and reads the access log. It is safe for concurrent use.
type Log struct {
	conn  driver.Conn
	table string
	now   func() time.Time
}

// New returns the access log in w's database. It does no I/O: the table
// is created by w.Migrate.
func New(w *warehouse.Warehouse) *Log {
	return &Log{conn: w.Conn(), table: w.Database() + "." + Table, now: time.Now}
}

// Record writes e and returns once ClickHouse stored it. An error means the
// access is not recorded: the caller must not serve the data.
func (l *Log) Record(ctx context.Context, e Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if e.At.IsZero() {
		e.At = l.now()
	}
	// A one-row batch: the native protocol's INSERT, which every server
	// from 18.16 takes, and which returns once the server stored the row.
	b, err := l.conn.PrepareBatch(ctx, "INSERT INTO "+l.table+" (at, who, role, action, target, remote, detail)")
	if err == nil {
		if err = b.Append(e.At.UTC().Truncate(time.Second), e.Who, e.Role, e.Action, e.Target, e.From, e.Detail); err == nil {
			err = b.Send()
		} else {
			_ = b.Abort()
		}
	}
	if err != nil {
		return fmt.Errorf("record %s by %s: %w", e.Action, e.Who, err)
	}
	return nil
}

// List returns the entries f selects, newest first.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, error) {
	where, args := f.where()
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	offset := max(f.Offset, 0)
	q := fmt.Sprintf("SELECT at, who, role, action, target, remote, detail FROM %s%s ORDER BY at DESC, who, action, target LIMIT %d, %d",
		l.table, where, offset, limit)
	rows, err := l.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list access log: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.At, &e.Who, &e.Role, &e.Action, &e.Target, &e.From, &e.Detail); err != nil {
			return nil, fmt.Errorf("scan access log: %w", err)
		}
		e.At = e.At.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read access log: %w", err)
	}
	return out, nil
}

// where is f's WHERE clause (empty, or starting with a space) and its
// arguments.
func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	if f.Who != "" {
		conds, args = append(conds, "who = ?"), append(args, f.Who)
	}
	if f.Action != "" {
		conds, args = append(conds, "action = ?"), append(args, f.Action)
	}
	if f.Target != "" {
		conds, args = append(conds, "position(target, ?) > 0"), append(args, f.Target)
	}
	if !f.Since.IsZero() {
		conds, args = append(conds, "at >= ?"), append(args, f.Since.UTC())
	}
	if !f.Until.IsZero() {
		conds, args = append(conds, "at < ?"), append(args, f.Until.UTC())
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}
