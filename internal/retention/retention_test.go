package retention_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/audit"
	"github.com/pnstream/pnstream/internal/holds"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/retention"
	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/internal/warehouse"
	"github.com/pnstream/pnstream/internal/warehouse/warehousetest"
)

type fixture struct {
	w      *warehouse.Warehouse
	db     string
	c      *minio.Client
	bucket string
	h      *holds.Holds
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	w, db := warehousetest.Open(t, chServer)
	c := s3Server.Client(t)
	bucket := s3Server.NewLockedBucket(t)
	return &fixture{w: w, db: db, c: c, bucket: bucket, h: holds.New(c, bucket, w)}
}

// call stores a CDR at callIn with two events, and with archive its
// recording (object and row).
func (f *fixture) call(t *testing.T, icid string, callIn time.Time, archive bool) {
	t.Helper()
	ctx := t.Context()
	fee := privatenumber.FeeRecord{ICID: icid, SessionID: "s-" + icid, BindNum: "+8617000000001", CallerNum: "+8613800000001",
		RecordFlag: 1, CallInTime: privatenumber.Time{Time: callIn}, Raw: []byte(`{}`)}
	if err := f.w.InsertFees(ctx, []privatenumber.FeeRecord{fee}); err != nil {
		t.Fatal(err)
	}
	var events []privatenumber.CallEvent
	for i, typ := range []string{"callin", "disconnect"} {
		events = append(events, privatenumber.CallEvent{EventType: typ, Timestamp: privatenumber.Time{Time: callIn.Add(time.Duration(i) * time.Minute)},
			SessionID: "s-" + icid, Raw: []byte(`{}`)})
	}
	if err := f.w.InsertEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	if !archive {
		return
	}
	key := retention.ObjectKeyPrefix(callIn) + icid + ".wav"
	body := []byte("audio of " + icid)
	if _, err := f.c.PutObject(ctx, f.bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{SendContentMd5: true}); err != nil {
		t.Fatal(err)
	}
	f.row(t, recording.Row{ICID: icid, SessionID: "s-" + icid, Bucket: f.bucket, ObjectKey: key, SizeBytes: uint64(len(body)), SHA256: sum(body), Status: recording.Archived})
}

