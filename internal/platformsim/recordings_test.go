package platformsim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestWAVHeaderAndTone(t *testing.T) {
	w := newWAV("icid-1", 3*time.Second)
	b, err := io.ReadAll(w)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 44+3*16000 || int64(len(b)) != wavSize(3*time.Second) {
		t.Fatalf("size %d", len(b))
	}
	le := binary.LittleEndian
	checks := []struct {
		name      string
		got, want any
	}{
		{"RIFF", string(b[0:4]), "RIFF"},
		{"riff size", le.Uint32(b[4:8]), uint32(len(b) - 8)},
		{"WAVE", string(b[8:16]), "WAVEfmt "},
		{"fmt size", le.Uint32(b[16:20]), uint32(16)},
		{"PCM", le.Uint16(b[20:22]), uint16(1)},
		{"mono", le.Uint16(b[22:24]), uint16(1)},
		{"rate", le.Uint32(b[24:28]), uint32(8000)},
		{"byte rate", le.Uint32(b[28:32]), uint32(16000)},
		{"block align", le.Uint16(b[32:34]), uint16(2)},
		{"bits", le.Uint16(b[34:36]), uint16(16)},
		{"data", string(b[36:40]), "data"},
		{"data size", le.Uint32(b[40:44]), uint32(len(b) - 44)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// A tone, not silence; the same icid gives the same bytes, another a
	// different tone.
	var peak int16
	for i := 44; i < len(b); i += 2 {
		peak = max(peak, int16(le.Uint16(b[i:])))
	}
	if peak < 4000 {
		t.Errorf("peak amplitude %d: not a tone", peak)
	}
	again, _ := io.ReadAll(newWAV("icid-1", 3*time.Second))
	other, _ := io.ReadAll(newWAV("icid-2", 3*time.Second))
	if !bytes.Equal(b, again) || bytes.Equal(b[44:], other[44:]) {
		t.Error("audio is not a function of the icid")
	}

	// Seeking lands where reading would.
	for _, off := range []int64{0, 1, 43, 44, 45, 1001, int64(len(b)) - 1} {
		if _, err := w.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(w)
		if !bytes.Equal(rest, b[off:]) {
			t.Errorf("after Seek(%d): %d bytes differ from the file's tail", off, len(rest))
		}
	}
	if _, err := w.Seek(-1, io.SeekStart); err == nil {
		t.Error("negative seek accepted")
	}
}

// A 1 GiB recording streams with a few kilobytes: nothing holds the file.
func TestWAVStreamsOneGiBInSmallMemory(t *testing.T) {
	d := time.Duration((1<<30)/wavBytesPerSecond+1) * time.Second
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w := newWAV("big", d)
	n, err := io.CopyBuffer(io.Discard, w, make([]byte, 64<<10))
	runtime.ReadMemStats(&after)
	if err != nil || n != wavSize(d) || n < 1<<30 {
		t.Fatalf("read %d bytes (%v), want %d ≥ 1 GiB", n, err, wavSize(d))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("streaming 1 GiB allocated %d bytes", alloc)
	}
}

// verifyNoLeaks checks, after the test's other cleanups, that it left no
// goroutine behind.
func verifyNoLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		goleak.VerifyNone(t, ignore)
	})
}

func newTestStore(t *testing.T, clk *fakeClock, faults *Faults) (*RecordingStore, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	s, err := NewRecordingStore(RecordingStoreConfig{
		BaseURL: "http://" + srv.Listener.Addr().String(), URLTTL: 30 * time.Minute, Retention: 7 * 24 * time.Hour, Now: clk.now,
	}, faults)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = s
	srv.Start()
	t.Cleanup(srv.Close)
	return s, srv
}

