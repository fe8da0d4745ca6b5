package warehouse

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Kinds of Gap, the kind column of the gaps view.
const (
	// GapMissingCDR is a session with a disconnect event and no CDR.
	GapMissingCDR = "missing_cdr"
	// GapUnarchivedRecording is a recorded call whose audio is not in the
	// archive (its last attempt failed, or none finished yet).
	GapUnarchivedRecording = "unarchived_recording"
)

// GapKinds lists every kind of Gap, in report order.
var GapKinds = []string{GapMissingCDR, GapUnarchivedRecording}

// Gap is data that should be in the warehouse and is not: a row of the
// gaps view old enough to count.
type Gap struct {
	Kind      string // GapMissingCDR or GapUnarchivedRecording
	SessionID string
	ICID      string // empty for GapMissingCDR: the CDR is what is missing
	// ObservedAt is the disconnect event's time (GapMissingCDR) or the
	// call's callInTime (GapUnarchivedRecording), UTC.
	ObservedAt time.Time
	// Age is how long ago ObservedAt was, by the server's clock.
	Age time.Duration
}

// GapThresholds say when a candidate of the gaps view becomes a gap.
type GapThresholds struct {
	// MissingCDRAfter is how long after the disconnect a CDR may still
	// arrive: the platform re-pushes a CDR for hours.
	MissingCDRAfter time.Duration
	// UnarchivedAfter is the age of a recorded call from which a recording
	// not yet archived is a gap: the platform deletes the file some days
	// after the call, so this is that retention less a safety margin.
	UnarchivedAfter time.Duration
}

// Gaps returns the gaps of the warehouse under th, ordered by kind and
// ObservedAt. It reads the gaps view, which merges the tables (FINAL): on
// a large warehouse it is a heavy query, meant for minutes, not seconds.
func (w *Warehouse) Gaps(ctx context.Context, th GapThresholds) ([]Gap, error) {
	return selectAll(ctx, w, "gaps", `SELECT kind, session_id, icid, observed_at, age_seconds FROM `+w.table("gaps")+`
		WHERE (kind = ? AND age_seconds >= ?) OR (kind = ? AND age_seconds >= ?)
		ORDER BY kind, observed_at, session_id`,
		func(rows driver.Rows, g *Gap) error {
			var age int64
			err := rows.Scan(&g.Kind, &g.SessionID, &g.ICID, &g.ObservedAt, &age)
			g.ObservedAt = g.ObservedAt.UTC()
			g.Age = time.Duration(age) * time.Second
			return err
		},
		GapMissingCDR, int64(th.MissingCDRAfter/time.Second), GapUnarchivedRecording, int64(th.UnarchivedAfter/time.Second))
}
