package holds

import (
	"context"
	"fmt"
	"net/http"

	"github.com/minio/minio-go/v7"
)

// Outcomes of Remove.
const (
	Removed = "removed" // every version of the object is deleted
	Absent  = "absent"  // there was no object at the key
	Kept    = "kept"    // the object is under a legal hold: nothing deleted
	Locked  = "locked"  // S3 refused to delete a version (object-lock retention): Detail says which
)

// Removal is what Remove did to one object.
type Removal struct {
	Bucket, Key string
	Outcome     string // Removed, Absent, Kept or Locked
	Versions    int    // versions and delete markers deleted
	Detail      string // why a version was kept
}

// maxVersions bounds the versions Remove deletes from one key: a recording
// has one (the mirror does not upload an object again that is stored with
// its hash); a few more come from re-uploads after a lost answer.
const maxVersions = 64

// Remove deletes the object at key in bucket (the archive bucket when
// empty), every version of it in a versioned (object-locked) bucket, so
// that nothing of the recording is left, unless it is under a legal hold:
// then it is Kept and nothing is deleted. A version S3 refuses to delete
// (object-lock retention, PN_S3_LOCK_MODE) leaves the Removal Locked with
// S3's answer in Detail. An error means S3 could not be asked.
//
// It deletes the current version, then the one that becomes current, until
// none is left: a HEAD and a DELETE each, rather than a listing of the
// key's versions, which some gateways answer by scanning the whole prefix.
// Versions hidden under a delete marker, which pnstream never writes, are
// left.
func (h *Holds) Remove(ctx context.Context, bucket, key string) (Removal, error) {
	if bucket == "" {
		bucket = h.bucket
	}
	r := Removal{Bucket: bucket, Key: key, Outcome: Absent}
	held, err := h.HeldIn(ctx, bucket, key)
	if err != nil {
		return r, err
	}
	if held {
		r.Outcome, r.Detail = Kept, "under legal hold"
		return r, nil
	}
	for range maxVersions {
		info, err := h.s3.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
		if err != nil {
			if resp := minio.ToErrorResponse(err); resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey" {
				return r, nil
			}
			return r, fmt.Errorf("stat %s/%s: %w", bucket, key, err)
		}
		err = h.s3.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: info.VersionID})
		if err != nil {
			resp := minio.ToErrorResponse(err)
			if resp.StatusCode == http.StatusForbidden || resp.Code == "AccessDenied" || resp.Code == "InvalidRequest" {
				r.Outcome, r.Detail = Locked, fmt.Sprintf("version %s: %s", info.VersionID, resp.Message)
				return r, nil
			}
			return r, fmt.Errorf("delete %s/%s version %s: %w", bucket, key, info.VersionID, err)
		}
		r.Outcome = Removed
		r.Versions++
	}
	return r, fmt.Errorf("delete %s/%s: more than %d versions", bucket, key, maxVersions)
}
