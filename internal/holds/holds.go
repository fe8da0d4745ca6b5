// Package holds puts and releases legal holds on archived recordings, so
// that the recording of a call under investigation survives retention,
// erasure and anyone's delete until the hold is released.
//
// The hold itself is S3's object legal hold on the recording's object
// version (an object-locked bucket is required: S3 refuses holds
// elsewhere, and Put says so with ErrNotLocked). S3 is the source of
// truth: it refuses to delete a held version whatever pnstream believes.
// The ClickHouse table legal_holds (migration 0009_legal_holds.sql) is the
// list and the history: who put or released which hold, when and why.
// Retention and erasure ask Held before deleting an object and read
// HeldICIDs to keep a held call's rows too; Remove deletes an object's
// versions unless one is held.
package holds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/minio/minio-go/v7"

	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// Table is the history table's name in the warehouse's database.
const Table = "legal_holds"

// Actions of a history row.
const (
	ActionPut     = "put"
	ActionRelease = "release"
)

// Errors of Put and Release, matched with errors.Is.
var (
	// ErrNotLocked: the bucket has no object lock configuration, so S3
	// cannot hold an object in it. The archive's bucket must be created
	// with object locking (PN_S3_LOCK_MODE makes the recorder create it
	// so); locking cannot be turned on for an existing bucket.
	ErrNotLocked = errors.New("the bucket is not object-locked, so S3 cannot put a legal hold on its objects: create the archive bucket with object locking (PN_S3_LOCK_MODE)")
	// ErrNoRecording: the call has no archived recording (none was made,
	// or its mirroring failed or is pending).
	ErrNoRecording = errors.New("no archived recording")
	// ErrNoReason: a hold is put or released without saying who asks or
	// why, which the history must show.
	ErrNoReason = errors.New("a legal hold needs who asks for it and why")
)

// Hold is one action on a recording's legal hold, a row of the history;
// List returns the latest put of each recording held now.
type Hold struct {
	ICID      string
	SessionID string
	Bucket    string
	ObjectKey string
	VersionID string
	Action    string // ActionPut or ActionRelease
	Who       string
	Reason    string
	At        time.Time // UTC
}

// Holds puts, releases, checks and lists legal holds. It is safe for
// concurrent use.
type Holds struct {
	s3     *minio.Client
	bucket string
	conn   driver.Conn
	db     string
	now    func() time.Time

	// locked caches whether a bucket is object-locked: a bucket's lock
	// configuration cannot be removed once enabled, and Held is asked
	// once per object by retention.
	mu     sync.Mutex
	locked map[string]bool
}

// New returns the holds of the recordings in bucket (the archive's,
// PN_S3_BUCKET; a pn.recordings row naming another bucket is served in
// that one) with history in wh's database. It does no I/O.
func New(s3 *minio.Client, bucket string, wh *warehouse.Warehouse) *Holds {
	return &Holds{s3: s3, bucket: bucket, conn: wh.Conn(), db: wh.Database(), now: time.Now, locked: map[string]bool{}}
}

// Bucket returns the archive bucket the holds are in by default.
func (h *Holds) Bucket() string { return h.bucket }

// Put puts a legal hold on the recording of the call icid and records who
// asked and why. Putting a hold on a held recording holds it again and
// adds a history row. It fails with ErrNoRecording when the call has no
// archived recording and ErrNotLocked when its bucket is not object-locked.
func (h *Holds) Put(ctx context.Context, icid, who, reason string) (Hold, error) {
	return h.set(ctx, icid, who, reason, ActionPut)
}

// Release releases the legal hold of the call icid's recording and records
// who asked and why; the recording is then subject to retention and
// erasure again. Releasing a recording that is not held is not an error.
func (h *Holds) Release(ctx context.Context, icid, who, reason string) (Hold, error) {
	return h.set(ctx, icid, who, reason, ActionRelease)
}

func (h *Holds) set(ctx context.Context, icid, who, reason, action string) (Hold, error) {
	if strings.TrimSpace(who) == "" || strings.TrimSpace(reason) == "" {
		return Hold{}, fmt.Errorf("legal hold %s %s: %w", action, icid, ErrNoReason)
	}
	rec, err := h.recording(ctx, icid)
	if err != nil {
		return Hold{}, fmt.Errorf("legal hold %s %s: %w", action, icid, err)
	}
	hold := Hold{ICID: icid, SessionID: rec.SessionID, Bucket: rec.Bucket, ObjectKey: rec.ObjectKey, Action: action, Who: who, Reason: reason}
	locked, err := h.isLocked(ctx, rec.Bucket)
	if err != nil {
		return Hold{}, fmt.Errorf("legal hold %s %s: %w", action, icid, err)
	}
	if !locked {
		return Hold{}, fmt.Errorf("legal hold %s %s (bucket %s): %w", action, icid, rec.Bucket, ErrNotLocked)
	}
	info, err := h.s3.StatObject(ctx, rec.Bucket, rec.ObjectKey, minio.StatObjectOptions{})
	if err != nil {
		return Hold{}, fmt.Errorf("legal hold %s %s: stat %s: %w", action, icid, rec.ObjectKey, err)
	}
	hold.VersionID = info.VersionID
	status := minio.LegalHoldEnabled
	if action == ActionRelease {
		status = minio.LegalHoldDisabled
	}
	if err := h.s3.PutObjectLegalHold(ctx, rec.Bucket, rec.ObjectKey, minio.PutObjectLegalHoldOptions{VersionID: info.VersionID, Status: &status}); err != nil {
		return Hold{}, fmt.Errorf("legal hold %s %s: %w", action, icid, err)
	}
	now := h.now().UTC()
	hold.At = now.Truncate(time.Second)
	if err := h.record(ctx, hold, uint64(now.UnixNano())); err != nil {
		// S3 holds (or released) the object: asking again repeats the S3
		// call harmlessly and writes the history row.
		return Hold{}, fmt.Errorf("legal hold %s %s: done in S3, not recorded in %s (ask again): %w", action, icid, Table, err)
	}
	return hold, nil
}

