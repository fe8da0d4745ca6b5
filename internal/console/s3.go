package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"
)

// archive reads recordings from the archive bucket.
type archive struct {
	client *minio.Client
	bucket string
}

// errOtherBucket refuses a row naming a bucket the console does not serve.
var errOtherBucket = errors.New("recording is in another bucket than the console's")

// open returns the object of rec for reading with Seek (ranges) and its
// size and modification time from a HEAD.
func (a *archive) open(ctx context.Context, rec *Recording) (*minio.Object, minio.ObjectInfo, error) {
	if rec.Bucket != a.bucket {
		return nil, minio.ObjectInfo{}, errOtherBucket
	}
	obj, err := a.client.GetObject(ctx, a.bucket, rec.ObjectKey, minio.GetObjectOptions{})
	if err != nil {
		return nil, minio.ObjectInfo{}, fmt.Errorf("open recording %s: %w", rec.ObjectKey, err)
	}
	info, err := obj.Stat()
	if err != nil {
		_ = obj.Close()
		return nil, minio.ObjectInfo{}, fmt.Errorf("stat recording %s: %w", rec.ObjectKey, err)
	}
	return obj, info, nil
}

// Verification is the result of hashing a recording's object.
type Verification struct {
	Computed string // SHA-256 of the object's bytes, hex
	Size     int64
	// MetaSHA256 is the object's x-amz-meta-sha256, written at upload.
	MetaSHA256 string
	// Match: the bytes hash to the pn.recordings row's SHA-256 (and to the
	// metadata's, when present).
	Match bool
	Err   string // why the object could not be read
}

// verify streams rec's object through SHA-256 and compares.
func (a *archive) verify(ctx context.Context, rec *Recording) Verification {
	obj, info, err := a.open(ctx, rec)
	if err != nil {
		return Verification{Err: err.Error()}
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		return Verification{Err: fmt.Sprintf("read recording: %v", err)}
	}
	v := Verification{Computed: hex.EncodeToString(h.Sum(nil)), Size: n, MetaSHA256: info.Metadata.Get("X-Amz-Meta-Sha256")}
	v.Match = v.Computed == rec.SHA256 && (v.MetaSHA256 == "" || v.MetaSHA256 == v.Computed)
	return v
}
