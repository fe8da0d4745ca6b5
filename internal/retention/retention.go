// Package retention enforces how long pnstream keeps call data: CDRs and
// call events for PN_RETENTION_ROWS_DAYS, recordings (the S3 objects and
// their pn.recordings rows) for PN_RETENTION_RECORDINGS_DAYS, except what
// is under a legal hold, which is kept and counted. The recorder runs it on
// a schedule (Job), one replica at a time; each run leaves an audit record.
//
// It touches only fee_records, call_events and recordings. Whole months
// that expired go with ALTER TABLE ... DROP PARTITION (instant, on every
// ClickHouse version); the rest with an ALTER TABLE ... DELETE mutation,
// which 18.16 has. TTL is not used even where the server has it (19.6 and
// later): a TTL expression cannot spare the rows of held calls, which a
// legal hold must keep.
package retention

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"golang.org/x/sync/errgroup"

	"github.com/pnstream/pnstream/internal/holds"
	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// ErrCluster: the tables are Distributed (PN_CLICKHOUSE_CLUSTER), whose
// partitions live in the shards' local tables; retention does not handle
// that layout yet, and says so instead of deleting half.
var ErrCluster = errors.New("retention on a ClickHouse cluster (Distributed tables) is not implemented")

// TableReport is what a run did to one table.
type TableReport struct {
	Table string
	// Partitions dropped whole (toYYYYMM values) and the rows they held.
	DroppedPartitions []string
	DroppedRows       uint64
	// DeletedRows by mutation: the rest of the expired rows.
	DeletedRows uint64
	// KeptRows: expired rows kept because their call is under legal hold.
	KeptRows uint64
}

// Report is what one run did.
type Report struct {
	Started, Finished time.Time
	// RowsCutoff and RecordingsCutoff: what was older expired; zero when
	// the policy keeps forever.
	RowsCutoff, RecordingsCutoff time.Time
	Tables                       []TableReport // fee_records, call_events, recordings
	// Recordings expired: removed from S3 (every version), already absent,
	// kept under legal hold, or refused by S3's object-lock retention.
	RecordingsRemoved, RecordingsAbsent, RecordingsHeld, RecordingsLocked int
}

// Retention runs the policy against the warehouse and the archive.
type Retention struct {
	cfg   Config
	conn  driver.Conn
	db    string
	holds *holds.Holds // nil: no archive; recordings rows only
	now   func() time.Time
}

// New returns the retention of wh's tables and (when h is not nil) the
// archive h guards. It does no I/O.
func New(cfg Config, wh *warehouse.Warehouse, h *holds.Holds) *Retention {
	return &Retention{cfg: cfg, conn: wh.Conn(), db: wh.Database(), holds: h, now: time.Now}
}

// Once applies the policy now, once, and returns what it did. Every step
// is idempotent: a run stopped midway is finished by the next. An error
// leaves what was done done, and reported.
func (r *Retention) Once(ctx context.Context) (Report, error) {
	rep := Report{Started: r.now().UTC()}
	rep.RowsCutoff, rep.RecordingsCutoff = r.cfg.Cutoffs(rep.Started)
	err := r.once(ctx, &rep)
	rep.Finished = r.now().UTC()
	return rep, err
}

func (r *Retention) once(ctx context.Context, rep *Report) error {
	if !r.cfg.Enabled() {
		return nil
	}
	if err := r.checkSingleServer(ctx); err != nil {
		return err
	}
	heldICIDs, heldSessions, err := r.heldCalls(ctx)
	if err != nil {
		return err
	}
	if !rep.RowsCutoff.IsZero() {
		for _, t := range []struct{ table, timeCol, keyCol string }{
			{"fee_records", "call_in_time", "icid"},
			{"call_events", "event_time", "session_id"},
		} {
			keep := heldICIDs
			if t.keyCol == "session_id" {
				keep = heldSessions
			}
			tr, err := r.expireRows(ctx, t.table, t.timeCol, t.keyCol, keep, rep.RowsCutoff)
			rep.Tables = append(rep.Tables, tr)
			if err != nil {
				return err
			}
		}
	}
	if !rep.RecordingsCutoff.IsZero() {
		return r.expireRecordings(ctx, rep, heldICIDs)
	}
	return nil
}

// checkSingleServer refuses a cluster's Distributed tables.
func (r *Retention) checkSingleServer(ctx context.Context) error {
	var engine string
	err := r.conn.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = ? AND name = 'fee_records'", r.db).Scan(&engine)
	if err != nil {
		return fmt.Errorf("retention: engine of fee_records: %w", err)
	}
	if engine == "Distributed" {
		return ErrCluster
	}
	return nil
}

