package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

// deadCount returns the messages PN_DEAD holds.
func (p *pipeline) deadCount() uint64 {
	p.t.Helper()
	s, err := p.js.Stream(context.Background(), streams.Dead)
	if err != nil {
		p.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		p.t.Fatal(err)
	}
	return info.State.Msgs
}

// TestReplayMovesAFixedDeadLetterOnce puts in PN_DEAD what a recorder with
// a since-fixed bug would have dead-lettered (a valid CDR), then checks that
// a dry run changes nothing, that replay stores the row once and empties
// PN_DEAD, and that replaying again (and a replay interrupted before its
// delete) adds nothing.
func TestReplayMovesAFixedDeadLetterOnce(t *testing.T) {
	t.Parallel()
	p := start(t, nil)
	ctx := context.Background()
	const body = `{"direction":0,"icid":"fixed-1","sessionId":"s-fixed","callInTime":"2024-05-01 10:00:00","recordFlag":0}`
	dead := nats.NewMsg(streams.DeadPrefix + "fees")
	dead.Data = []byte(body)
	dead.Header.Set(streams.HeaderSubject, streams.FeeSubject)
	dead.Header.Set(streams.HeaderReason, "insert fee batch: a bug, since fixed")
	if _, err := p.js.PublishMsg(ctx, dead, jetstream.WithMsgID("dead:fees:41")); err != nil {
		t.Fatal(err)
	}
	// A dead letter from a subject pnstream does not consume is refused.
	stray := nats.NewMsg(streams.DeadPrefix + "fees")
	stray.Data = []byte(body)
	stray.Header.Set(streams.HeaderSubject, "elsewhere.>")
	if _, err := p.js.PublishMsg(ctx, stray); err != nil {
		t.Fatal(err)
	}

	got, err := streams.Replay(ctx, p.js, streams.ReplayOptions{DryRun: true})
	if !errors.Is(err, streams.ErrNotReplayable) || len(got) != 1 || got[0].Subject != streams.FeeSubject {
		t.Fatalf("dry run = %+v, %v; want the fee dead letter and ErrNotReplayable for the stray", got, err)
	}
	if n := p.deadCount(); n != 2 {
		t.Fatalf("PN_DEAD after dry run holds %d, want 2", n)
	}
	var progress []int
	got, err = streams.Replay(ctx, p.js, streams.ReplayOptions{Source: "fees", Progress: func(done, total int) { progress = append(progress, done, total) }})
	if !errors.Is(err, streams.ErrNotReplayable) || len(got) != 1 {
		t.Fatalf("replay = %+v, %v", got, err)
	}
	if !slices.Equal(progress, []int{1, 2, 2, 2}) {
		t.Errorf("progress calls %v, want 1/2 then 2/2", progress)
	}
	p.waitCount("SELECT count() FROM fee_records WHERE icid = 'fixed-1'", 1, 15*time.Second)
	if n := p.deadCount(); n != 1 {
		t.Errorf("PN_DEAD after replay holds %d, want only the stray", n)
	}

	// Replaying again finds nothing; a replay that was published but not
	// deleted (a crash in between) is dropped as a duplicate.
	if got, _ := streams.Replay(ctx, p.js, streams.ReplayOptions{Source: "fees"}); len(got) != 0 {
		t.Errorf("second replay = %+v, want nothing", got)
	}
	ack, err := p.js.PublishMsg(ctx, &nats.Msg{Subject: streams.FeeSubject, Data: []byte(body)}, jetstream.WithMsgID(streams.ReplayMsgID(1)))
	if err != nil || !ack.Duplicate {
		t.Errorf("republish under the replay id: %+v, %v; want a duplicate", ack, err)
	}
	// Had the republish been stored, the recorder would have inserted it
	// before acking it: wait until it acked everything PN_FEES holds.
	p.waitConsumer(streams.Fees, "pn-recorder-fees", 15*time.Second, func(info *jetstream.ConsumerInfo) bool {
		return info.NumPending == 0 && info.NumAckPending == 0
	})
	if n := p.count("SELECT count() FROM fee_records WHERE icid = 'fixed-1'"); n != 1 {
		t.Errorf("fee_records holds %d rows of the replayed CDR (without FINAL), want 1", n)
	}
}

