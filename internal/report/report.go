// Package report renders pnstream's analytics as one self-contained HTML
// page: inline SVG charts and inline CSS, no script, no external asset, so
// that it can be mailed, archived or opened offline by people without
// Grafana. pnctl report --html writes it.
package report

import (
	"context"
	"fmt"
	"time"

	"github.com/pnstream/pnstream/internal/warehouse"
)

// Data is what a report shows.
type Data struct {
	Generated time.Time
	From, To  time.Time // the period of the calls and coverage, UTC
	Hours     []warehouse.HourCalls
	Reasons   []warehouse.FailureReason
	Coverage  []warehouse.DayCoverage
	// Unusable are the X numbers not usable now, whatever the period.
	Unusable []warehouse.NumberState
}

// Source reads the analytics views (warehouse.Warehouse).
type Source interface {
	CallsPerHour(ctx context.Context, from, to time.Time) ([]warehouse.HourCalls, error)
	TopFailureReasons(ctx context.Context, limit int) ([]warehouse.FailureReason, error)
	RecordingCoverage(ctx context.Context, from, to time.Time) ([]warehouse.DayCoverage, error)
	NumberStates(ctx context.Context, unusableOnly bool) ([]warehouse.NumberState, error)
}

var _ Source = (*warehouse.Warehouse)(nil)

// maxReasons is how many failure reasons the report lists.
const maxReasons = 10

// Load reads the report's data for [from, to) from src.
func Load(ctx context.Context, src Source, from, to, now time.Time) (Data, error) {
	d := Data{Generated: now.UTC(), From: from.UTC(), To: to.UTC()}
	var err error
	if d.Hours, err = src.CallsPerHour(ctx, from, to); err != nil {
		return Data{}, fmt.Errorf("report: %w", err)
	}
	if d.Reasons, err = src.TopFailureReasons(ctx, maxReasons); err != nil {
		return Data{}, fmt.Errorf("report: %w", err)
	}
	if d.Coverage, err = src.RecordingCoverage(ctx, from, to); err != nil {
		return Data{}, fmt.Errorf("report: %w", err)
	}
	if d.Unusable, err = src.NumberStates(ctx, true); err != nil {
		return Data{}, fmt.Errorf("report: %w", err)
	}
	return d, nil
}

// Totals are the period's sums.
type Totals struct {
	Seizures, Answered, Unanswered, Failed uint64
	Recorded, Archived, ArchiveFailed      uint64
	Pending                                uint64
}

// ASR is the answer-seizure ratio, 0 without calls.
func (t Totals) ASR() float64 { return ratio(t.Answered, t.Seizures) }

// ArchivedShare is the share of recorded calls archived, 0 without any.
func (t Totals) ArchivedShare() float64 { return ratio(t.Archived, t.Recorded) }

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Totals sums d's rows.
func (d Data) Totals() Totals {
	var t Totals
	for _, h := range d.Hours {
		t.Seizures += h.Seizures()
		t.Answered += h.Answered
		t.Unanswered += h.Unanswered
		t.Failed += h.Failed
	}
	for _, c := range d.Coverage {
		t.Recorded += c.Recorded
		t.Archived += c.Archived
		t.ArchiveFailed += c.Failed
		t.Pending += c.Pending
	}
	return t
}
