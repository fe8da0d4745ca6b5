package testenv

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/pnstream/pnstream/internal/localserver"
)

// S3Server is an S3 gateway (versitygw) shared by the tests of one package,
// started from TestMain like ClickHouseServer:
//
//	s3, err = testenv.StartS3(context.Background())
//	...
//	code := m.Run()
//	err = s3.Close()
//
// Each test isolates itself with NewBucket or NewLockedBucket. Stop, Kill and
// Start take the gateway away from every test of the package: tests that
// call them must not use t.Parallel, nor run while a parallel test is
// running.
type S3Server struct {
	*sharedServer                 // Close, Stop, Kill and Start
	gw            *localserver.S3 // nil when unavailable
	accessKey     string
	secretKey     string
	// admin creates and removes the tests' buckets.
	admin *minio.Client
}

// StartS3 starts an S3 gateway in a new temporary directory on a free
// loopback port, with root credentials made up for this run. When versitygw
// is not installed it returns a gateway whose Require skips (or, under
// ServersRequired, fails) every test that needs it, and a nil error. It
// returns an error when versitygw is installed but does not start.
func StartS3(ctx context.Context) (*S3Server, error) {
	s := &S3Server{accessKey: "testenv-" + rand.Text()[:12], secretKey: rand.Text()}
	shared, gw, err := startShared(ctx, s3Kind, func(ctx context.Context, dir, bin string) (*localserver.S3, error) {
		return localserver.StartS3(ctx, localserver.S3Config{Dir: dir, AccessKey: s.accessKey, SecretKey: s.secretKey, Binary: bin})
	})
	if err != nil {
		return nil, err
	}
	s.sharedServer, s.gw = shared, gw
	if gw == nil {
		return s, nil
	}
	// No keep-alive: bucket administration is rare, and no idle connection
	// is left for goleak to find after Close.
	if s.admin, err = s.newClient(&http.Transport{DisableKeepAlives: true}); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// Require ends t unless the gateway is usable: it skips or fails (see
// MissingServer) when versitygw is not installed, and fails when the gateway
// exited on its own.
func (s *S3Server) Require(t testing.TB) {
	t.Helper()
	if s == nil {
		t.Fatal("testenv: no S3 server; call StartS3 from TestMain")
	}
	s.require(t)
}

// Endpoint returns the S3 endpoint, "127.0.0.1:<port>" (plain HTTP, as
// minio-go and PN_S3_ENDPOINT take it), or "" when the gateway is
// unavailable. It stays the same across Stop and Start.
func (s *S3Server) Endpoint() string {
	if s.gw == nil {
		return ""
	}
	return s.gw.Endpoint()
}

// AccessKey returns the access key of the gateway's only account (PN_S3_ACCESS_KEY).
func (s *S3Server) AccessKey() string { return s.accessKey }

// SecretKey returns the secret key of that account (PN_S3_SECRET_KEY).
func (s *S3Server) SecretKey() string { return s.secretKey }

// Client returns a minio-go client with the root credentials and region
// localserver.S3Region; its idle connections are closed when the test ends.
// It calls Require first. It works again after Stop and Start.
//
// It leaves Options.TrailingHeaders off: versitygw v1.8.0 answers BadDigest
// to a single-request PutObject whose checksum comes as a signed trailer
// (what minio-go sends with TrailingHeaders over plain HTTP), while the same
// checksums on multipart parts (PutObject with size -1) are accepted.
func (s *S3Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	s.Require(t)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := s.newClient(tr)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return c
}

func (s *S3Server) newClient(tr *http.Transport) (*minio.Client, error) {
	c, err := minio.New(s.gw.Endpoint(), &minio.Options{
		Creds:     credentials.NewStaticV4(s.accessKey, s.secretKey, ""),
		Region:    localserver.S3Region,
		Transport: tr,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", s.gw.Endpoint(), err)
	}
	return c, nil
}

// ReadObject returns the content of a small object, failing t if it cannot
// be read whole.
func ReadObject(t testing.TB, c *minio.Client, bucket, key string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	obj, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("testenv: get %s/%s: %v", bucket, key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("testenv: read %s/%s: %v", bucket, key, err)
	}
	return b
}

// NewBucket creates a bucket with a unique name (test-<16 hex digits>) and
// removes it with all its objects and versions when the test ends. It calls
// Require first.
func (s *S3Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := s.newBucket(t, minio.MakeBucketOptions{})
	t.Cleanup(func() {
		if err := s.removeBucket(name, false); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return name
}

// NewLockedBucket creates a bucket like NewBucket with object locking
// enabled, which also enables versioning; it has no default retention. It
// calls Require first.
//
// Removing it when the test ends is best effort: objects under governance
// retention are removed (bypassing it), but objects under compliance
// retention or a legal hold cannot be, and keep the bucket; the test only
// logs that. Close removes them with the gateway's directory.
func (s *S3Server) NewLockedBucket(t testing.TB) string {
	t.Helper()
	name := s.newBucket(t, minio.MakeBucketOptions{ObjectLocking: true})
	t.Cleanup(func() {
		if err := s.removeBucket(name, true); err != nil {
			t.Logf("testenv: locked bucket %s left until Close: %v", name, err)
		}
	})
	return name
}

func (s *S3Server) newBucket(t testing.TB, opts minio.MakeBucketOptions) string {
	t.Helper()
	s.Require(t)
	name := uniqueName("test-")
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if err := s.admin.MakeBucket(ctx, name, opts); err != nil {
		t.Fatalf("testenv: create bucket %s: %v", name, err)
	}
	return name
}

// removeBucket removes every object version and delete marker in bucket,
// then the bucket. bypassGovernance removes versions under governance
// retention too.
func (s *S3Server) removeBucket(bucket string, bypassGovernance bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	// Listed in full first: a test's bucket is small, and a channel filled
	// here needs no goroutine to feed RemoveObjects.
	var versions []minio.ObjectInfo
	for obj := range s.admin.ListObjects(ctx, bucket, minio.ListObjectsOptions{WithVersions: true, Recursive: true}) {
		if obj.Err != nil {
			return fmt.Errorf("remove bucket %s: list versions: %w", bucket, obj.Err)
		}
		versions = append(versions, obj)
	}
	objs := make(chan minio.ObjectInfo, len(versions))
	for _, v := range versions {
		objs <- v
	}
	close(objs)
	var errs []error
	for res := range s.admin.RemoveObjectsWithResult(ctx, bucket, objs, minio.RemoveObjectsOptions{GovernanceBypass: bypassGovernance}) {
		if res.Err != nil {
			errs = append(errs, fmt.Errorf("remove %s version %s: %w", res.ObjectName, res.ObjectVersionID, res.Err))
		}
	}
	if len(errs) == 0 {
		if err := s.admin.RemoveBucket(ctx, bucket); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove bucket %s: %w", bucket, err)
	}
	return nil
}
