package casefile_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pnstream/pnstream/internal/casefile"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/warehouse"
	"github.com/pnstream/pnstream/internal/warehouse/warehousetest"
)

// seedCall stores a CDR, its two events and (with audio) its recording.
func seedCall(t *testing.T, w *warehouse.Warehouse, c *minio.Client, bucket, icid string, audio []byte, storedSum string) {
	t.Helper()
	ctx := t.Context()
	at := time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)
	answer := privatenumber.Time{Time: at.Add(5 * time.Second)}
	fee := privatenumber.FeeRecord{ICID: icid, SessionID: "s-" + icid, BindNum: "+8617000000001", CallerNum: "+8613800000001",
		CalleeNum: "+8617000000001", RecordFlag: 1, CallInTime: privatenumber.Time{Time: at}, FwdAnswerTime: answer,
		Raw: []byte(`{"icid":"` + icid + `","note":"comma, and \"quote\""}`)}
	if err := w.InsertFees(ctx, []privatenumber.FeeRecord{fee}); err != nil {
		t.Fatal(err)
	}
	events := []privatenumber.CallEvent{
		{EventType: "callin", Timestamp: privatenumber.Time{Time: at}, SessionID: "s-" + icid, Caller: "+8613800000001", Called: "+8617000000001", Raw: []byte(`{}`)},
		{EventType: "disconnect", Timestamp: privatenumber.Time{Time: at.Add(time.Minute)}, SessionID: "s-" + icid, Caller: "+8613800000001", Called: "+8617000000001", Raw: []byte(`{}`)},
	}
	if err := w.InsertEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	if audio == nil {
		return
	}
	key := "recordings/2026/11/02/" + icid + ".wav"
	if _, err := c.PutObject(ctx, bucket, key, bytes.NewReader(audio), int64(len(audio)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if storedSum == "" {
		storedSum = sha256Hex(audio)
	}
	row := recording.Row{ICID: icid, SessionID: "s-" + icid, Bucket: bucket, ObjectKey: key, SizeBytes: uint64(len(audio)),
		SHA256: storedSum, ContentType: "audio/wav", Status: recording.Archived}
	if err := w.InsertRecordings(ctx, []recording.Row{row}); err != nil {
		t.Fatal(err)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func readZipFile(t *testing.T, zr *zip.Reader, name string) []byte {
	t.Helper()
	f, err := zr.Open(name)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A case holds the CDRs and events as CSV and JSON, the recordings, and a
// manifest that Verify accepts; a changed byte anywhere is caught.
func TestWriteAndVerify(t *testing.T) {
	t.Parallel()
	w, _ := warehousetest.Open(t, chServer)
	c := s3Server.Client(t)
	bucket := s3Server.NewBucket(t)
	audio := bytes.Repeat([]byte("RIFF-audio-"), 50000) // 550 kB
	seedCall(t, w, c, bucket, "icid-a", audio, "")
	seedCall(t, w, c, bucket, "icid-b", nil, "")
	seedCall(t, w, c, bucket, "icid-other", []byte("not in the case"), "")

	var buf bytes.Buffer
	m, err := casefile.Write(context.Background(), &buf, []string{"icid-b", "icid-a", "icid-a", "icid-missing"}, casefile.NewSource(w, c, bucket))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ICIDs) != 3 || len(m.Recordings) != 1 || !m.Recordings[0].Match || m.Recordings[0].SHA256 != sha256Hex(audio) {
		t.Errorf("manifest: %+v", m)
	}
	if len(m.Problems) != 1 || !strings.Contains(m.Problems[0], "icid-missing") {
		t.Errorf("problems %q, want the call without CDR", m.Problems)
	}
	got, err := casefile.Verify(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatalf("Verify of a fresh case: %v", err)
	}
	if len(got.Files) != 6 {
		t.Errorf("verified %d files, want 6: %+v", len(got.Files), got.Files)
	}

	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	cdrs, err := csv.NewReader(bytes.NewReader(readZipFile(t, zr, casefile.CDRsCSV))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(cdrs) != 3 || cdrs[0][0] == "" {
		t.Fatalf("cdrs.csv has %d lines, want a header and 2 calls: %q", len(cdrs), cdrs)
	}
	head := strings.Join(cdrs[0], ",")
	for _, col := range []string{"icid", "caller_num", "call_in_time", "fwd_answer_time", "raw", "anomalies"} {
		if !strings.Contains(","+head+",", ","+col+",") {
			t.Errorf("cdrs.csv header lacks %s: %s", col, head)
		}
	}
	var fees []map[string]string
	if err := json.Unmarshal(readZipFile(t, zr, casefile.CDRsJSON), &fees); err != nil {
		t.Fatal(err)
	}
	if len(fees) != 2 || fees[0]["icid"] != "icid-a" || fees[0]["call_in_time"] != "2026-11-02 09:30:00" ||
		fees[0]["fwd_answer_time"] != "2026-11-02 09:30:05" || fees[0]["fail_time"] != "" || !strings.Contains(fees[0]["raw"], `"quote\"`) {
		t.Errorf("cdrs.json: %+v", fees)
	}
	var events []map[string]string
	if err := json.Unmarshal(readZipFile(t, zr, casefile.EventsJSON), &events); err != nil {
		t.Fatal(err)
	}
	if len(events) != 4 {
		t.Errorf("events.json has %d events, want 4", len(events))
	}
	if !bytes.Equal(readZipFile(t, zr, "recordings/icid-a.wav"), audio) {
		t.Error("the recording in the zip is not the archived audio")
	}

	// Change one byte of the recording (stored, so its bytes are in the
	// zip as they are): Verify names the file.
	i := bytes.Index(buf.Bytes(), audio[:64])
	tampered := bytes.Clone(buf.Bytes())
	tampered[i+100] ^= 1
	_, err = casefile.Verify(bytes.NewReader(tampered), int64(len(tampered)))
	if !errors.Is(err, casefile.ErrAltered) || !strings.Contains(err.Error(), "recordings/icid-a.wav") {
		t.Errorf("Verify of a tampered case = %v, want ErrAltered naming the recording", err)
	}
}

// An object that no longer matches its archived SHA-256 is exported, but
// flagged in the manifest and by the error.
func TestWriteFlagsChangedRecording(t *testing.T) {
	t.Parallel()
	w, _ := warehousetest.Open(t, chServer)
	c := s3Server.Client(t)
	bucket := s3Server.NewBucket(t)
	seedCall(t, w, c, bucket, "icid-x", []byte("audio now"), sha256Hex([]byte("audio then")))
	var buf bytes.Buffer
	m, err := casefile.Write(context.Background(), &buf, []string{"icid-x"}, casefile.NewSource(w, c, bucket))
	if !errors.Is(err, casefile.ErrMismatch) {
		t.Fatalf("Write = %v, want ErrMismatch", err)
	}
	if len(m.Recordings) != 1 || m.Recordings[0].Match || len(m.Problems) != 1 {
		t.Errorf("manifest %+v, want the recording flagged", m)
	}
	if _, err := casefile.Verify(bytes.NewReader(buf.Bytes()), int64(buf.Len())); !errors.Is(err, casefile.ErrAltered) {
		t.Errorf("Verify = %v, want ErrAltered (the recording is not what was archived)", err)
	}
}
