package archive

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// Object metadata pnstream writes on every recording (x-amz-meta-*).
const (
	MetaICID           = "Icid"
	MetaSessionID      = "Session-Id"
	MetaSubscriptionID = "Subscription-Id"
	MetaSHA256         = "Sha256"
)

// Upload buffers: minio-go holds NumThreads parts of PartSize in memory
// while uploading, so these two bound the mirror's memory per worker.
const (
	uploadPartSize = 8 << 20
	uploadThreads  = 2
)

// Bucket is the S3 edge of the archive.
type Bucket struct {
	client *minio.Client
	cfg    Config
}

// NewBucket returns the archive bucket of cfg. It does no I/O.
func NewBucket(cfg Config) (*Bucket, error) {
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: !cfg.Insecure,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	return &Bucket{client: client, cfg: cfg}, nil
}

// Ensure creates the bucket when it is missing, with object locking when a
// lock mode is configured. An existing bucket is used as it is.
func (b *Bucket) Ensure(ctx context.Context) error {
	ok, err := b.client.BucketExists(ctx, b.cfg.Bucket)
	if err != nil {
		return fmt.Errorf("s3 bucket %s: %w", b.cfg.Bucket, err)
	}
	if ok {
		return nil
	}
	err = b.client.MakeBucket(ctx, b.cfg.Bucket, minio.MakeBucketOptions{Region: b.cfg.Region, ObjectLocking: b.cfg.LockMode != ""})
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
// SHA-256 is known before the upload starts, so the object carries it, and
// Content-MD5 goes with every part, which object-locked buckets require.
func (b *Bucket) Put(ctx context.Context, key string, j *Job, d *Download, contentType string) error {
	opts := minio.PutObjectOptions{
		ContentType: contentType,
		UserMetadata: map[string]string{
			MetaICID:           j.ICID,
			MetaSessionID:      j.SessionID,
			MetaSubscriptionID: j.SubscriptionID,
			MetaSHA256:         d.SHA256,
		},
		SendContentMd5: true,
		PartSize:       uploadPartSize,
		NumThreads:     uploadThreads,
	}
	if b.cfg.LockMode != "" {
		opts.Mode = minio.RetentionMode(strings.ToUpper(b.cfg.LockMode))
		opts.RetainUntilDate = time.Now().UTC().AddDate(0, 0, b.cfg.LockDays)
	}
	if b.cfg.SSE == "SSE-S3" {
		opts.ServerSideEncryption = encrypt.NewSSE()
	}
	if _, err := b.client.PutObject(ctx, b.cfg.Bucket, key, d.File, d.Size, opts); err != nil {
		return fmt.Errorf("put s3 object %s: %w", key, err)
	}
	return nil
}
