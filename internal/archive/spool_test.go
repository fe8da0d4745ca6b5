package archive

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
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
