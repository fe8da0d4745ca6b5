package testenv_test

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pnstream/pnstream/internal/testenv"
)

func bucketExists(t *testing.T, c *minio.Client, bucket string) bool {
	t.Helper()
	ok, err := c.BucketExists(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func put(t *testing.T, c *minio.Client, bucket, key, body string, opts minio.PutObjectOptions) minio.UploadInfo {
	t.Helper()
	info, err := c.PutObject(context.Background(), bucket, key, strings.NewReader(body), int64(len(body)), opts)
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return info
}

func TestNewBucketIsUniqueAndRemoved(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var names []string
	t.Run("create", func(t *testing.T) {
		a, b := s3.NewBucket(t), s3.NewBucket(t)
		if a == b {
			t.Fatalf("two buckets named %q", a)
		}
		for _, n := range []string{a, b} {
			if !regexp.MustCompile(`^test-[0-9a-f]{16}$`).MatchString(n) {
				t.Errorf("bucket name %q, want test-<16 hex digits>", n)
			}
		}
		c := s3.Client(t)
		put(t, c, a, "dir/one", "1", minio.PutObjectOptions{})
		// Versions and a delete marker must not keep the bucket either.
		if err := c.EnableVersioning(ctx, b); err != nil {
			t.Fatal(err)
		}
		put(t, c, b, "k", "v1", minio.PutObjectOptions{})
		put(t, c, b, "k", "v2", minio.PutObjectOptions{})
		if err := c.RemoveObject(ctx, b, "k", minio.RemoveObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		names = []string{a, b}
	})
	c := s3.Client(t)
	for _, n := range names {
		if bucketExists(t, c, n) {
			t.Errorf("bucket %s still exists after its test ended", n)
		}
	}
}

// What versitygw v1.8.0 does with object locking, which the archive relies
// on: no Content-MD5 or checksum is demanded for a write with retention, and
// retention is enforced on delete.
func TestNewLockedBucket(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	var governed, compliant string
	t.Run("governance", func(t *testing.T) {
		governed = s3.NewLockedBucket(t)
		c := s3.Client(t)
		status, _, _, _, err := c.GetObjectLockConfig(ctx, governed)
		if err != nil || status != "Enabled" {
			t.Fatalf("object lock config: %q, %v; want Enabled", status, err)
		}
		info := put(t, c, governed, "rec", "audio", minio.PutObjectOptions{Mode: minio.Governance, RetainUntilDate: until})
		if info.VersionID == "" {
			t.Error("no version ID: a locked bucket must be versioned")
		}
		st, err := c.StatObject(ctx, governed, "rec", minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if mode := st.Metadata.Get("X-Amz-Object-Lock-Mode"); mode != "GOVERNANCE" {
			t.Errorf("lock mode %q, want GOVERNANCE", mode)
		}
		err = c.RemoveObject(ctx, governed, "rec", minio.RemoveObjectOptions{VersionID: info.VersionID})
		if err == nil {
			t.Fatal("removed a version under governance retention without bypass")
		}
	})
	t.Run("compliance", func(t *testing.T) {
		compliant = s3.NewLockedBucket(t)
		c := s3.Client(t)
		put(t, c, compliant, "rec", "audio", minio.PutObjectOptions{Mode: minio.Compliance, RetainUntilDate: until})
	})
	c := s3.Client(t)
	if bucketExists(t, c, governed) {
		t.Errorf("bucket %s with governance retention only still exists after its test", governed)
	}
	// Documented: compliance retention keeps the bucket until Close.
	if !bucketExists(t, c, compliant) {
		t.Errorf("bucket %s with an object under compliance retention was removed", compliant)
	}
}

// Not parallel: Stop and Kill take the gateway away from every test.
func TestS3OutageKeepsObjects(t *testing.T) {
	ctx := context.Background()
	bucket := s3.NewBucket(t)
	c := s3.Client(t)
	t.Logf("versitygw at %s, access key %s", s3.Endpoint(), s3.AccessKey())
	body := string(bytes.Repeat([]byte("x"), 1<<20))
	put(t, c, bucket, "kept", body, minio.PutObjectOptions{})

	s3.Stop(t)
	// minio-go retries a refused connection for seconds; a moment is enough
	// to see that it fails.
	down, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err := c.BucketExists(down, bucket)
	if err == nil {
		t.Fatal("BucketExists succeeded while the gateway is stopped")
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.StatusCode != 0 {
		t.Errorf("error while stopped is an S3 answer (%d), want a connection error: %v", resp.StatusCode, err)
	}
	s3.Start(t)
	if got := string(testenv.ReadObject(t, c, bucket, "kept")); got != body {
		t.Fatalf("after stop and start: %d bytes, want %d", len(got), len(body))
	}

	s3.Kill(t)
	s3.Start(t)
	if got := string(testenv.ReadObject(t, c, bucket, "kept")); got != body {
		t.Fatalf("after kill and start: %d bytes, want %d", len(got), len(body))
	}
}

// The restart at cleanup keeps the gateway available to later tests even
// when a test ends during an outage.
func TestS3RestartedAfterTest(t *testing.T) {
	t.Run("leaves it stopped", func(t *testing.T) {
		s3.NewBucket(t) // removed at cleanup, after the restart
		s3.Kill(t)
	})
	bucket := s3.NewBucket(t)
	if !bucketExists(t, s3.Client(t), bucket) {
		t.Fatal("gateway not back after the subtest")
	}
}

func TestS3Credentials(t *testing.T) {
	t.Parallel()
	s3.Require(t)
	if s3.AccessKey() == "" || len(s3.SecretKey()) < 20 || s3.AccessKey() == s3.SecretKey() {
		t.Errorf("credentials %q/(%d chars): want a made-up pair", s3.AccessKey(), len(s3.SecretKey()))
	}
	if !strings.HasPrefix(s3.Endpoint(), "127.0.0.1:") {
		t.Errorf("Endpoint() = %q", s3.Endpoint())
	}
}

func TestStartS3WithoutBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOBIN", "")
	t.Setenv("GOPATH", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("CI", "")
	t.Setenv("PN_REQUIRE_SERVERS", "")
	missing, err := testenv.StartS3(context.Background())
	if err != nil {
		t.Fatalf("StartS3 without versitygw = %v, want an unavailable server", err)
	}
	if missing.Endpoint() != "" {
		t.Errorf("Endpoint() = %q, want empty", missing.Endpoint())
	}
	t.Run("needs it", func(t *testing.T) {
		defer func() {
			if !t.Skipped() {
				t.Error("NewBucket did not skip")
			}
		}()
		missing.NewBucket(t)
	})
	if err := missing.Close(); err != nil {
		t.Errorf("Close = %v, want nil", err)
	}
}
