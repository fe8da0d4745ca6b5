package archive_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/platformsim"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/internal/warehouse"
	"github.com/pnstream/pnstream/internal/warehouse/warehousetest"
)

const (
	appKey    = "archive-app"
	appSecret = "archive-secret"
	domain    = "ostor.pnsim.local"
)

// rig is the archive against real servers, with the simulator as the
// platform (record-URL API and recording downloads).
type rig struct {
	t      *testing.T
	js     jetstream.JetStream
	sim    *platformsim.Simulator
	simURL string
	client *axeapi.Client
	bucket string
	s3     *minio.Client
	wh     *warehouse.Warehouse
	db     string
	cfg    archive.Config
	// warnings are the mirror's warnings and above, once mirror ran.
	warnings *observer.ObservedLogs
}

func newRig(t *testing.T, mutate func(*archive.Config)) *rig {
	t.Helper()
	ctx := context.Background()
	r := &rig{t: t}

	ns := testenv.NATS(t)
	cc := streams.DefaultConnConfig()
	cc.URL = ns.URL()
	nc, js, err := streams.Connect(cc, "archive-test", zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	// Small byte limits: the test's streams hold little.
	sc := streams.DefaultConfig()
	sc.MaxBytes, sc.RejectedMaxBytes, sc.DeadMaxBytes = 64<<20, 16<<20, 16<<20
	sc.NumbersMaxBytes = 16 << 20
	if err := streams.Provision(ctx, js, sc); err != nil {
		t.Fatal(err)
	}
	r.js = js

	srv := httptest.NewUnstartedServer(nil) // started once the simulator exists
	r.simURL = "http://" + srv.Listener.Addr().String()
	scfg := platformsim.DefaultConfig()
	scfg.Addr, scfg.PublicURL = srv.Listener.Addr().String(), r.simURL
	scfg.AppKey, scfg.AppSecret = appKey, appSecret
	scfg.CallRate, scfg.Bindings = 0, 0
	scfg.RecordDomain = domain
	sim, err := platformsim.New(scfg, platformsim.Deps{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	r.sim = sim
	srv.Config.Handler = sim.Handler()
	srv.Start()
	t.Cleanup(srv.Close)

	pcfg := axeapi.DefaultClientConfig()
	pcfg.BaseURL, pcfg.AppKey, pcfg.AppSecret = r.simURL, appKey, appSecret
	if r.client, err = axeapi.NewClient(pcfg); err != nil {
		t.Fatal(err)
	}

	r.wh, r.db = warehousetest.Open(t, clickhouse)

	r.bucket = "pn-test-" + strings.ToLower(strings.TrimPrefix(r.db, "test_"))
	r.cfg = archive.DefaultConfig()
	r.cfg.Endpoint, r.cfg.Bucket = s3.Endpoint(), r.bucket
	r.cfg.AccessKey, r.cfg.SecretKey, r.cfg.Insecure = s3.AccessKey(), s3.SecretKey(), true
	r.cfg.Hosts, r.cfg.AllowPrivate = "127.0.0.1", true
	r.cfg.RetryInitial, r.cfg.RetryMax = 100*time.Millisecond, 300*time.Millisecond
	r.cfg.FlowControlPause = 300 * time.Millisecond
	r.cfg.SpoolDir = t.TempDir()
	if mutate != nil {
		mutate(&r.cfg)
	}
	if err := r.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r.s3 = s3.Client(t)
	t.Cleanup(func() { removeBucket(r.s3, r.bucket) })
	return r
}

// removeBucket removes what it can; locked objects stay until testenv
// removes the gateway's directory.
func removeBucket(c *minio.Client, bucket string) {
	ctx := context.Background()
	for obj := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		_ = c.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{VersionID: obj.VersionID, GovernanceBypass: true})
	}
	_ = c.RemoveBucket(ctx, bucket)
}

// mirror runs a Mirror until the test ends.
func (r *rig) mirror() {
	r.t.Helper()
	bucket, err := archive.NewBucket(r.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	observed, logs := observer.New(zap.WarnLevel)
	r.warnings = logs
	m := archive.NewMirror(r.cfg, archive.Deps{
		JetStream: r.js, Resolver: r.client, Bucket: bucket, Rows: r.wh,
		Logger:   zap.New(zapcore.NewTee(zaptest.NewLogger(r.t).Core(), observed)),
		Registry: prometheus.NewRegistry(),
	})
	testenv.Go(r.t, m.Run)
}

// recording adds a recording of d to the simulator and returns its fee
// record, as the platform would push it, and the SHA-256 of its audio.
func (r *rig) recording(icid string, d time.Duration, viaDomain bool) (privatenumber.FeeRecord, string, int64) {
	r.t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	rec := platformsim.Recording{ICID: icid, Domain: domain, ObjectName: icid + ".wav", Start: now.Add(-d), Duration: d}
	r.sim.Recordings().Add(rec, now)
	fee := privatenumber.FeeRecord{ICID: icid, SessionID: "s-" + icid, SubscriptionID: "sub-1", RecordFlag: 1,
		RecordObjectName: rec.ObjectName}
	fee.CallInTime = privatenumber.Time{Time: now.Add(-d - 10*time.Second)}
	fee.CallEndTime = privatenumber.Time{Time: now}
	if viaDomain {
		fee.RecordDomain = domain
	} else {
		fee.RecordFileDownloadURL = r.sim.Recordings().DirectURL(rec, now)
	}
	sum, size := r.source(r.sim.Recordings().DirectURL(rec, now))
	return fee, sum, size
}

// source reads the simulator's audio directly, to know what must arrive.
func (r *rig) source(url string) (string, int64) {
	r.t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil || resp.StatusCode != 200 {
		r.t.Fatalf("source audio: %d %v", resp.StatusCode, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

func (r *rig) enqueue(fees ...privatenumber.FeeRecord) {
	r.t.Helper()
	if err := archive.NewEnqueuer(streams.NewJetStreamPublisher(r.js.Conn(), r.js)).Enqueue(context.Background(), fees); err != nil {
		r.t.Fatal(err)
	}
}

type row struct {
	status, key, sha, errText, contentType string
	size                                   uint64
}

// waitRow waits for the pn.recordings row of icid (deduplicated).
func (r *rig) waitRow(icid string, timeout time.Duration) row {
	r.t.Helper()
	conn := clickhouse.Open(r.t, r.db)
	var x row
	testenv.Eventually(r.t, timeout, func() (bool, string) {
		err := conn.QueryRow(context.Background(), `SELECT status, object_key, sha256, error, content_type, size_bytes
			FROM recordings FINAL WHERE icid = ?`, icid).Scan(&x.status, &x.key, &x.sha, &x.errText, &x.contentType, &x.size)
		if err != nil {
			return false, fmt.Sprintf("no pn.recordings row for %s: %v", icid, err)
		}
		return true, ""
	})
	return x
}

func (r *rig) count(query string) uint64 {
	r.t.Helper()
	var n uint64
	if err := clickhouse.Open(r.t, r.db).QueryRow(context.Background(), query).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// object returns the stored object's SHA-256 (computed from its bytes),
// its size and metadata.
func (r *rig) object(key string) (string, int64, minio.ObjectInfo) {
	r.t.Helper()
	ctx := context.Background()
	obj, err := r.s3.GetObject(ctx, r.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	defer obj.Close()
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		r.t.Fatalf("read object %s: %v", key, err)
	}
	info, err := r.s3.StatObject(ctx, r.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		r.t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, info
}

func (r *rig) objectCount() int {
	n := 0
	for obj := range r.s3.ListObjects(context.Background(), r.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			r.t.Fatal(obj.Err)
		}
		n++
	}
	return n
}

func (r *rig) deadLetters() []*jetstream.RawStreamMsg {
	r.t.Helper()
	s, err := r.js.Stream(context.Background(), streams.Dead)
	if err != nil {
		r.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err == nil {
			out = append(out, m)
		}
	}
	return out
}

// waitDeadLetters waits until PN_DEAD holds n messages.
func (r *rig) waitDeadLetters(n int) {
	r.t.Helper()
	testenv.Eventually(r.t, 20*time.Second, func() (bool, string) {
		got := len(r.deadLetters())
		return got == n, fmt.Sprintf("%d dead letters, want %d", got, n)
	})
}

func (r *rig) checkArchived(fee privatenumber.FeeRecord, sum string, size int64) {
	r.t.Helper()
	got := r.waitRow(fee.ICID, 20*time.Second)
	job := archive.NewJob(&fee, archive.Retention)
	if got.status != "archived" || got.key != archive.ObjectKey(&job) || got.sha != sum || got.size != uint64(size) || got.contentType != "audio/wav" {
		r.t.Fatalf("row of %s = %+v, want archived %s %d bytes sha %s", fee.ICID, got, archive.ObjectKey(&job), size, sum)
	}
	objSum, objSize, info := r.object(got.key)
	if objSum != sum || objSize != size {
		r.t.Errorf("object %s: %d bytes sha %s, want %d bytes sha %s", got.key, objSize, objSum, size, sum)
	}
	for k, want := range map[string]string{"Icid": fee.ICID, "Session-Id": fee.SessionID, "Subscription-Id": fee.SubscriptionID, "Sha256": sum} {
		if v := info.Metadata.Get("X-Amz-Meta-" + k); v != want {
			r.t.Errorf("object metadata %s = %q, want %q", k, v, want)
		}
	}
}

func TestEveryRecordingArchivedOnceWithItsHash(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	type want struct {
		fee  privatenumber.FeeRecord
		sum  string
		size int64
	}
	var all []want
	for i := range 12 {
		fee, sum, size := r.recording(fmt.Sprintf("icid-%02d", i), time.Duration(3+i)*time.Second, i%3 != 0)
		all = append(all, want{fee, sum, size})
		r.enqueue(fee)
	}
	r.mirror()
	for _, w := range all {
		r.checkArchived(w.fee, w.sum, w.size)
	}
	if n := r.objectCount(); n != len(all) {
		t.Errorf("%d objects, want %d", n, len(all))
	}
}

func TestURLExpiresBetweenAttempts(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	fee, sum, size := r.recording("expiring", 5*time.Second, true)
	if err := r.sim.Faults().Set(platformsim.FaultSpec{ExpireURLs: &platformsim.Window{For: platformsim.Duration(700 * time.Millisecond)}}); err != nil {
		t.Fatal(err)
	}
	r.enqueue(fee)
	r.mirror()
	r.checkArchived(fee, sum, size)
}

func TestDroppedDownloadIsRetriedNeverTruncated(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	fee, sum, size := r.recording("dropped", 60*time.Second, true)
	if err := r.sim.Faults().Set(platformsim.FaultSpec{Download: &platformsim.DownloadFault{DropAfterBytes: 100_000, For: platformsim.Duration(700 * time.Millisecond)}}); err != nil {
		t.Fatal(err)
	}
	r.enqueue(fee)
	r.mirror()
	r.checkArchived(fee, sum, size)
}

func TestDownloadURLOnlyRecordArchived(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	fee, sum, size := r.recording("direct", 4*time.Second, false)
	if fee.RecordDomain != "" || fee.RecordFileDownloadURL == "" {
		t.Fatal("fixture is not a recordFileDownloadUrl-only record")
	}
	r.enqueue(fee)
	r.mirror()
	r.checkArchived(fee, sum, size)
}

func TestNotFoundFailsOnceWithoutEndlessRetry(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	fee := privatenumber.FeeRecord{ICID: "gone", SessionID: "s-gone", RecordFlag: 1, RecordDomain: domain, RecordObjectName: "never-recorded.wav"}
	fee.CallInTime = privatenumber.Time{Time: time.Now().UTC().Add(-time.Minute)}
	r.enqueue(fee)
	r.mirror()
	got := r.waitRow("gone", 20*time.Second)
	if got.status != "failed" || !strings.Contains(got.errText, "does not exist") {
		t.Fatalf("row = %+v, want failed with the platform's reason", got)
	}
	r.waitDeadLetters(1)
	dead := r.deadLetters()[0]
	if !strings.Contains(dead.Header.Get(streams.HeaderReason), "1012007") || dead.Subject != streams.DeadPrefix+"recordings" {
		t.Errorf("dead letter %s: %v", dead.Subject, dead.Header)
	}
	// Terminated, not retried: the job leaves the work queue, which a
	// retry (a delayed nak) would keep it in, and was delivered once.
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		msgs := streamInfo(t, r.js, streams.Recordings).State.Msgs
		info := r.consumerInfo()
		return msgs == 0 && info.NumAckPending == 0, fmt.Sprintf("PN_RECORDINGS holds %d jobs, %d unacked", msgs, info.NumAckPending)
	})
	if info := r.consumerInfo(); info.Delivered.Consumer != 1 || info.NumRedelivered != 0 {
		t.Errorf("job delivered %d times (%d redelivered), want once", info.Delivered.Consumer, info.NumRedelivered)
	}
	if n := r.count("SELECT count() FROM recordings"); n != 1 {
		t.Errorf("%d recordings rows, want 1 (no endless retry)", n)
	}
}

func TestUntrustedDownloadTargetsAreRefused(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	evil := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("RIFF"))
	}))
	defer evil.Close()
	port := evil.Listener.Addr().(*net.TCPAddr).Port
	tests := []struct {
		name, url, reason string
	}{
		{"host not on the allow-list", fmt.Sprintf("https://127.0.0.1:%d/a.wav", port), "allow-list"},
		{"name resolving to loopback", fmt.Sprintf("https://localhost:%d/a.wav", port), "not a public address"},
		{"plain http", fmt.Sprintf("http://localhost:%d/a.wav", port), "https only"},
		{"cloud metadata address", "https://169.254.169.254/latest/meta-data", "allow-list"},
	}
	r := newRig(t, func(c *archive.Config) { c.Hosts, c.AllowPrivate = "localhost,.pnsim.local", false })
	for i, tt := range tests {
		fee := privatenumber.FeeRecord{ICID: fmt.Sprintf("evil-%d", i), SessionID: "s", RecordFlag: 1, RecordFileDownloadURL: tt.url}
		fee.CallInTime = privatenumber.Time{Time: time.Now().UTC()}
		r.enqueue(fee)
	}
	r.mirror()
	for i, tt := range tests {
		got := r.waitRow(fmt.Sprintf("evil-%d", i), 20*time.Second)
		if got.status != "failed" || !strings.Contains(got.errText, tt.reason) {
			t.Errorf("%s: row %+v, want failed mentioning %q", tt.name, got, tt.reason)
		}
	}
	r.waitDeadLetters(len(tests))
	if hits.Load() != 0 {
		t.Errorf("the refused host was contacted %d times", hits.Load())
	}
	if n := r.objectCount(); n != 0 {
		t.Errorf("%d objects stored", n)
	}
}

