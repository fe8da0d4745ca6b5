package holds_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/pnstream/pnstream/internal/holds"
	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/warehouse"
	"github.com/pnstream/pnstream/internal/warehouse/warehousetest"
)

// archived stores an object and its pn.recordings row, as the mirror does.
func archived(t *testing.T, w *warehouse.Warehouse, c *minio.Client, bucket, icid string) string {
	t.Helper()
	key := "recordings/2026/11/02/" + icid + ".wav"
	body := "RIFF-audio-of-" + icid
	sum := sha256.Sum256([]byte(body))
	if _, err := c.PutObject(context.Background(), bucket, key, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{SendContentMd5: true}); err != nil {
		t.Fatal(err)
	}
	row := recording.Row{ICID: icid, SessionID: "s-" + icid, Bucket: bucket, ObjectKey: key, SizeBytes: uint64(len(body)),
		SHA256: hex.EncodeToString(sum[:]), ContentType: "audio/wav", Status: recording.Archived}
	if err := w.InsertRecordings(t.Context(), []recording.Row{row}); err != nil {
		t.Fatal(err)
	}
	return key
}

func versions(t *testing.T, c *minio.Client, bucket, key string) int {
	t.Helper()
	n := 0
	for o := range c.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		n++
	}
	return n
}

// A held recording is held in S3 (which refuses to delete it), listed, and
// kept by Remove; released, it is removed with every version.
func TestPutHeldListRelease(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w, _ := warehousetest.Open(t, chServer)
	c := s3Server.Client(t)
	bucket := s3Server.NewLockedBucket(t)
	key := archived(t, w, c, bucket, "icid-held")
	other := archived(t, w, c, bucket, "icid-free")
	h := holds.New(c, bucket, w)

	hold, err := h.Put(ctx, "icid-held", "alice", "case 42")
	if err != nil {
		t.Fatal(err)
	}
	if hold.ObjectKey != key || hold.VersionID == "" || hold.Who != "alice" || hold.Reason != "case 42" || hold.SessionID != "s-icid-held" {
		t.Errorf("Put = %+v", hold)
	}
	for k, want := range map[string]bool{key: true, other: false, "recordings/none.wav": false} {
		if got, err := h.Held(ctx, k); err != nil || got != want {
			t.Errorf("Held(%s) = %v, %v; want %v", k, got, err, want)
		}
	}
	// S3 is the source of truth: the held version cannot be deleted.
	if err := c.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{VersionID: hold.VersionID}); err == nil {
		t.Fatal("S3 deleted a version under legal hold")
	}
	list, err := h.List(ctx)
	if err != nil || len(list) != 1 || list[0].ICID != "icid-held" || list[0].Action != holds.ActionPut {
		t.Fatalf("List = %+v, %v; want icid-held", list, err)
	}
	icids, sessions, err := h.HeldCalls(ctx)
	if err != nil || len(icids) != 1 || icids[0] != "icid-held" || len(sessions) != 1 || sessions[0] != "s-icid-held" {
		t.Errorf("HeldCalls = %v, %v, %v", icids, sessions, err)
	}
	r, err := h.Remove(ctx, "", key)
	if err != nil || r.Outcome != holds.Kept {
		t.Fatalf("Remove(held) = %+v, %v; want kept", r, err)
	}
	if versions(t, c, bucket, key) != 1 {
		t.Errorf("a held object lost or gained versions")
	}

	if _, err := h.Release(ctx, "icid-held", "bob", "case 42 closed"); err != nil {
		t.Fatal(err)
	}
	if held, err := h.Held(ctx, key); err != nil || held {
		t.Errorf("Held after release = %v, %v", held, err)
	}
	if list, err := h.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("List after release = %+v, %v; want none", list, err)
	}
	hist, err := h.History(ctx, "icid-held")
	if err != nil || len(hist) != 2 || hist[0].Action != holds.ActionPut || hist[1].Action != holds.ActionRelease || hist[1].Who != "bob" {
		t.Errorf("History = %+v, %v; want put by alice then release by bob", hist, err)
	}
	// A second upload (a retried mirror job) adds a version: both go.
	if _, err := c.PutObject(ctx, bucket, key, strings.NewReader("again"), 5, minio.PutObjectOptions{SendContentMd5: true}); err != nil {
		t.Fatal(err)
	}
	r, err = h.Remove(ctx, "", key)
	if err != nil || r.Outcome != holds.Removed || r.Versions != 2 {
		t.Fatalf("Remove(released) = %+v, %v; want removed, 2 versions", r, err)
	}
	if n := versions(t, c, bucket, key); n != 0 {
		t.Errorf("%d versions left after Remove", n)
	}
	if r, err := h.Remove(ctx, "", key); err != nil || r.Outcome != holds.Absent {
		t.Errorf("Remove again = %+v, %v; want absent", r, err)
	}
}

// An unlocked bucket cannot hold: Put says why; nothing in it is held, and
// Remove deletes plainly.
func TestNotLocked(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w, _ := warehousetest.Open(t, chServer)
	c := s3Server.Client(t)
	bucket := s3Server.NewBucket(t)
	key := archived(t, w, c, bucket, "icid-1")
	h := holds.New(c, bucket, w)
	_, err := h.Put(ctx, "icid-1", "alice", "case 1")
	if !errors.Is(err, holds.ErrNotLocked) || !strings.Contains(err.Error(), "object-locked") {
		t.Errorf("Put on an unlocked bucket = %v, want ErrNotLocked", err)
	}
	if held, err := h.Held(ctx, key); err != nil || held {
		t.Errorf("Held = %v, %v; want false", held, err)
	}
	if r, err := h.Remove(ctx, "", key); err != nil || r.Outcome != holds.Removed {
		t.Errorf("Remove = %+v, %v", r, err)
	}
	if r, err := h.Remove(ctx, "", key); err != nil || r.Outcome != holds.Absent {
		t.Errorf("Remove again = %+v, %v; want absent", r, err)
	}
}

func TestPutRefusals(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w, _ := warehousetest.Open(t, chServer)
	c := s3Server.Client(t)
	bucket := s3Server.NewLockedBucket(t)
	archived(t, w, c, bucket, "icid-1")
	h := holds.New(c, bucket, w)
	if _, err := h.Put(ctx, "no-such-call", "alice", "case"); !errors.Is(err, holds.ErrNoRecording) {
		t.Errorf("Put of a call without recording = %v, want ErrNoRecording", err)
	}
	if _, err := h.Put(ctx, "icid-1", "alice", " "); !errors.Is(err, holds.ErrNoReason) {
		t.Errorf("Put without reason = %v, want ErrNoReason", err)
	}
	if list, err := h.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("List = %+v, %v; want none", list, err)
	}
}