func (f *fixture) row(t *testing.T, r recording.Row) {
	t.Helper()
	if err := f.w.InsertRecordings(t.Context(), []recording.Row{r}); err != nil {
		t.Fatal(err)
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (f *fixture) strings(t *testing.T, q string) []string {
	t.Helper()
	return slices.Sorted(slices.Values(testenv.QueryStrings(t, f.w.Conn(), q)))
}

func (f *fixture) objects(t *testing.T) []string {
	t.Helper()
	var out []string
	for o := range f.c.ListObjects(context.Background(), f.bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		out = append(out, o.Key)
	}
	slices.Sort(out)
	return out
}

// Expired rows go (a whole month by its partition, the rest by mutation),
// expired recordings go from S3 and pn.recordings, and what is under legal
// hold stays, rows and recording alike; the access log is not touched.
func TestOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newFixture(t)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	monthStart := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 9, 0, 0, 0, time.UTC) }
	f.call(t, "held", monthStart(today.AddDate(0, -5, 0)), true)         // alone in its month, held
	f.call(t, "old", monthStart(today.AddDate(0, -3, 0)), true)          // alone in its month: partition dropped
	f.call(t, "expired", today.AddDate(0, 0, -31).Add(time.Hour), false) // 31 days: a mutation
	f.call(t, "recent", today.AddDate(0, 0, -20), true)                  // rows kept, recording expired
	f.call(t, "fresh", today.Add(-time.Hour), true)                      // everything kept
	// A CDR without any time, stored at 1970-01-01 today: it ages from
	// today, not from 1970.
	timeless := privatenumber.FeeRecord{ICID: "timeless", SessionID: "s-timeless", CallInTime: privatenumber.Time{Time: time.Unix(0, 0).UTC()},
		CallInTimeDerived: true, Raw: []byte(`{}`)}
	if err := f.w.InsertFees(ctx, []privatenumber.FeeRecord{timeless}); err != nil {
		t.Fatal(err)
	}
	gone := "recordings/2000/01/01/gone.wav" // a row whose object is gone already
	f.row(t, recording.Row{ICID: "gone", SessionID: "s-gone", Bucket: f.bucket, ObjectKey: gone, Status: recording.Archived})
	f.row(t, recording.Row{ICID: "failed-old", Status: recording.Failed, MirroredAt: today.AddDate(0, 0, -30), Error: "1012007"})
	f.row(t, recording.Row{ICID: "failed-new", Status: recording.Failed, MirroredAt: today.Add(-time.Hour), Error: "timeout"})
	if _, err := f.h.Put(ctx, "held", "alice", "case 7"); err != nil {
		t.Fatal(err)
	}
	log := audit.New(f.w)
	if err := log.Record(ctx, audit.Entry{At: today.AddDate(-1, 0, 0), Who: "bob", Action: audit.ActionSearch, Target: "old"}); err != nil {
		t.Fatal(err)
	}

	r := retention.New(retention.Config{RowsDays: 30, RecordingsDays: 10, Interval: time.Hour, Lease: time.Hour}, f.w, f.h)
	rep, err := r.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep.Summary())
	if got, want := f.strings(t, "SELECT icid FROM "+f.db+".fee_records"), []string{"fresh", "held", "recent", "timeless"}; !slices.Equal(got, want) {
		t.Errorf("fee_records left: %v, want %v", got, want)
	}
	if got, want := f.strings(t, "SELECT DISTINCT session_id FROM "+f.db+".call_events"), []string{"s-fresh", "s-held", "s-recent"}; !slices.Equal(got, want) {
		t.Errorf("call_events left: %v, want %v", got, want)
	}
	if got, want := f.strings(t, "SELECT icid FROM "+f.db+".recordings"), []string{"failed-new", "fresh", "held"}; !slices.Equal(got, want) {
		t.Errorf("recordings left: %v, want %v", got, want)
	}
	objs := f.objects(t)
	if len(objs) != 2 || !strings.HasSuffix(objs[0], "fresh.wav") && !strings.HasSuffix(objs[1], "fresh.wav") {
		t.Errorf("objects left: %v, want the held and the fresh one", objs)
	}
	fees := rep.Tables[0]
	if fees.Table != "fee_records" || len(fees.DroppedPartitions) == 0 || fees.DroppedRows+fees.DeletedRows != 2 || fees.KeptRows != 1 {
		t.Errorf("fee_records report %+v: want a partition dropped, 2 rows gone, 1 kept", fees)
	}
	if rep.RecordingsRemoved != 2 || rep.RecordingsAbsent != 1 || rep.RecordingsHeld != 1 || rep.Tables[2].DeletedRows != 4 {
		t.Errorf("recordings report %+v", rep)
	}
	if n := f.strings(t, "SELECT who FROM "+f.db+"."+audit.Table); len(n) != 1 {
		t.Errorf("access log has %v, want bob's entry untouched", n)
	}

	// Idempotent: nothing left to do.
	rep, err = r.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.RecordingsRemoved != 0 || rep.Tables[0].DroppedRows+rep.Tables[0].DeletedRows+rep.Tables[1].DroppedRows+rep.Tables[1].DeletedRows != 0 {
		t.Errorf("second run did something: %s", rep.Summary())
	}
}

func connectJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(testenv.NATS(t).URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// One recorder runs per interval: a second one that looks right after
// leaves it; an unfinished run's lease keeps others off until it expires.
// Each run leaves an audit record.
func TestJobOneAtATime(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newFixture(t)
	js := connectJS(t)
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: retention.LeaseBucket})
	if err != nil {
		t.Fatal(err)
	}
	cfg := retention.Config{RowsDays: 30, Interval: time.Hour, Lease: time.Hour}
	log := audit.New(f.w)
	a := retention.NewJob(cfg, retention.New(cfg, f.w, f.h), js, log, zap.NewNop())
	b := retention.NewJob(cfg, retention.New(cfg, f.w, f.h), js, log, zap.NewNop())
	if _, ran, err := a.Tick(ctx, kv); err != nil || !ran {
		t.Fatalf("first Tick = %v, %v; want a run", ran, err)
	}
	if _, ran, err := b.Tick(ctx, kv); err != nil || ran {
		t.Fatalf("second Tick right after = %v, %v; want none", ran, err)
	}
	entries, err := log.List(ctx, audit.Filter{Action: retention.AuditAction})
	if err != nil || len(entries) != 1 || entries[0].Who != retention.AuditWho || !strings.Contains(entries[0].Detail, "fee_records") {
		t.Errorf("audit entries %+v, %v; want one retention record", entries, err)
	}

	// Another recorder's run in progress, started now: not our turn; a
	// lease older than Lease: taken over.
	for _, c := range []struct {
		started time.Time
		want    bool
	}{{time.Now(), false}, {time.Now().Add(-2 * time.Hour), true}} {
		v, _ := json.Marshal(map[string]any{"holder": "other", "started": c.started})
		if _, err := kv.Put(ctx, retention.LeaseKey, v); err != nil {
			t.Fatal(err)
		}
		if _, ran, err := b.Tick(ctx, kv); err != nil || ran != c.want {
			t.Errorf("Tick with a lease started %s = %v, %v; want %v", c.started, ran, err, c.want)
		}
	}
}
