package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/warehouse"
	"github.com/pnstream/pnstream/internal/warehouse/warehousetest"
)

// migratedDatabase returns the pnctl flags of a new, migrated database
// and the warehouse on it.
func migratedDatabase(t *testing.T) ([]string, *warehouse.Warehouse) {
	t.Helper()
	w, db := warehousetest.Open(t, chServer)
	return []string{"--clickhouse-addr", chServer.Addr(), "--clickhouse-database", db}, w
}

// gaps lists a recorded call that was never archived and exits non-zero;
// report writes its page.
func TestGapsAndReportCommands(t *testing.T) {
	flags, w := migratedDatabase(t)
	callIn := time.Now().UTC().Add(-5 * 24 * time.Hour).Truncate(time.Hour)
	rec := privatenumber.FeeRecord{ICID: "unarchived", SessionID: "s-1", BindNum: "+8617000000001", RecordFlag: 1,
		CallInTime: privatenumber.Time{Time: callIn}, Raw: []byte(`{}`)}
	if err := w.InsertFees(t.Context(), []privatenumber.FeeRecord{rec}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"gaps"}, flags...), &out)
	if !errors.Is(err, errFound) {
		t.Fatalf("gaps = %v, want errFound", err)
	}
	for _, want := range []string{"unarchived_recording session=s-1 icid=unarchived", "missing_cdr: 0", "unarchived_recording: 1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("gaps output lacks %q:\n%s", want, out.String())
		}
	}

	file := filepath.Join(t.TempDir(), "report.html")
	out.Reset()
	if err := run(context.Background(), append([]string{"report", "--html", file}, flags...), &out); err != nil {
		t.Fatalf("report: %v", err)
	}
	page, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(page, []byte(`<b id="seizures">1</b>`)) || !bytes.Contains(page, []byte("<svg")) {
		t.Errorf("report page lacks the call or the charts: %.300s", page)
	}
}

// audit-archive exits non-zero and names the recording whose object is
// gone, and exits zero once every row is backed by its object.
func TestAuditArchiveCommand(t *testing.T) {
	flags, w := migratedDatabase(t)
	s3Server.Require(t)
	bucket := s3Server.NewBucket(t)
	flags = append(flags, "--s3-endpoint", s3Server.Endpoint(), "--s3-bucket", bucket, "--s3-insecure",
		"--s3-access-key", s3Server.AccessKey(), "--s3-secret-key", s3Server.SecretKey())
	audio := []byte("RIFF-some-audio")
	rows := []recording.Row{
		{ICID: "present", SessionID: "s-p", Bucket: bucket, ObjectKey: "recordings/present.wav", SizeBytes: uint64(len(audio)), SHA256: sha256Hex(audio), Status: recording.Archived},
		{ICID: "absent", SessionID: "s-a", Bucket: bucket, ObjectKey: "recordings/absent.wav", SizeBytes: uint64(len(audio)), SHA256: sha256Hex(audio), Status: recording.Archived},
	}
	if err := w.InsertRecordings(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	c := s3Server.Client(t)
	if _, err := c.PutObject(t.Context(), bucket, rows[0].ObjectKey, bytes.NewReader(audio), int64(len(audio)),
		minio.PutObjectOptions{UserMetadata: map[string]string{archive.MetaSHA256: rows[0].SHA256}}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"audit-archive"}, flags...), &out)
	if !errors.Is(err, errFound) || !strings.Contains(out.String(), "MISMATCH absent "+bucket+"/recordings/absent.wav missing") ||
		!strings.Contains(out.String(), "audited 2 recordings: 1 mismatches") {
		t.Fatalf("audit-archive = %v:\n%s", err, out.String())
	}
	if _, err := c.PutObject(t.Context(), bucket, rows[1].ObjectKey, bytes.NewReader(audio), int64(len(audio)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(context.Background(), append([]string{"audit-archive"}, flags...), &out); err != nil {
		t.Errorf("audit-archive of an intact archive = %v:\n%s", err, out.String())
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
