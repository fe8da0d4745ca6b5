package archive

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A download in flight has no name in the spool directory, only an open
// file, so a recorder killed mid-download or mid-upload leaves nothing
// behind there: the kernel frees the space when the process dies.
func TestSpooledDownloadLeavesNothingInTheSpoolDir(t *testing.T) {
	audio := bytes.Repeat([]byte("RIFFwave"), 64<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "a.wav", time.Time{}, bytes.NewReader(audio))
	}))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFetcher(HostPolicy{Hosts: []string{u.Hostname()}, AllowPrivate: true}, 1<<30, 10*time.Second)
	dir := t.TempDir()
	d, err := f.Fetch(context.Background(), srv.URL+"/a.wav", dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("%d files in the spool dir while the download is open, want none", len(entries))
	}
	got, err := io.ReadAll(d.File)
	if err != nil || !bytes.Equal(got, audio) || d.Size != int64(len(audio)) {
		t.Errorf("spooled %d bytes (%v), want the %d downloaded", len(got), err, len(audio))
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestSweepSpoolRemovesLeftovers: files of a recorder killed between
// creating and unlinking a spool file are removed; other files stay.
func TestSweepSpoolRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"pn-recording-1", "pn-recording-2", "keep.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n, err := SweepSpool(dir)
	if err != nil || n != 2 {
		t.Fatalf("SweepSpool = %d, %v; want 2, nil", n, err)
	}
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].Name() != "keep.txt" {
		t.Errorf("left %v, want only keep.txt", left)
	}
}
