package localserver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/pnstream/pnstream/internal/localserver"
	"github.com/pnstream/pnstream/internal/testenv"
)

const (
	testAccessKey = "pnstream-test"
	testSecretKey = "pnstream-test-secret"
)

func TestS3ConfigValidate(t *testing.T) {
	valid := localserver.S3Config{Dir: "/tmp/x", Port: 19100, AccessKey: "a", SecretKey: "s"}
	requireProblems(t, valid.Validate())
	bad := localserver.S3Config{Port: -1, StartTimeout: -1, StopTimeout: -1}
	requireProblems(t, bad.Validate(),
		"dir is required", "port: -1", "access key is required", "secret key is required", "start timeout", "stop timeout")
}

func TestS3ConfigStringRedactsSecret(t *testing.T) {
	cfg := localserver.S3Config{Dir: "/tmp/x", Port: 19100, AccessKey: "visible", SecretKey: "hidden-secret"}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", &cfg)} {
		if strings.Contains(s, "hidden-secret") || !strings.Contains(s, "visible") || !strings.Contains(s, "(redacted)") {
			t.Errorf("printed config %q: want the access key and no secret", s)
		}
	}
}

func TestFindS3Binary(t *testing.T) {
	empty := t.TempDir()
	fake := func(t *testing.T, dir string) string {
		t.Helper()
		p := filepath.Join(dir, "versitygw")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("GOBIN", func(t *testing.T) {
		gobin := t.TempDir()
		want := fake(t, gobin)
		fake(t, filepath.Join(t.TempDir(), "bin")) // a GOPATH one loses
		t.Setenv("PATH", empty)
		t.Setenv("GOBIN", gobin)
		t.Setenv("GOPATH", t.TempDir())
		if got, err := localserver.FindS3Binary(); err != nil || got != want {
			t.Errorf("FindS3Binary() = %q, %v; want %q", got, err, want)
		}
	})
	t.Run("first GOPATH entry", func(t *testing.T) {
		gopath := t.TempDir()
		want := fake(t, filepath.Join(gopath, "bin"))
		t.Setenv("PATH", empty)
		t.Setenv("GOBIN", "")
		t.Setenv("GOPATH", gopath+string(os.PathListSeparator)+t.TempDir())
		if got, err := localserver.FindS3Binary(); err != nil || got != want {
			t.Errorf("FindS3Binary() = %q, %v; want %q", got, err, want)
		}
	})
	t.Run("home go/bin", func(t *testing.T) {
		home := t.TempDir()
		want := fake(t, filepath.Join(home, "go", "bin"))
		t.Setenv("PATH", empty)
		t.Setenv("GOBIN", "")
		t.Setenv("GOPATH", "")
		t.Setenv("HOME", home)
		if got, err := localserver.FindS3Binary(); err != nil || got != want {
			t.Errorf("FindS3Binary() = %q, %v; want %q", got, err, want)
		}
	})
	t.Run("PATH first", func(t *testing.T) {
		onPath := t.TempDir()
		want := fake(t, onPath)
		gobin := t.TempDir()
		fake(t, gobin)
		t.Setenv("PATH", onPath)
		t.Setenv("GOBIN", gobin)
		if got, err := localserver.FindS3Binary(); err != nil || got != want {
			t.Errorf("FindS3Binary() = %q, %v; want %q", got, err, want)
		}
	})
	t.Run("missing", func(t *testing.T) {
		home := t.TempDir()
		t.Setenv("PATH", empty)
		t.Setenv("GOBIN", "")
		t.Setenv("GOPATH", "")
		t.Setenv("HOME", home)
		_, err := localserver.FindS3Binary()
		if !errors.Is(err, localserver.ErrS3BinaryNotFound) || !strings.Contains(err.Error(), filepath.Join(home, "go", "bin")) {
			t.Errorf("FindS3Binary() error = %v, want ErrS3BinaryNotFound naming %s/go/bin", err, home)
		}
	})
}

// newS3 returns a gateway on a free port in dir, stopped when the test ends.
// It skips (or fails in CI) without versitygw.
func newS3(t *testing.T, dir string) *localserver.S3 {
	t.Helper()
	return newS3On(t, dir, freePort(t))
}

func newS3On(t *testing.T, dir string, port int) *localserver.S3 {
	t.Helper()
	if _, err := localserver.FindS3Binary(); err != nil {
		testenv.MissingServer(t, err.Error())
	}
	s3, err := localserver.NewS3(localserver.S3Config{Dir: dir, Port: port, AccessKey: testAccessKey, SecretKey: testSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	stopAtCleanup(t, s3)
	return s3
}

func startS3(t *testing.T, s3 *localserver.S3) {
	t.Helper()
	began := time.Now()
	if err := s3.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("versitygw answered after %s", time.Since(began).Round(time.Millisecond))
}

// s3Client returns a client with the given secret. Its idle connections are
// closed when the test ends, so that goleak finds no transport goroutines.
func s3Client(t *testing.T, s3 *localserver.S3, secret string) *minio.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := minio.New(s3.Endpoint(), &minio.Options{
		Creds:     credentials.NewStaticV4(testAccessKey, secret, ""),
		Region:    localserver.S3Region,
		Transport: tr,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestS3StartStopRestartKeepsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s3 := newS3(t, t.TempDir())
	startS3(t, s3)
	if !strings.HasPrefix(s3.Endpoint(), "127.0.0.1:") {
		t.Errorf("Endpoint() = %q", s3.Endpoint())
	}

	c := s3Client(t, s3, testSecretKey)
	if err := c.MakeBucket(ctx, "kept", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("recording "), 1000)
	if _, err := c.PutObject(ctx, "kept", "a/b.mp3", bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{UserMetadata: map[string]string{"icid": "42"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3Client(t, s3, "wrong-secret").ListBuckets(ctx); err == nil {
		t.Error("ListBuckets with a wrong secret succeeded")
	}
	resp, err := http.Get("http://" + s3.Endpoint() + localserver.S3HealthPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s = %s, want 200", localserver.S3HealthPath, resp.Status)
	}

	if err := s3.Start(ctx); err == nil {
		t.Error("Start on a running gateway succeeded, want an error")
	}

	began := time.Now()
	if err := s3.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("graceful stop took %s", time.Since(began).Round(time.Millisecond))
	requireDown(t, s3, s3.Endpoint())
	if err := s3.Stop(ctx); err != nil {
		t.Errorf("second Stop = %v, want nil", err)
	}

	startS3(t, s3)
	if got := testenv.ReadObject(t, c, "kept", "a/b.mp3"); !bytes.Equal(got, body) {
		t.Fatalf("after restart got %d bytes, want the %d put", len(got), len(body))
	}
	info, err := c.StatObject(ctx, "kept", "a/b.mp3", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.UserMetadata["Icid"] != "42" {
		t.Errorf("user metadata after restart = %v, want Icid 42", info.UserMetadata)
	}
	if _, err := c.PutObject(ctx, "kept", "second", strings.NewReader("2"), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	if err := s3.Kill(); err != nil {
		t.Fatal(err)
	}
	requireDown(t, s3, s3.Endpoint())
	startS3(t, s3)
	// The gateway renames a complete file into place before it answers.
	if got := testenv.ReadObject(t, c, "kept", "second"); string(got) != "2" {
		t.Fatalf("after kill and restart got %q, want 2", got)
	}
}

// A VGW_* setting or root credentials in the caller's environment must not
// reach the gateway.
func TestS3IgnoresGatewayEnvironment(t *testing.T) {
	t.Setenv("VGW_READ_ONLY", "true")
	t.Setenv("ROOT_SECRET_KEY", "not-the-configured-one")
	s3 := newS3(t, t.TempDir())
	startS3(t, s3)
	if err := s3Client(t, s3, testSecretKey).MakeBucket(context.Background(), "writable", minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("MakeBucket under VGW_READ_ONLY=true in the environment: %v", err)
	}
}

func TestS3StartReportsLogTailWhenPortTaken(t *testing.T) {
	t.Parallel()
	s3 := newS3On(t, t.TempDir(), takenPort(t))
	err := s3.Start(context.Background())
	if err == nil {
		t.Fatal("Start succeeded with its port taken")
	}
	t.Logf("Start error:\n%v", err)
	for _, want := range []string{"start s3 on " + s3.Endpoint(), "exited during start-up", "tail of", "address already in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if strings.Contains(err.Error(), testSecretKey) {
		t.Error("error quotes the secret key")
	}
	select {
	case <-s3.Done():
	default:
		t.Error("gateway still running after a failed Start")
	}
}
