package holds

import (
	"context"
	"errors"
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

// Remove deletes the object at key in bucket (the archive bucket when
// empty), every version of it in a versioned (object-locked) bucket, so
// that nothing of the recording is left, unless it is under a legal hold:
// then it is Kept and nothing is deleted. A version S3 refuses to delete
// (object-lock retention, PN_S3_LOCK_MODE) leaves the Removal Locked with
// S3's answer in Detail; the other versions are deleted. An error means S3
// could not be asked.
func (h *Holds) Remove(ctx context.Context, bucket, key string) (Removal, error) {
	if bucket == "" {
		bucket = h.bucket
	}
	r := Removal{Bucket: bucket, Key: key}
	held, err := h.HeldIn(ctx, bucket, key)
	if err != nil {
		return r, err
	}
	if held {
		r.Outcome, r.Detail = Kept, "under legal hold"
		return r, nil
	}
	locked, err := h.isLocked(ctx, bucket)
	if err != nil {
		return r, err
	}
	versioned := locked
	if !locked {
		cfg, err := h.s3.GetBucketVersioning(ctx, bucket)
		if err != nil {
			return r, fmt.Errorf("versioning of bucket %s: %w", bucket, err)
		}
		versioned = cfg.Status != "" // Enabled or Suspended: versions may exist
	}
	if !versioned {
		return h.removeOne(ctx, r)
	}
	var versions []minio.ObjectInfo
	for obj := range h.s3.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true, Recursive: true}) {
		if obj.Err != nil {
			return r, fmt.Errorf("list versions of %s/%s: %w", bucket, key, obj.Err)
		}
		if obj.Key == key {
			versions = append(versions, obj)
		}
	}
	if len(versions) == 0 {
		r.Outcome = Absent
		return r, nil
	}
	r.Outcome = Removed
	var refused []error
	for _, v := range versions {
		err := h.s3.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: v.VersionID})
		if err == nil {
			r.Versions++
			continue
		}
		resp := minio.ToErrorResponse(err)
		if resp.StatusCode == http.StatusForbidden || resp.Code == "AccessDenied" || resp.Code == "InvalidRequest" {
			refused = append(refused, fmt.Errorf("version %s: %s", v.VersionID, resp.Message))
			continue
		}
		return r, fmt.Errorf("delete %s/%s version %s: %w", bucket, key, v.VersionID, err)
	}
	if len(refused) > 0 {
		r.Outcome, r.Detail = Locked, errors.Join(refused...).Error()
	}
	return r, nil
}

// removeOne deletes the unversioned object at r.Key.
func (h *Holds) removeOne(ctx context.Context, r Removal) (Removal, error) {
	if _, err := h.s3.StatObject(ctx, r.Bucket, r.Key, minio.StatObjectOptions{}); err != nil {
		if resp := minio.ToErrorResponse(err); resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey" {
			r.Outcome = Absent
			return r, nil
		}
		return r, fmt.Errorf("stat %s/%s: %w", r.Bucket, r.Key, err)
	}
	if err := h.s3.RemoveObject(ctx, r.Bucket, r.Key, minio.RemoveObjectOptions{}); err != nil {
		return r, fmt.Errorf("delete %s/%s: %w", r.Bucket, r.Key, err)
	}
	r.Outcome, r.Versions = Removed, 1
	return r, nil
}
