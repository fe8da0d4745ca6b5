package warehouse

import (
	"context"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/pnstream/pnstream/internal/recording"
)

// ArchivedRecordings returns the latest row of every recording the archive
// holds (status archived), ordered by ICID: what audit-archive checks
// against the bucket.
func (w *Warehouse) ArchivedRecordings(ctx context.Context) ([]recording.Row, error) {
	return selectAll(ctx, w, "recordings", `SELECT icid, session_id, bucket, object_key, size_bytes, sha256, content_type, mirrored_at, status, error
		FROM `+w.table("recordings")+` FINAL WHERE status = ? ORDER BY icid`,
		func(rows driver.Rows, r *recording.Row) error {
			err := rows.Scan(&r.ICID, &r.SessionID, &r.Bucket, &r.ObjectKey, &r.SizeBytes, &r.SHA256, &r.ContentType, &r.MirroredAt, &r.Status, &r.Error)
			r.MirroredAt = r.MirroredAt.UTC()
			return err
		}, recording.Archived)
}

// UnarchivedFees returns the stored JSON of every recorded CDR whose audio
// is not archived (the last attempt failed, or none finished) and whose
// callInTime is at or after since, ordered by callInTime: what
// backfill-recordings enqueues again. The JSON is the record as stored,
// from which the recording job is rebuilt.
func (w *Warehouse) UnarchivedFees(ctx context.Context, since time.Time) ([][]byte, error) {
	return selectAll(ctx, w, "unarchived fees", `SELECT raw FROM `+w.table("fee_records")+` FINAL
		WHERE record_flag = 1 AND call_in_time >= ?
			AND icid GLOBAL IN (SELECT icid FROM `+w.table("recording_status")+` WHERE status != ?)
		ORDER BY call_in_time, icid`,
		func(rows driver.Rows, raw *[]byte) error {
			var s string
			err := rows.Scan(&s)
			*raw = []byte(s)
			return err
		}, since.UTC(), recording.Archived)
}
