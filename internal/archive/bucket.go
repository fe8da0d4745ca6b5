package archive

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// Object metadata pnstream writes on every recording (x-amz-meta-*).
const (
	MetaICID           = "Icid"
	MetaSessionID      = "Session-Id"
	MetaSubscriptionID = "Subscription-Id"
	MetaSHA256         = "Sha256"
)

// Uploads up to singlePutMax go in one PUT streamed from the download
// and signed with the SHA-256 computed while spooling, which S3 checks the
// body against: nothing is hashed again (but the MD5 object-locked buckets
// require) and nothing is buffered. Larger ones (S3 takes at most 5 GiB in
// one PUT) go in parts; minio-go then holds uploadThreads parts of
// uploadPartSize in memory, which bounds the mirror's memory per worker.
const (
	singlePutMax   = 5 << 30
	uploadPartSize = 8 << 20
	uploadThreads  = 2
)

// Bucket is the S3 edge of the archive.
type Bucket struct {
	client *minio.Client
	cfg    Config
	// lastPut is the Unix time of the last successful upload, 0 before
	// the first: pn_archive_last_upload_timestamp_seconds.
	lastPut atomic.Int64
}

// NewBucket returns the archive bucket of cfg. It does no I/O but reading
// cfg.CAFile.
func NewBucket(cfg Config) (*Bucket, error) {
	client, err := cfg.NewClient()
	if err != nil {
		return nil, err
	}
	return &Bucket{client: client, cfg: cfg}, nil
}

// Check asks S3 whether the bucket exists, which needs the endpoint to
// answer, its certificate to verify and the credentials to be accepted;
// a missing bucket is an error too, since no upload could succeed.
func (b *Bucket) Check(ctx context.Context) error {
	ok, err := b.client.BucketExists(ctx, b.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("s3 bucket %s: %w", b.cfg.Bucket, err)
	}
	if !ok {
		return fmt.Errorf("s3 bucket %s: does not exist", b.cfg.Bucket)
	}
	return nil
}

// LastPut returns the time of the last successful upload, and false when
// there was none since the Bucket was made.
func (b *Bucket) LastPut() (time.Time, bool) {
	n := b.lastPut.Load()
	return time.Unix(n, 0), n != 0
}

// Ensure creates the bucket when it is missing, with object locking when a
// lock mode is configured or ObjectLocking asks for it (legal holds). An existing bucket is used as it is.
func (b *Bucket) Ensure(ctx context.Context) error {
	ok, err := b.client.BucketExists(ctx, b.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("s3 bucket %s: %w", b.cfg.Bucket, err)
	}
	if ok {
		return nil
	}
	err = b.client.MakeBucket(ctx, b.cfg.Bucket, minio.MakeBucketOptions{Region: b.cfg.Region, ObjectLocking: b.cfg.LockMode != "" || b.cfg.ObjectLocking})
	if err != nil {
		// Another recorder may have created it meanwhile.
		if resp := minio.ToErrorResponse(err); resp.Code == "BucketAlreadyOwnedByYou" || resp.Code == "BucketAlreadyExists" {
			return nil
		}
		return fmt.Errorf("create s3 bucket %s: %w", b.cfg.Bucket, err)
	}
	return nil
}

// Object is what the archive knows of a stored recording.
type Object struct {
	Key         string
	Size        int64
	SHA256      string
	ContentType string
}

// Stat returns the object at key, and false when there is none. An object
// without our SHA-256 metadata counts as none: only complete uploads carry
// it, so it is redone.
func (b *Bucket) Stat(ctx context.Context, key string) (Object, bool, error) {
	info, err := b.client.StatObject(ctx, b.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		if resp := minio.ToErrorResponse(err); resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey" {
			return Object{}, false, nil
		}
		return Object{}, false, fmt.Errorf("stat s3 object %s: %w", key, err)
	}
	sum := info.Metadata.Get("X-Amz-Meta-" + MetaSHA256)
	if sum == "" {
		return Object{}, false, nil
	}
	return Object{Key: key, Size: info.Size, SHA256: strings.ToLower(sum), ContentType: info.ContentType}, true, nil
}

// Put uploads a spooled download to key with the job's metadata. The
// SHA-256 is known before the upload starts, so the object carries it and
// signs the PUT; Content-MD5 goes with the PUT (or every part) when the
// bucket is object-locked, which requires it.
func (b *Bucket) Put(ctx context.Context, key string, j *Job, d *Download, contentType string) error {
	opts := b.putOptions(j, d, contentType)
	var err error
	if d.Size <= singlePutMax {
		// The payload hash signs the request, so S3 checks the body
		// against the SHA-256 pnstream records.
		opts.DisableContentSha256 = true
		var md5sum string
		if b.cfg.LockMode != "" {
			if md5sum, err = fileMD5(d); err != nil {
				return err
			}
		}
		core := minio.Core{Client: b.client}
		_, err = core.PutObject(ctx, b.cfg.Bucket, key, d.body(), d.Size, md5sum, d.SHA256, opts)
	} else {
		opts.SendContentMd5, opts.PartSize, opts.NumThreads = true, uploadPartSize, uploadThreads
		_, err = b.client.PutObject(ctx, b.cfg.Bucket, key, d.body(), d.Size, opts)
	}
	if err != nil {
		return fmt.Errorf("put s3 object %s: %w", key, err)
	}
	b.lastPut.Store(time.Now().Unix())
	return nil
}

// fileMD5 returns the base64 MD5 of the download, read again from the
// start (only object-locked buckets need it, so spooling does not pay for
// it), and leaves a spooled file at the start.
func fileMD5(d *Download) (string, error) {
	h := md5.New()
	if _, err := io.Copy(h, io.NewSectionReader(d.readerAt(), 0, d.Size)); err != nil {
		return "", fmt.Errorf("md5 of spooled recording: %w", err)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

func (b *Bucket) putOptions(j *Job, d *Download, contentType string) minio.PutObjectOptions {
	opts := minio.PutObjectOptions{
		ContentType: contentType,
		UserMetadata: map[string]string{
			MetaICID:           j.ICID,
			MetaSessionID:      j.SessionID,
			MetaSubscriptionID: j.SubscriptionID,
			MetaSHA256:         d.SHA256,
		},
	}
	if b.cfg.LockMode != "" {
		opts.Mode = minio.RetentionMode(strings.ToUpper(b.cfg.LockMode))
		opts.RetainUntilDate = time.Now().UTC().AddDate(0, 0, b.cfg.LockDays)
	}
	if b.cfg.SSE == "SSE-S3" {
		opts.ServerSideEncryption = encrypt.NewSSE()
	}
	return opts
}
