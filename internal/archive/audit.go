package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"

	"github.com/minio/minio-go/v7"

	"github.com/pnstream/pnstream/internal/recording"
)

// Problems Audit reports.
const (
	ProblemMissing  = "missing"  // no object at the row's key
	ProblemSize     = "size"     // the object's size differs from the row's
	ProblemChecksum = "checksum" // the object's content does not hash to the row's SHA-256
)

// Mismatch is a recordings row that the archive does not back.
type Mismatch struct {
	ICID    string
	Bucket  string
	Key     string
	Problem string // ProblemMissing, ProblemSize or ProblemChecksum
	Detail  string // what was expected and found
}

// Audit compares each row with its object in S3: present, the same size,
// and content whose SHA-256 (computed from the bytes, not read from the
// object's metadata, which a corrupted object keeps) is the row's. It reads
// every object in full, streaming. progress, if set, is called after each
// row. An error is returned only when the audit could not be done (S3
// unreachable, access denied); what it found is in the mismatches.
func (b *Bucket) Audit(ctx context.Context, rows []recording.Row, progress func(done, total int)) ([]Mismatch, error) {
	var found []Mismatch
	for i := range rows {
		r := &rows[i]
		m, err := b.auditOne(ctx, r)
		if err != nil {
			return found, err
		}
		if m != nil {
			found = append(found, *m)
		}
		if progress != nil {
			progress(i+1, len(rows))
		}
	}
	return found, nil
}

func (b *Bucket) auditOne(ctx context.Context, r *recording.Row) (*Mismatch, error) {
	bucket := r.Bucket
	if bucket == "" {
		bucket = b.cfg.Bucket
	}
	mismatch := func(problem, format string, args ...any) *Mismatch {
		return &Mismatch{ICID: r.ICID, Bucket: bucket, Key: r.ObjectKey, Problem: problem, Detail: fmt.Sprintf(format, args...)}
	}
	obj, err := b.client.GetObject(ctx, bucket, r.ObjectKey, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("get s3 object %s/%s: %w", bucket, r.ObjectKey, err)
	}
	defer obj.Close()
	// GetObject is lazy: the request is made by the first read.
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		if resp := minio.ToErrorResponse(err); resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey" {
			return mismatch(ProblemMissing, "no object"), nil
		}
		return nil, fmt.Errorf("read s3 object %s/%s: %w", bucket, r.ObjectKey, err)
	}
	if uint64(n) != r.SizeBytes {
		return mismatch(ProblemSize, "row %d bytes, object %d bytes", r.SizeBytes, n), nil
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != r.SHA256 {
		return mismatch(ProblemChecksum, "row sha256 %s, object sha256 %s", r.SHA256, sum), nil
	}
	return nil, nil
}