func (r *Retention) heldCalls(ctx context.Context) (icids, sessions []string, err error) {
	var exists uint64
	if err := r.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", r.db, holds.Table).Scan(&exists); err != nil {
		return nil, nil, fmt.Errorf("retention: %w", err)
	}
	if exists == 0 {
		// Migrations add the table; retention never runs on an older
		// schema, but a missing table must not read as "nothing held".
		return nil, nil, fmt.Errorf("retention: no table %s.%s: apply the migrations", r.db, holds.Table)
	}
	rows, err := r.conn.Query(ctx, `SELECT icid, argMax(session_id, version), argMax(action, version) AS last
		FROM `+r.db+`.`+holds.Table+` GROUP BY icid HAVING last = ?`, holds.ActionPut)
	if err != nil {
		return nil, nil, fmt.Errorf("retention: held calls: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var icid, session, last string
		if err := rows.Scan(&icid, &session, &last); err != nil {
			return nil, nil, fmt.Errorf("retention: held calls: %w", err)
		}
		icids = append(icids, icid)
		if session != "" {
			sessions = append(sessions, session)
		}
	}
	return icids, sessions, rows.Err()
}

// expireRows removes the rows of table whose timeCol is before cutoff,
// except those whose keyCol is in keep: whole months by dropping their
// partition when no kept row is in it, the rest by a mutation.
func (r *Retention) expireRows(ctx context.Context, table, timeCol, keyCol string, keep []string, cutoff time.Time) (TableReport, error) {
	tr := TableReport{Table: table}
	parts, err := r.partitions(ctx, table)
	if err != nil {
		return tr, err
	}
	notKept := keyCol + " NOT IN (" + Placeholders(len(keep)) + ")"
	expired, expiredArgs := timeCol+" < ?", []any{cutoff}
	if table == "fee_records" {
		// A CDR without any usable time is stored at 1970-01-01
		// (call_in_time_derived): it ages from when it was stored, not
		// from 1970, or the first run would delete it.
		expired += " AND (toUInt32(" + timeCol + ") != 0 OR ingested_at < ?)"
		expiredArgs = append(expiredArgs, cutoff)
	}
	for _, p := range parts {
		if !monthExpired(p, cutoff) || p <= 197001 {
			continue // 197001 holds the CDRs without a time: the mutation ages them
		}
		var total, kept uint64
		err := r.conn.QueryRow(ctx, "SELECT count(), countIf("+keyCol+" IN ("+Placeholders(len(keep))+")) FROM "+r.db+"."+table+
			" WHERE toYYYYMM("+timeCol+") = ?", append(Args(keep), uint32(p))...).Scan(&total, &kept)
		if err != nil {
			return tr, fmt.Errorf("retention: count partition %d of %s: %w", p, table, err)
		}
		if kept > 0 {
			continue // the mutation below spares the held rows
		}
		if err := r.conn.Exec(ctx, "ALTER TABLE "+r.db+"."+table+" DROP PARTITION "+strconv.Itoa(p)); err != nil {
			return tr, fmt.Errorf("retention: drop partition %d of %s: %w", p, table, err)
		}
		tr.DroppedPartitions = append(tr.DroppedPartitions, strconv.Itoa(p))
		tr.DroppedRows += total
	}
	n, err := Delete(ctx, r.conn, r.db, table, expired+" AND "+notKept, append(slices.Clone(expiredArgs), Args(keep)...)...)
	tr.DeletedRows = n
	if err != nil {
		return tr, fmt.Errorf("retention: %w", err)
	}
	if len(keep) > 0 {
		err = r.conn.QueryRow(ctx, "SELECT count() FROM "+r.db+"."+table+" WHERE "+expired+" AND "+keyCol+" IN ("+Placeholders(len(keep))+")",
			append(slices.Clone(expiredArgs), Args(keep)...)...).Scan(&tr.KeptRows)
		if err != nil {
			return tr, fmt.Errorf("retention: count held rows of %s: %w", table, err)
		}
	}
	return tr, nil
}

