package warehouse

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Status values of a recordings row.
const (
	RecordingArchived = "archived" // the audio is in the archive
	RecordingFailed   = "failed"   // the last attempt failed; Error says why
)

// Recording is the outcome of mirroring one call's audio into the archive,
// a row of the recordings table. Identity: ICID; a later MirroredAt
// supersedes an earlier row under FINAL, so an archived retry replaces a
// failed attempt.
type Recording struct {
	ICID        string
	SessionID   string
	Bucket      string
	ObjectKey   string // recordings/<yyyy>/<mm>/<dd>/<icid>.<ext>
	SizeBytes   uint64
	SHA256      string // hex
	ContentType string
	// MirroredAt is when the attempt ended, UTC, stored to the second; the
	// zero time means now.
	MirroredAt time.Time
	Status     string // RecordingArchived or RecordingFailed
	Error      string // why the attempt failed; empty when archived
}

var recordingColumns = []column[Recording]{
	{"icid", func(r *Recording) any { return r.ICID }},
	{"session_id", func(r *Recording) any { return r.SessionID }},
	{"bucket", func(r *Recording) any { return r.Bucket }},
	{"object_key", func(r *Recording) any { return r.ObjectKey }},
	{"size_bytes", func(r *Recording) any { return r.SizeBytes }},
	{"sha256", func(r *Recording) any { return r.SHA256 }},
	{"content_type", func(r *Recording) any { return r.ContentType }},
	{"mirrored_at", func(r *Recording) any { return r.MirroredAt.UTC() }},
	{"status", func(r *Recording) any { return r.Status }},
	{"error", func(r *Recording) any { return r.Error }},
}

// InsertRecordings stores recording outcomes, one row each, in one INSERT.
// Rows without an ICID, with an unknown Status or a MirroredAt outside
// DateTime's range are reported as permanent *RowErrors before anything is
// sent; other errors are classified as for InsertFees. recs is not
// modified: a zero MirroredAt is replaced with the current time in the
// stored row only.
func (w *Warehouse) InsertRecordings(ctx context.Context, recs []Recording) error {
	if len(recs) == 0 {
		return nil
	}
	now := time.Now().UTC().Truncate(time.Second)
	rows := make([]Recording, len(recs))
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

func recordingID(r *Recording) string { return r.ICID }

func checkRecording(r *Recording) error {
	var errs []error
	if r.ICID == "" {
		errs = append(errs, errors.New("icid: empty"))
	}
	if r.Status != RecordingArchived && r.Status != RecordingFailed {
		errs = append(errs, fmt.Errorf("status %q: want %q or %q", r.Status, RecordingArchived, RecordingFailed))
	}
	if r.MirroredAt.Before(minDateTime) || r.MirroredAt.After(maxDateTime) {
		errs = append(errs, fmt.Errorf("mirroredAt %s: outside DateTime's range", r.MirroredAt.UTC().Format(time.DateTime)))
	}
	return errors.Join(errs...)
}
