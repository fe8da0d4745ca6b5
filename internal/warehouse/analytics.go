package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// HourCalls is a row of the calls_per_hour view, pivoted by outcome.
type HourCalls struct {
	Hour                         time.Time // UTC, start of the hour of callInTime
	Answered, Unanswered, Failed uint64
}

// Seizures is every CDR of the hour.
func (h HourCalls) Seizures() uint64 { return h.Answered + h.Unanswered + h.Failed }

// FailureReason is a row of the top_failure_reasons view.
type FailureReason struct {
	Kind        string // ulFailReason or q850
	Code        int32
	Description string
	Category    string
	Calls       uint64
}

// DayCoverage is a row of the recording_coverage view.
type DayCoverage struct {
	Day                                 time.Time // UTC midnight
	Recorded, Archived, Failed, Pending uint64
}

// CallsPerHour returns the calls of each hour in [from, to), oldest first.
func (w *Warehouse) CallsPerHour(ctx context.Context, from, to time.Time) ([]HourCalls, error) {
	return selectAll(ctx, w, "calls per hour", `SELECT hour, sumIf(calls, outcome = 'answered'), sumIf(calls, outcome = 'unanswered'), sumIf(calls, outcome = 'failed')
		FROM `+w.table("calls_per_hour")+` WHERE hour >= ? AND hour < ? GROUP BY hour ORDER BY hour`,
		func(rows driver.Rows, h *HourCalls) error {
			err := rows.Scan(&h.Hour, &h.Answered, &h.Unanswered, &h.Failed)
			h.Hour = h.Hour.UTC()
			return err
		}, from.UTC(), to.UTC())
}

// TopFailureReasons returns the limit most frequent failure reasons.
func (w *Warehouse) TopFailureReasons(ctx context.Context, limit int) ([]FailureReason, error) {
	return selectAll(ctx, w, "failure reasons", `SELECT kind, code, description, category, calls FROM `+w.table("top_failure_reasons")+` LIMIT ?`,
		func(rows driver.Rows, r *FailureReason) error {
			return rows.Scan(&r.Kind, &r.Code, &r.Description, &r.Category, &r.Calls)
		}, limit)
}

// RecordingCoverage returns the coverage of each day that overlaps
// [from, to), oldest first.
func (w *Warehouse) RecordingCoverage(ctx context.Context, from, to time.Time) ([]DayCoverage, error) {
	return selectAll(ctx, w, "recording coverage", `SELECT toDateTime(day), recorded, archived, failed, pending FROM `+w.table("recording_coverage")+`
		WHERE day >= toDate(?) AND toDateTime(day) < ? ORDER BY day`,
		func(rows driver.Rows, d *DayCoverage) error {
			err := rows.Scan(&d.Day, &d.Recorded, &d.Archived, &d.Failed, &d.Pending)
			d.Day = d.Day.UTC()
			return err
		}, from.UTC(), to.UTC())
}

// selectAll runs query and returns its rows, each filled by scan; what
// names the rows in errors.
func selectAll[T any](ctx context.Context, w *Warehouse, what, query string, scan func(driver.Rows, *T) error, args ...any) ([]T, error) {
	rows, err := w.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, classify(fmt.Errorf("query %s: %w", what, err))
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, fmt.Errorf("scan %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(fmt.Errorf("read %s: %w", what, err))
	}
	return out, nil
}