func get(t *testing.T, url string, header ...string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func TestRecordingDownloads(t *testing.T) {
	verifyNoLeaks(t)
	clk := &fakeClock{t: callEpoch}
	s, _ := newTestStore(t, clk, nil)
	rec := Recording{ICID: "icid-9", Domain: "ostor.test", ObjectName: "26112708000000000000001.wav", Start: callEpoch, Duration: 10 * time.Second}
	s.Add(rec, clk.now())
	want, _ := io.ReadAll(newWAV(rec.ICID, rec.Duration))

	u, err := s.DownloadURL("ostor.test", rec.ObjectName, clk.now())
	if err != nil {
		t.Fatal(err)
	}
	resp, body, err := get(t, u)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Fatalf("download: %v %v, %d bytes", err, resp.Status, len(body))
	}
	if resp.Header.Get("Content-Type") != "audio/wav" || resp.Header.Get("Content-Length") != strconv.Itoa(len(want)) ||
		resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("Last-Modified") != callEpoch.UTC().Format(http.TimeFormat) {
		t.Errorf("headers %v", resp.Header)
	}
	resp, body, _ = get(t, u, "Range", "bytes=100-199")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want[100:200]) {
		t.Errorf("range: %s, %d bytes", resp.Status, len(body))
	}

	for _, c := range []struct{ domain, name string }{{"other.domain", rec.ObjectName}, {"ostor.test", "nope.wav"}} {
		if _, err := s.DownloadURL(c.domain, c.name, clk.now()); !errors.Is(err, ErrRecordingNotFound) {
			t.Errorf("DownloadURL(%s, %s) = %v, want ErrRecordingNotFound", c.domain, c.name, err)
		}
	}
	tampered := strings.Replace(u, rec.ObjectName, "26112708000000000000002.wav", 1)
	if resp, _, _ := get(t, tampered); resp.StatusCode != http.StatusForbidden {
		t.Errorf("tampered URL: %s, want 403", resp.Status)
	}

	// The URL expires; a fresh one works; the CDR's direct URL lives as
	// long as the recording.
	direct := s.DirectURL(rec, clk.now())
	clk.advance(31 * time.Minute)
	if resp, _, _ := get(t, u); resp.StatusCode != http.StatusGone {
		t.Errorf("expired URL: %s, want 410", resp.Status)
	}
	u2, err := s.DownloadURL("ostor.test", rec.ObjectName, clk.now())
	if err != nil {
		t.Fatal(err)
	}
	if resp, _, _ := get(t, u2); resp.StatusCode != http.StatusOK {
		t.Errorf("fresh URL: %s", resp.Status)
	}
	if resp, _, _ := get(t, direct); resp.StatusCode != http.StatusOK {
		t.Errorf("direct URL after 31 min: %s", resp.Status)
	}

	// After the retention the recording is gone.
	clk.advance(7 * 24 * time.Hour)
	if _, err := s.DownloadURL("ostor.test", rec.ObjectName, clk.now()); !errors.Is(err, ErrRecordingNotFound) {
		t.Errorf("after retention: %v", err)
	}
	if resp, _, _ := get(t, direct); resp.StatusCode != http.StatusGone && resp.StatusCode != http.StatusNotFound {
		t.Errorf("direct URL after retention: %s", resp.Status)
	}
	s.Add(Recording{ICID: "later", ObjectName: "later.wav", Duration: time.Second}, clk.now())
	if s.Len() != 1 {
		t.Errorf("store keeps %d recordings after the first expired, want 1", s.Len())
	}
}

func TestRecordingFaults(t *testing.T) {
	verifyNoLeaks(t)
	clk := &fakeClock{t: callEpoch}
	faults := NewFaults(clk.now)
	s, _ := newTestStore(t, clk, faults)
	rec := Recording{ICID: "icid-f", Domain: "d", ObjectName: "f.wav", Start: callEpoch, Duration: 60 * time.Second}
	s.Add(rec, clk.now())
	u, _ := s.DownloadURL("d", "f.wav", clk.now())

	if err := faults.Set(FaultSpec{Download: &DownloadFault{DropAfterBytes: 1000, For: Duration(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	resp, body, err := get(t, u)
	if err == nil {
		t.Fatalf("dropped download read fully: %s, %d bytes", resp.Status, len(body))
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Logf("dropped download: %v", err) // the exact error depends on timing; any error will do
	}

	if err := faults.Set(FaultSpec{ExpireURLs: &Window{For: Duration(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	clk.advance(2 * time.Minute) // the drop fault is over, expireUrls too
	u, _ = s.DownloadURL("d", "f.wav", clk.now())
	if resp, _, err := get(t, u); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after the faults: %v %v", err, resp)
	}
	if err := faults.Set(FaultSpec{ExpireURLs: &Window{For: Duration(time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	if resp, _, _ := get(t, u); resp.StatusCode != http.StatusGone {
		t.Errorf("with expireUrls: %s, want 410", resp.Status)
	}
}