func TestDuplicateJobsAndTwoMirrorsLeaveOneObjectOneRow(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(c *archive.Config) { c.Concurrency = 3 })
	fee, sum, size := r.recording("twice", 20*time.Second, true)
	job := archive.NewJob(&fee, archive.Retention)
	data, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	// The same job three times, past the duplicate window (distinct ids),
	// and two mirror processes competing for them.
	for i := range 3 {
		if _, err := r.js.Publish(context.Background(), streams.RecordingSubject, data, jetstream.WithMsgID(fmt.Sprintf("dup-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	r.mirror()
	r.mirror()
	r.checkArchived(fee, sum, size)
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		n := streamInfo(t, r.js, streams.Recordings).State.Msgs
		return n == 0, fmt.Sprintf("PN_RECORDINGS holds %d jobs", n)
	})
	if n := r.objectCount(); n != 1 {
		t.Errorf("%d objects, want 1", n)
	}
	if n := r.count("SELECT count() FROM recordings FINAL"); n != 1 {
		t.Errorf("%d rows under FINAL, want 1", n)
	}
}

func TestFlowControlPausesInsteadOfFailing(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	fee, sum, size := r.recording("slow-down", 3*time.Second, true)
	if err := r.sim.Faults().Set(platformsim.FaultSpec{FlowControl: &platformsim.Window{For: platformsim.Duration(time.Second)}}); err != nil {
		t.Fatal(err)
	}
	r.enqueue(fee)
	r.mirror()
	r.checkArchived(fee, sum, size)
	if len(r.deadLetters()) != 0 {
		t.Error("flow control dead-lettered the job")
	}
}

func streamInfo(t *testing.T, js jetstream.JetStream, name string) *jetstream.StreamInfo {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// consumerInfo returns the info of the mirror's durable consumer.
func (r *rig) consumerInfo() *jetstream.ConsumerInfo {
	r.t.Helper()
	c, err := r.js.Consumer(context.Background(), streams.Recordings, r.cfg.Consumer)
	if err != nil {
		r.t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return info
}

func TestLockedBucketGetsRetention(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(c *archive.Config) { c.LockMode, c.LockDays = "GOVERNANCE", 1 })
	fee, sum, size := r.recording("locked", 3*time.Second, true)
	r.enqueue(fee)
	r.mirror() // creates the bucket with object locking
	r.checkArchived(fee, sum, size)
	got := r.waitRow("locked", time.Second)
	info, err := r.s3.StatObject(context.Background(), r.bucket, got.key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	until, err := time.Parse(time.RFC3339, info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
	if mode := info.Metadata.Get("X-Amz-Object-Lock-Mode"); mode != "GOVERNANCE" || err != nil || time.Until(until) < 23*time.Hour {
		t.Errorf("object lock mode %q until %v (%v), want GOVERNANCE for a day", mode, until, err)
	}
	// Locked: a plain delete of this version is refused.
	if err := r.s3.RemoveObject(context.Background(), r.bucket, got.key, minio.RemoveObjectOptions{VersionID: info.VersionID}); err == nil {
		t.Error("deleting a locked recording succeeded")
	}
}

// Jobs waiting for a retry must not starve new ones.
func TestRetriesDoNotStarveNewJobs(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(c *archive.Config) { c.Concurrency, c.RetryInitial, c.RetryMax = 2, 30*time.Second, time.Minute })
	for i := range 20 {
		fee := privatenumber.FeeRecord{ICID: fmt.Sprintf("forbidden-%d", i), SessionID: "s", RecordFlag: 1,
			RecordFileDownloadURL: r.simURL + platformsim.RecordingsPath + "x.wav?Expires=1&Signature=bad"}
		fee.CallInTime = privatenumber.Time{Time: time.Now().UTC()}
		fee.CallEndTime = fee.CallInTime
		r.enqueue(fee)
	}
	fee, sum, size := r.recording("behind-the-retries", 3*time.Second, true)
	r.enqueue(fee)
	r.mirror()
	r.checkArchived(fee, sum, size)
}
