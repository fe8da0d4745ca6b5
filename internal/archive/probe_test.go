package archive_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/testenv"
)

// PN_S3_CA_FILE: a gateway serving TLS with a certificate of a private CA
// is reached with that CA, and refused without it.
func TestS3CAFile(t *testing.T) {
	files := testenv.NewTLSFiles(t)
	gw := testenv.StartS3TLS(t, files)
	config := func(mod func(*archive.Config)) archive.Config {
		cfg := archive.DefaultConfig()
		cfg.Endpoint, cfg.Bucket = gw.Endpoint, "pn-tls"
		cfg.AccessKey, cfg.SecretKey = gw.AccessKey, gw.SecretKey
		cfg.CAFile = files.CAFile
		mod(&cfg)
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	b, err := archive.NewBucket(config(func(*archive.Config) {}))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Ensure(ctx); err != nil {
		t.Fatalf("create the bucket over TLS with the CA file: %v", err)
	}
	if err := b.Check(ctx); err != nil {
		t.Fatalf("check over TLS with the CA file: %v", err)
	}
	put(t, b, "recordings/tls.wav")
	if obj, found, err := b.Stat(ctx, "recordings/tls.wav"); err != nil || !found || obj.Size != int64(len(audio)) {
		t.Fatalf("stat over TLS: %+v, found %t, %v", obj, found, err)
	}

	refused := []struct {
		name string
		mod  func(*archive.Config)
		want string
	}{
		{"system roots only", func(c *archive.Config) { c.CAFile = "" }, "certificate"},
		{"an unrelated CA", func(c *archive.Config) { c.CAFile = files.OtherCAFile }, "certificate"},
		{"plain HTTP", func(c *archive.Config) { c.CAFile, c.Insecure = "", true }, ""},
	}
	for _, tc := range refused {
		t.Run("refused with "+tc.name, func(t *testing.T) {
			b, err := archive.NewBucket(config(tc.mod))
			if err != nil {
				t.Fatal(err)
			}
			err = b.Check(ctx)
			if err == nil {
				t.Fatal("Check succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestS3CAFileValidation(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	files := testenv.NewTLSFiles(t)
	cases := []struct {
		name string
		mod  func(*archive.Config)
		want string // "" means valid
	}{
		{"a CA file", func(c *archive.Config) { c.CAFile = files.CAFile }, ""},
		{"a CA file with plain HTTP", func(c *archive.Config) { c.CAFile, c.Insecure = files.CAFile, true }, "s3 insecure"},
		{"a missing CA file", func(c *archive.Config) { c.CAFile = filepath.Join(dir, "none.pem") }, "s3 ca file"},
		{"a CA file without a certificate", func(c *archive.Config) { c.CAFile = notPEM }, "no PEM certificate"},
		{"a probe timeout above the interval", func(c *archive.Config) { c.ProbeTimeout = time.Minute }, "s3 probe"},
		{"no probe interval", func(c *archive.Config) { c.ProbeInterval = 0 }, "s3 probe"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := archive.DefaultConfig()
			cfg.Endpoint, cfg.AccessKey, cfg.SecretKey = "s3.example:443", "ak", "sk"
			tc.mod(&cfg)
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// The probe turns pn_archive_s3_up to 0 within an interval of S3 going
// away, counts the failed checks, and back to 1 when S3 returns. It stops
// S3, so it must not run in parallel.
func TestProbeFollowsS3(t *testing.T) {
	s3.Require(t)
	cfg := archive.DefaultConfig()
	cfg.Endpoint, cfg.Bucket = s3.Endpoint(), "pn-probe"
	cfg.AccessKey, cfg.SecretKey, cfg.Insecure = s3.AccessKey(), s3.SecretKey(), true
	// A loopback HEAD takes milliseconds; the margin is for -race on a
	// busy machine.
	cfg.ProbeInterval, cfg.ProbeTimeout = 300*time.Millisecond, 300*time.Millisecond
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	client := s3.Client(t)
	t.Cleanup(func() { removeBucket(client, cfg.Bucket) })
	bucket, err := archive.NewBucket(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	probe := archive.NewProbe(cfg, bucket, zaptest.NewLogger(t), reg)
	testenv.Go(t, probe.Run)

	// No bucket yet: S3 answers, but no upload could succeed.
	awaitMetric(t, reg, "pn_archive_s3_up", func(v float64) bool { return v == 0 })
	awaitMetric(t, reg, "pn_archive_s3_probe_failures_total", func(v float64) bool { return v >= 1 })
	if probe.Up() {
		t.Error("Up with no bucket")
	}
	if err := bucket.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	awaitMetric(t, reg, "pn_archive_s3_up", func(v float64) bool { return v == 1 })
	if !probe.Up() {
		t.Error("not Up while pn_archive_s3_up is 1")
	}
	if v := metricValue(t, reg, "pn_archive_last_upload_timestamp_seconds"); v != 0 {
		t.Errorf("last upload %v before any upload", v)
	}
	before := time.Now().Unix()
	put(t, bucket, "recordings/probe.wav")
	if v := metricValue(t, reg, "pn_archive_last_upload_timestamp_seconds"); v < float64(before) || v > float64(time.Now().Unix()) {
		t.Errorf("last upload %v, want the time of the upload (from %d)", v, before)
	}

	s3.Stop(t)
	failures := metricValue(t, reg, "pn_archive_s3_probe_failures_total")
	stopped := time.Now()
	awaitMetric(t, reg, "pn_archive_s3_up", func(v float64) bool { return v == 0 })
	awaitMetric(t, reg, "pn_archive_s3_probe_failures_total", func(v float64) bool { return v > failures })
	t.Logf("S3 down seen after %v", time.Since(stopped).Round(time.Millisecond))
	s3.Start(t)
	awaitMetric(t, reg, "pn_archive_s3_up", func(v float64) bool { return v == 1 })
}

// awaitMetric waits until the unlabelled metric name of reg satisfies ok.
func awaitMetric(t *testing.T, reg *prometheus.Registry, name string, ok func(float64) bool) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		v := metricValue(t, reg, name)
		return ok(v), fmt.Sprintf("%s is %v", name, v)
	})
}

func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		m := f.GetMetric()[0]
		switch {
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// audio is what put uploads.
var audio = []byte("RIFF....WAVEfmt not really audio")

// put uploads audio to key of b, as the mirror does after a download.
func put(t *testing.T, b *archive.Bucket, key string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "spool")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Write(audio); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(audio)
	d := &archive.Download{File: f, Size: int64(len(audio)), SHA256: hex.EncodeToString(sum[:])}
	job := &archive.Job{ICID: "icid-" + key, SessionID: "s-" + key}
	if err := b.Put(t.Context(), key, job, d, "audio/wav"); err != nil {
		t.Fatal(err)
	}
}

// PN_S3_OBJECT_LOCKING creates the bucket with object locking and no
// default retention: legal holds can be put on its objects, and an object
// without one can still be deleted.
func TestEnsureCreatesALockedBucketForLegalHolds(t *testing.T) {
	s3.Require(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for _, locking := range []bool{false, true} {
		cfg := archive.DefaultConfig()
		cfg.Endpoint, cfg.AccessKey, cfg.SecretKey, cfg.Insecure = s3.Endpoint(), s3.AccessKey(), s3.SecretKey(), true
		cfg.Bucket = fmt.Sprintf("pn-ensure-locking-%t", locking)
		cfg.ObjectLocking = locking
		b, err := archive.NewBucket(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Ensure(ctx); err != nil {
			t.Fatalf("ensure %s: %v", cfg.Bucket, err)
		}
		status, mode, _, _, err := b.Client().GetObjectLockConfig(ctx, cfg.Bucket)
		if locking && (err != nil || status != "Enabled" || (mode != nil && *mode != "")) {
			t.Fatalf("object locking: status %q, default mode %v, %v; want Enabled with no default retention", status, mode, err)
		}
		if !locking && err == nil && status == "Enabled" {
			t.Fatalf("a bucket made without PN_S3_OBJECT_LOCKING has object locking")
		}
	}
}
