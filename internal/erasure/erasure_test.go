package erasure_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pnstream/pnstream/internal/audit"
	"github.com/pnstream/pnstream/internal/erasure"
	"github.com/pnstream/pnstream/internal/holds"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/internal/warehouse"
	"github.com/pnstream/pnstream/internal/warehouse/warehousetest"
)

const (
	subscriber = "+8613800000001"
	other      = "+8613900000002"
	x          = "+8617000000001"
)

type fixture struct {
	w      *warehouse.Warehouse
	db     string
	c      *minio.Client
	bucket string
	h      *holds.Holds
	policy pii.Policy
}

func newFixture(t *testing.T, policy pii.Policy) *fixture {
	t.Helper()
	w, db := warehousetest.Open(t, chServer)
	c := s3Server.Client(t)
	bucket := s3Server.NewLockedBucket(t)
	return &fixture{w: w, db: db, c: c, bucket: bucket, h: holds.New(c, bucket, w), policy: policy}
}

// call stores a call from caller to X as the recorder would under the
// fixture's policy: the CDR, its events and its archived recording. The
// sessionId is built from the numbers, as the platform does for some.
func (f *fixture) call(t *testing.T, icid, caller string) {
	t.Helper()
	ctx := t.Context()
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	session := caller + "_" + x + "_4_" + icid
	fee := f.policy.Fee(privatenumber.FeeRecord{ICID: icid, SessionID: session, BindNum: x, CallerNum: caller, CalleeNum: x, FwdDstNum: "+8615000000009",
		RecordFlag: 1, CallInTime: privatenumber.Time{Time: at}, Raw: []byte(`{"callerNum":"` + caller + `"}`)})
	if err := f.w.InsertFees(ctx, []privatenumber.FeeRecord{fee}); err != nil {
		t.Fatal(err)
	}
	var events []privatenumber.CallEvent
	for i, typ := range []string{"callin", "callout", "disconnect"} {
		e := privatenumber.CallEvent{EventType: typ, Timestamp: privatenumber.Time{Time: at.Add(time.Duration(i) * time.Second)}, SessionID: session,
			Caller: caller, Called: x, Raw: []byte(`{}`)}
		if typ == "callout" {
			e.Caller, e.Called = x, "+8615000000009" // the far leg: the subscriber's number only in the sessionId
		}
		events = append(events, f.policy.Event(e))
	}
	if err := f.w.InsertEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	key := "recordings/" + at.Format("2006/01/02") + "/" + icid + ".wav"
	body := []byte("audio " + icid)
	if _, err := f.c.PutObject(ctx, f.bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{SendContentMd5: true}); err != nil {
		t.Fatal(err)
	}
	row := recording.Row{ICID: icid, SessionID: fee.SessionID, Bucket: f.bucket, ObjectKey: key, SizeBytes: uint64(len(body)), Status: recording.Archived}
	if err := f.w.InsertRecordings(ctx, []recording.Row{row}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) column(t *testing.T, q string) []string {
	t.Helper()
	return slices.Compact(slices.Sorted(slices.Values(testenv.QueryStrings(t, f.w.Conn(), q))))
}

func (f *fixture) objects(t *testing.T) int {
	t.Helper()
	n := 0
	for o := range f.c.ListObjects(context.Background(), f.bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		n++
	}
	return n
}

func (f *fixture) eraser(log *audit.Log) *erasure.Eraser {
	return erasure.New(f.w, f.h, f.policy, log, "kept until their age limit")
}

func hmacPolicy(t *testing.T) pii.Policy {
	p, err := pii.New(pii.ModeHMAC, []byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The subscriber's calls go, rows and recordings, except the held one; the
// other subscriber's call stays. Under raw and hmac alike, and the number
// may be typed without "+".
func TestErase(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		policy pii.Policy
		typed  string
	}{{"raw", pii.Policy{}, subscriber}, {"hmac", hmacPolicy(t), strings.TrimPrefix(subscriber, "+")}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			f := newFixture(t, c.policy)
			f.call(t, "mine-1", subscriber)
			f.call(t, "mine-2", subscriber)
			f.call(t, "mine-held", subscriber)
			f.call(t, "theirs", other)
			if _, err := f.h.Put(ctx, "mine-held", "alice", "case 9"); err != nil {
				t.Fatal(err)
			}
			log := audit.New(f.w)

			dry, err := f.eraser(log).EraseRequest(ctx, erasure.Request{Number: c.typed, DryRun: true, Who: "ops", Role: "operator", From: "pnctl"})
			if err != nil {
				t.Fatal(err)
			}
			if dry.CDRs != 2 || dry.Recordings != 2 || dry.KeptCalls != 1 || f.objects(t) != 4 {
				t.Errorf("dry run: %s; %d objects", dry.Summary(), f.objects(t))
			}
			if got := f.column(t, "SELECT icid FROM "+f.db+".fee_records"); len(got) != 4 {
				t.Fatalf("dry run removed CDRs: %v", got)
			}

			rep, err := f.eraser(log).EraseRequest(ctx, erasure.Request{Number: c.typed, Who: "ops", Role: "operator", From: "pnctl"})
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range rep.Items {
				t.Logf("%-8s %-60s %s %s", it.Outcome, it.What, it.Where, it.Why)
			}
			if got, want := f.column(t, "SELECT icid FROM "+f.db+".fee_records"), []string{"mine-held", "theirs"}; !slices.Equal(got, want) {
				t.Errorf("CDRs left %v, want %v", got, want)
			}
			if got := f.column(t, "SELECT session_id FROM "+f.db+".call_events"); len(got) != 2 {
				t.Errorf("event sessions left %v, want the held call's and the other subscriber's", got)
			}
			if got, want := f.column(t, "SELECT icid FROM "+f.db+".recordings"), []string{"mine-held", "theirs"}; !slices.Equal(got, want) {
				t.Errorf("recording rows left %v, want %v", got, want)
			}
			if n := f.objects(t); n != 2 {
				t.Errorf("%d object versions left, want 2", n)
			}
			if rep.CDRs != 2 || rep.Events != 6 || rep.Recordings != 2 || rep.RecordingRows != 2 || rep.KeptCalls != 1 {
				t.Errorf("report: %s", rep.Summary())
			}
			if strings.Contains(rep.Summary(), strings.TrimPrefix(subscriber, "+")) != (c.name == "raw") {
				t.Errorf("summary %q: the number in clear only under raw", rep.Summary())
			}
			entries, err := log.List(ctx, audit.Filter{Who: "ops"})
			if err != nil || len(entries) != 2 || entries[0].Action != audit.ActionErase || entries[0].Target != rep.Number {
				t.Errorf("audit entries %+v, %v; want the dry run and the erasure", entries, err)
			}
		})
	}
}

func TestMaskedRefused(t *testing.T) {
	t.Parallel()
	masked, err := pii.New(pii.ModeMasked, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, masked)
	f.call(t, "mine", subscriber)
	_, err = f.eraser(audit.New(f.w)).Erase(t.Context(), subscriber, false, "ops", "pnctl")
	if !errors.Is(err, erasure.ErrMasked) || !strings.Contains(err.Error(), "masked") {
		t.Errorf("Erase under masked = %v, want ErrMasked", err)
	}
	if got := f.column(t, "SELECT icid FROM "+f.db+".fee_records"); len(got) != 1 {
		t.Errorf("CDRs left %v", got)
	}
	if _, err := erasure.Forms(pii.Policy{}, "12345"); !errors.Is(err, erasure.ErrNoNumber) {
		t.Errorf("Forms of a short number = %v, want ErrNoNumber", err)
	}
}