// recording returns the archived recording row of icid.
func (h *Holds) recording(ctx context.Context, icid string) (recording.Row, error) {
	var r recording.Row
	err := h.conn.QueryRow(ctx, `SELECT icid, session_id, bucket, object_key FROM `+h.db+`.recordings FINAL
		WHERE icid = ? AND status = ?`, icid, recording.Archived).Scan(&r.ICID, &r.SessionID, &r.Bucket, &r.ObjectKey)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNoRecording
	}
	if err != nil {
		return r, fmt.Errorf("read pn.recordings: %w", err)
	}
	if r.Bucket == "" {
		r.Bucket = h.bucket
	}
	return r, nil
}

func (h *Holds) record(ctx context.Context, hold Hold, version uint64) error {
	b, err := h.conn.PrepareBatch(ctx, "INSERT INTO "+h.db+"."+Table+
		" (icid, session_id, bucket, object_key, version_id, action, who, reason, at, version)")
	if err != nil {
		return err
	}
	if err := b.Append(hold.ICID, hold.SessionID, hold.Bucket, hold.ObjectKey, hold.VersionID, hold.Action, hold.Who, hold.Reason, hold.At, version); err != nil {
		return errors.Join(err, b.Abort())
	}
	return b.Send()
}

// isLocked reports whether bucket has object locking enabled.
func (h *Holds) isLocked(ctx context.Context, bucket string) (bool, error) {
	h.mu.Lock()
	locked, ok := h.locked[bucket]
	h.mu.Unlock()
	if ok {
		return locked, nil
	}
	status, _, _, _, err := h.s3.GetObjectLockConfig(ctx, bucket)
	if err != nil {
		resp := minio.ToErrorResponse(err)
		if resp.Code != "ObjectLockConfigurationNotFoundError" && resp.StatusCode != http.StatusNotFound {
			return false, fmt.Errorf("object lock configuration of bucket %s: %w", bucket, err)
		}
		status = ""
	}
	locked = status == "Enabled"
	h.mu.Lock()
	h.locked[bucket] = locked
	h.mu.Unlock()
	return locked, nil
}

// Held reports whether the object at key in the archive bucket is under a
// legal hold now, as S3 says (the latest version's hold). An object in a
// bucket that is not object-locked is never held; a missing object is not
// held.
func (h *Holds) Held(ctx context.Context, key string) (bool, error) {
	return h.HeldIn(ctx, h.bucket, key)
}

// HeldIn is Held for an object in another bucket.
func (h *Holds) HeldIn(ctx context.Context, bucket, key string) (bool, error) {
	locked, err := h.isLocked(ctx, bucket)
	if err != nil || !locked {
		return false, err
	}
	status, err := h.s3.GetObjectLegalHold(ctx, bucket, key, minio.GetObjectLegalHoldOptions{})
	if err != nil {
		resp := minio.ToErrorResponse(err)
		switch {
		case resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey" || resp.Code == "NoSuchObjectLockConfiguration":
			return false, nil
		case resp.Code == "InvalidRequest" && strings.Contains(strings.ToLower(resp.Message), "legal hold"):
			// An object never held has no legal hold to report; some
			// servers say so with InvalidRequest.
			return false, nil
		}
		return false, fmt.Errorf("legal hold of %s/%s: %w", bucket, key, err)
	}
	return status != nil && *status == minio.LegalHoldEnabled, nil
}

// List returns the recordings held now according to the history, one
// Hold (its latest put) each, by ICID.
func (h *Holds) List(ctx context.Context) ([]Hold, error) {
	q := `SELECT icid, argMax(session_id, version), argMax(bucket, version), argMax(object_key, version), argMax(version_id, version),
			argMax(action, version) AS last, argMax(who, version), argMax(reason, version), argMax(at, version)
		FROM ` + h.db + `.` + Table + ` GROUP BY icid HAVING last = ? ORDER BY icid`
	return h.query(ctx, "list legal holds", q, ActionPut)
}

// History returns every action on the holds of icid (of every recording
// when icid is empty), oldest first.
func (h *Holds) History(ctx context.Context, icid string) ([]Hold, error) {
	q := `SELECT icid, session_id, bucket, object_key, version_id, action, who, reason, at FROM ` + h.db + `.` + Table
	var args []any
	if icid != "" {
		q += ` WHERE icid = ?`
		args = append(args, icid)
	}
	return h.query(ctx, "legal hold history", q+` ORDER BY version, icid`, args...)
}

func (h *Holds) query(ctx context.Context, what, q string, args ...any) ([]Hold, error) {
	rows, err := h.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []Hold
	for rows.Next() {
		var x Hold
		if err := rows.Scan(&x.ICID, &x.SessionID, &x.Bucket, &x.ObjectKey, &x.VersionID, &x.Action, &x.Who, &x.Reason, &x.At); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		x.At = x.At.UTC()
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// HeldCalls returns the ICIDs and stored sessionIds of the calls held now
// according to the history: what retention and erasure keep the rows of.
func (h *Holds) HeldCalls(ctx context.Context) (icids, sessionIDs []string, err error) {
	held, err := h.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, x := range held {
		icids = append(icids, x.ICID)
		if x.SessionID != "" {
			sessionIDs = append(sessionIDs, x.SessionID)
		}
	}
	return icids, sessionIDs, nil
}
