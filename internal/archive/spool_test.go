package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/retry"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// A download in flight has no name in the spool directory, only an open
// file, so a recorder killed mid-download or mid-upload leaves nothing
// behind there: the kernel frees the space when the process dies. (It is
// larger than memSpoolMax, so it goes to disk.)
func TestSpooledDownloadLeavesNothingInTheSpoolDir(t *testing.T) {
	audio := bytes.Repeat([]byte("RIFFwave"), memSpoolMax/8+1)
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
	if d.File == nil {
		t.Fatal("a download above memSpoolMax was not spooled to a file")
	}
	got, err := io.ReadAll(d.File)
	if err != nil || !bytes.Equal(got, audio) || d.Size != int64(len(audio)) {
		t.Errorf("spooled %d bytes (%v), want the %d downloaded", len(got), err, len(audio))
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// A small download is held in memory, hashed whole, and its buffer serves
// the next download once closed; one of unknown length goes to disk.
func TestSmallDownloadHeldInMemory(t *testing.T) {
	audio := bytes.Repeat([]byte("RIFFwave"), 25_000)
	chunked := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if chunked {
			_, _ = w.Write(audio[:1000]) // no Content-Length: chunked
			w.(http.Flusher).Flush()
			_, _ = w.Write(audio[1000:])
			return
		}
		http.ServeContent(w, r, "a.wav", time.Time{}, bytes.NewReader(audio))
	}))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFetcher(HostPolicy{Hosts: []string{u.Hostname()}, AllowPrivate: true}, 1<<30, 10*time.Second)
	sum := sha256.Sum256(audio)
	var first []byte
	for i := range 2 {
		d, err := f.Fetch(context.Background(), srv.URL+"/a.wav", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if d.File != nil {
			t.Fatalf("download %d of %d bytes went to disk, want memory", i, len(audio))
		}
		got, err := io.ReadAll(d.body())
		if err != nil || !bytes.Equal(got, audio) || d.Size != int64(len(audio)) || d.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("download %d: %d bytes (%v), sha %s; want the %d served, sha %x", i, len(got), err, d.SHA256, len(audio), sum)
		}
		if i == 0 {
			first = d.mem
		} else if &d.mem[0] != &first[0] {
			t.Error("the second download did not reuse the first's buffer")
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
	chunked = true
	d, err := f.Fetch(context.Background(), srv.URL+"/a.wav", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Close() }()
	if d.File == nil || d.Size != int64(len(audio)) || d.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("chunked download: file %v, %d bytes, sha %s; want on disk, %d bytes, sha %x", d.File, d.Size, d.SHA256, len(audio), sum)
	}
}

// A download cut short in memory is an error, like one on disk.
func TestSmallDownloadCutShortFails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = w.Write(make([]byte, 400))
		panic(http.ErrAbortHandler)
	}))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFetcher(HostPolicy{Hosts: []string{u.Hostname()}, AllowPrivate: true}, 1<<30, 10*time.Second)
	if d, err := f.Fetch(context.Background(), srv.URL+"/a.wav", t.TempDir()); err == nil || retry.IsPermanent(err) {
		t.Errorf("Fetch of a cut download = %v, %v; want a retryable error", d, err)
	}
	// Its buffer went back: the whole budget is lendable again.
	if b, ok := f.spool.get(memSpoolMax); !ok || len(b) != memSpoolMax {
		t.Error("the failed download's buffer was not returned")
	}
}

// The memory spool lends within its budget and says no beyond it, so a
// download that does not fit goes to disk.
func TestMemSpoolBudget(t *testing.T) {
	s := newMemSpool(4<<20, 8<<20)
	for _, n := range []int64{-1, 0, 4<<20 + 1} {
		if _, ok := s.get(n); ok {
			t.Errorf("get(%d) lent a buffer", n)
		}
	}
	a, okA := s.get(4 << 20)
	b, okB := s.get(4 << 20)
	if !okA || !okB {
		t.Fatal("two buffers within the budget refused")
	}
	if _, ok := s.get(1); ok {
		t.Error("a buffer beyond the budget lent")
	}
	s.put(a)
	if c, ok := s.get(100); !ok || cap(c) != 4<<20 {
		t.Errorf("get(100) after a put = cap %d, %v; want the returned buffer", cap(c), ok)
	}
	s.put(b)
	// A free buffer too small gives its budget to a larger request.
	s = newMemSpool(4<<20, 4<<20)
	small, _ := s.get(1)
	s.put(small)
	if big, ok := s.get(4 << 20); !ok || len(big) != 4<<20 {
		t.Error("a free small buffer kept the budget from a large request")
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

// PN_RECORDING_MEMORY_SPOOL=0 sends every download to disk; the default
// holds a small one in memory.
func TestMemorySpoolSetting(t *testing.T) {
	for _, budget := range []int64{0, DefaultConfig().MemorySpool} {
		cfg := DefaultConfig()
		cfg.MemorySpool = budget
		m := NewMirror(cfg, Deps{Logger: zap.NewNop(), Registry: prometheus.NewRegistry()})
		b, inMemory := m.fetcher.spool.get(200_000)
		if inMemory != (budget > 0) {
			t.Errorf("memory spool %d: a 200 KB download held in memory = %t", budget, inMemory)
		}
		if inMemory {
			m.fetcher.spool.put(b)
		}
	}
}
