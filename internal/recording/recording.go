// Package recording defines the outcome of archiving one call's audio, the
// row of the pn.recordings table. The archive produces it and the warehouse
// stores and reads it back; both import this package and neither imports
// the other, so the ClickHouse edge depends on the domain's type rather
// than the archive on the ClickHouse edge.
package recording

import "time"

// Status values of a Row.
const (
	Archived = "archived" // the audio is in the archive
	Failed   = "failed"   // the last attempt failed; Error says why
)

// Row is the outcome of mirroring one call's audio into the archive.
// Identity: ICID; a later MirroredAt supersedes an earlier row under FINAL,
// so an archived retry replaces a failed attempt.
type Row struct {
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
	Status     string // Archived or Failed
	Error      string // why the attempt failed; empty when archived
}