// partitions returns the active partitions of table, as toYYYYMM numbers.
func (r *Retention) partitions(ctx context.Context, table string) ([]int, error) {
	rows, err := r.conn.Query(ctx, "SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active", r.db, table)
	if err != nil {
		return nil, fmt.Errorf("retention: partitions of %s: %w", table, err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("retention: partitions of %s: %w", table, err)
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("retention: partition %q of %s: not a toYYYYMM month", p, table)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, rows.Err()
}

// monthExpired reports whether every time of the month yyyymm is before
// cutoff: the first day of the next month is at or before it.
func monthExpired(yyyymm int, cutoff time.Time) bool {
	next := time.Date(yyyymm/100, time.Month(yyyymm%100)+1, 1, 0, 0, 0, 0, time.UTC)
	return !next.After(cutoff)
}

// expireRecordings removes the recordings of calls before the cutoff from
// S3 unless held (S3's hold or the history's), then their rows, and the
// rows of attempts that failed before the cutoff. The rows of recordings
// kept (held, or refused by S3) stay.
func (r *Retention) expireRecordings(ctx context.Context, rep *Report, heldICIDs []string) error {
	tr := TableReport{Table: "recordings"}
	defer func() { rep.Tables = append(rep.Tables, tr) }()
	cutoffKey := ObjectKeyPrefix(rep.RecordingsCutoff)
	keep := slices.Clone(heldICIDs)
	if r.holds != nil {
		rows, err := r.expiredObjects(ctx, cutoffKey)
		if err != nil {
			return err
		}
		var todo []recording.Row
		for _, row := range rows {
			if slices.Contains(heldICIDs, row.ICID) {
				rep.RecordingsHeld++
				continue
			}
			todo = append(todo, row)
		}
		removals, err := r.removeAll(ctx, todo)
		if err != nil {
			return err
		}
		for i, rm := range removals {
			switch rm.Outcome {
			case holds.Removed:
				rep.RecordingsRemoved++
			case holds.Absent:
				rep.RecordingsAbsent++
			case holds.Kept:
				rep.RecordingsHeld++
				keep = append(keep, todo[i].ICID)
			case holds.Locked:
				rep.RecordingsLocked++
				keep = append(keep, todo[i].ICID)
			}
		}
	}
	where := "((status = ? AND object_key < ?) OR (status != ? AND mirrored_at < ?)) AND icid NOT IN (" + Placeholders(len(keep)) + ")"
	args := append([]any{recording.Archived, cutoffKey, recording.Archived, rep.RecordingsCutoff}, Args(keep)...)
	if r.holds == nil {
		// Without the archive's client no object can be removed: only
		// the rows of failed attempts go.
		where = "status != ? AND mirrored_at < ? AND icid NOT IN (" + Placeholders(len(keep)) + ")"
		args = append([]any{recording.Archived, rep.RecordingsCutoff}, Args(keep)...)
	}
	n, err := Delete(ctx, r.conn, r.db, "recordings", where, args...)
	tr.DeletedRows = n
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	tr.KeptRows = uint64(rep.RecordingsHeld + rep.RecordingsLocked)
	return nil
}

// removeParallel is how many objects are removed at a time: each removal
// is three S3 round trips (hold, HEAD, DELETE), so one at a time leaves S3
// idle between them. (On the 2-core test machine versitygw is CPU-bound
// and 8 at a time gained little: 1,632 objects in 17 s against 20 s; see
// BenchmarkLifecycleDay.)
const removeParallel = 8

// removeAll removes the objects of rows, removeParallel at a time, and
// returns each one's Removal; an error stops it.
func (r *Retention) removeAll(ctx context.Context, rows []recording.Row) ([]holds.Removal, error) {
	out := make([]holds.Removal, len(rows))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(removeParallel)
	for i, row := range rows {
		g.Go(func() error {
			rm, err := r.holds.Remove(gctx, row.Bucket, row.ObjectKey)
			if err != nil {
				return fmt.Errorf("retention: recording %s: %w", row.ICID, err)
			}
			out[i] = rm
			return nil
		})
	}
	return out, g.Wait()
}

// expiredObjects returns the archived recordings whose key is before
// cutoffKey, one per icid (the latest row).
func (r *Retention) expiredObjects(ctx context.Context, cutoffKey string) ([]recording.Row, error) {
	rows, err := r.conn.Query(ctx, `SELECT icid, bucket, object_key FROM `+r.db+`.recordings FINAL
		WHERE status = ? AND object_key < ? ORDER BY object_key`, recording.Archived, cutoffKey)
	if err != nil {
		return nil, fmt.Errorf("retention: expired recordings: %w", err)
	}
	defer rows.Close()
	var out []recording.Row
	for rows.Next() {
		var x recording.Row
		if err := rows.Scan(&x.ICID, &x.Bucket, &x.ObjectKey); err != nil {
			return nil, fmt.Errorf("retention: expired recordings: %w", err)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// ObjectKeyPrefix returns the key prefix of the recordings of the day of
// t: "recordings/<yyyy>/<mm>/<dd>/", the archive's layout (archive.ObjectKey).
// Keys sort as their days do, so every recording of a call before t's day
// has a key below it.
func ObjectKeyPrefix(t time.Time) string {
	return t.UTC().Format("recordings/2006/01/02/")
}
