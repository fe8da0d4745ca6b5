package warehouse

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pnstream/pnstream/internal/recording"
)

var recordingColumns = []column[recording.Row]{
	{"icid", func(r *recording.Row) any { return r.ICID }},
	{"session_id", func(r *recording.Row) any { return r.SessionID }},
	{"bucket", func(r *recording.Row) any { return r.Bucket }},
	{"object_key", func(r *recording.Row) any { return r.ObjectKey }},
	{"size_bytes", func(r *recording.Row) any { return r.SizeBytes }},
	{"sha256", func(r *recording.Row) any { return r.SHA256 }},
	{"content_type", func(r *recording.Row) any { return r.ContentType }},
	{"mirrored_at", func(r *recording.Row) any { return r.MirroredAt.UTC() }},
	{"status", func(r *recording.Row) any { return r.Status }},
	{"error", func(r *recording.Row) any { return r.Error }},
}

// InsertRecordings stores recording outcomes, one row each, in one INSERT.
// Rows without an ICID, with an unknown Status or a MirroredAt outside
// DateTime's range are reported as permanent *RowErrors before anything is
// sent; other errors are classified as for InsertFees. recs is not
// modified: a zero MirroredAt is replaced with the current time in the
// stored row only.
func (w *Warehouse) InsertRecordings(ctx context.Context, recs []recording.Row) error {
	if len(recs) == 0 {
		return nil
	}
	now := time.Now().UTC().Truncate(time.Second)
	rows := make([]recording.Row, len(recs))
	for i, r := range recs {
		if r.MirroredAt.IsZero() {
			r.MirroredAt = now
		}
		rows[i] = r
	}
	if err := checkRows(rows, checkRecording, recordingID); err != nil {
		return fmt.Errorf("insert recording batch: %w", err)
	}
	query := insertQuery(w.table("recordings"), recordingColumns)
	if err := insertRows(ctx, w, query, rows, chunk{0, len(rows)}, recordingColumns, recordingID); err != nil {
		return fmt.Errorf("insert recording batch: %w", err)
	}
	return nil
}

func recordingID(r *recording.Row) string { return r.ICID }

func checkRecording(r *recording.Row) error {
	var errs []error
	if r.ICID == "" {
		errs = append(errs, errors.New("icid: empty"))
	}
	if r.Status != recording.Archived && r.Status != recording.Failed {
		errs = append(errs, fmt.Errorf("status %q: want %q or %q", r.Status, recording.Archived, recording.Failed))
	}
	if r.MirroredAt.Before(minDateTime) || r.MirroredAt.After(maxDateTime) {
		errs = append(errs, fmt.Errorf("mirroredAt %s: outside DateTime's range", r.MirroredAt.UTC().Format(time.DateTime)))
	}
	return errors.Join(errs...)
}