// startMirror runs a recording mirror on a new bucket until the test ends,
// with the platform API at apiURL (recordings with a direct download URL
// do not use it), and returns its configuration.
func (p *pipeline) startMirror(apiURL string) archive.Config {
	t := p.t
	acfg := archiveConfig(t)
	bucket, err := archive.NewBucket(acfg)
	if err != nil {
		t.Fatal(err)
	}
	pcfg := axeapi.DefaultClientConfig()
	pcfg.BaseURL, pcfg.AppKey, pcfg.AppSecret = apiURL, appKey, appSecret
	client, err := axeapi.NewClient(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	mirror := archive.NewMirror(acfg, archive.Deps{JetStream: p.js, Resolver: client, Bucket: bucket, Rows: p.wh,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), Registry: prometheus.NewRegistry()})
	testenv.Go(t, mirror.Run)
	return acfg
}

// archiveConfig returns an archive configuration on a new bucket of the
// test S3 server that may download from loopback.
func archiveConfig(t *testing.T) archive.Config {
	acfg := archive.DefaultConfig()
	acfg.Endpoint, acfg.Bucket = s3.Endpoint(), s3.NewBucket(t)
	acfg.AccessKey, acfg.SecretKey, acfg.Insecure = s3.AccessKey(), s3.SecretKey(), true
	acfg.Hosts, acfg.AllowPrivate, acfg.SpoolDir = "127.0.0.1", true, t.TempDir()
	acfg.RetryInitial, acfg.RetryMax = 100*time.Millisecond, 500*time.Millisecond
	return acfg
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestAuditArchiveFindsDeletedAndCorruptedObjects archives three
// recordings, deletes one object and overwrites another with bytes of the
// same size (its metadata still claiming the old SHA-256), and checks that
// the audit reports exactly those two.
func TestAuditArchiveFindsDeletedAndCorruptedObjects(t *testing.T) {
	t.Parallel()
	p := start(t, nil)
	ctx := context.Background()
	acfg := archiveConfig(t)
	bucket, err := archive.NewBucket(acfg)
	if err != nil {
		t.Fatal(err)
	}
	s3c := s3.Client(t)
	var rows []recording.Row
	for _, icid := range []string{"intact", "deleted", "corrupted"} {
		audio := bytes.Repeat([]byte(icid), 1000)
		key := "recordings/2026/11/20/" + icid + ".wav"
		meta := map[string]string{archive.MetaSHA256: hexSHA(audio)}
		if _, err := s3c.PutObject(ctx, acfg.Bucket, key, bytes.NewReader(audio), int64(len(audio)), minio.PutObjectOptions{UserMetadata: meta}); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, recording.Row{ICID: icid, SessionID: "s-" + icid, Bucket: acfg.Bucket, ObjectKey: key,
			SizeBytes: uint64(len(audio)), SHA256: hexSHA(audio), Status: recording.Archived})
	}
	if err := p.wh.InsertRecordings(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := s3c.RemoveObject(ctx, acfg.Bucket, rows[1].ObjectKey, minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Repeat([]byte("corrupte"), 1125) // 9000 bytes, as the original
	if _, err := s3c.PutObject(ctx, acfg.Bucket, rows[2].ObjectKey, bytes.NewReader(bad), int64(len(bad)),
		minio.PutObjectOptions{UserMetadata: map[string]string{archive.MetaSHA256: rows[2].SHA256}}); err != nil {
		t.Fatal(err)
	}

	stored, err := p.wh.ArchivedRecordings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found, err := bucket.Audit(ctx, stored, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range found {
		got = append(got, m.ICID+" "+m.Problem)
	}
	slices.Sort(got)
	if want := []string{"corrupted checksum", "deleted missing"}; !slices.Equal(got, want) {
		t.Errorf("audit found %q, want %q", got, want)
	}
}

// TestBackfillRestoresAMissingRecording stores a recorded call whose job
// is lost (its CDR purged from PN_FEES before any mirror ran), checks that it is
// pending, then backfills with a mirror running and checks that the
// recording is archived, byte for byte.
func TestBackfillRestoresAMissingRecording(t *testing.T) {
	t.Parallel()
	p := start(t, nil)
	ctx := context.Background()
	audio := bytes.Repeat([]byte("RIFF-audio-"), 5000)
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/wav")
		_, _ = w.Write(audio)
	}))
	t.Cleanup(src.Close)

	callIn := time.Now().UTC().Add(-time.Hour).Format(time.DateTime)
	body := fmt.Sprintf(`{"eventType":"fee","feeLst":[{"direction":0,"icid":"lost-job","sessionId":"s-lost","callInTime":%q,"callEndTime":%q,"recordFlag":1,"recordDomain":"","recordObjectName":"lost.wav","recordFileDownloadUrl":%q}]}`,
		callIn, callIn, src.URL+"/lost.wav")
	if s := p.push(ingest.PathFees, []byte(body)); s != 200 {
		t.Fatalf("push answered %d", s)
	}
	p.waitCount("SELECT count() FROM fee_records FINAL WHERE icid = 'lost-job'", 1, 15*time.Second)
	// The job is the CDR on pn.fees.recorded, which the mirror takes.
	fees, err := p.js.Stream(ctx, streams.Fees)
	if err != nil {
		t.Fatal(err)
	}
	if err := fees.Purge(ctx, jetstream.WithPurgeSubject(streams.RecordedFeeSubject)); err != nil {
		t.Fatal(err)
	}
	p.waitCount("SELECT count() FROM recording_status WHERE icid = 'lost-job' AND status = 'pending'", 1, time.Second)

	acfg := p.startMirror(src.URL)

	raws, err := p.wh.UnarchivedFees(ctx, time.Now().Add(-8*24*time.Hour))
	if err != nil || len(raws) != 1 {
		t.Fatalf("unarchived fees = %d, %v; want the lost one", len(raws), err)
	}
	rec, err := privatenumber.DecodeFeeRecord(raws[0])
	if err != nil {
		t.Fatal(err)
	}
	enq := archive.NewEnqueuer(streams.NewJetStreamPublisher(p.js.Conn(), p.js))
	backfilled, err := enq.Backfill(ctx, "run-1", []privatenumber.FeeRecord{rec}, time.Now())
	if err != nil || len(backfilled) != 1 {
		t.Fatalf("backfill = %+v, %v", backfilled, err)
	}
	p.waitCount("SELECT count() FROM recordings FINAL WHERE icid = 'lost-job' AND status = 'archived'", 1, 30*time.Second)
	var key, sum string
	if err := p.conn().QueryRow(ctx, "SELECT object_key, sha256 FROM recordings FINAL WHERE icid = 'lost-job'").Scan(&key, &sum); err != nil {
		t.Fatal(err)
	}
	if got := testenv.ReadObject(t, s3.Client(t), acfg.Bucket, key); !bytes.Equal(got, audio) || sum != hexSHA(audio) {
		t.Errorf("archived %d bytes (sha %s), want the %d source bytes", len(got), sum, len(audio))
	}
	// A record past the platform's retention is not enqueued.
	old := rec
	old.CallInTime = privatenumber.Time{Time: time.Now().Add(-8 * 24 * time.Hour)}
	old.CallEndTime = old.CallInTime
	if jobs, err := enq.Backfill(ctx, "run-2", []privatenumber.FeeRecord{old}, time.Now()); err != nil || len(jobs) != 0 {
		t.Errorf("backfill of an expired recording = %+v, %v; want nothing", jobs, err)
	}
}
