package platformsim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RecordingsPath is where the simulator serves recording downloads:
// RecordingsPath + recordObjectName + "?Expires=<unix ms>&Signature=<sig>".
const RecordingsPath = "/recordings/"

// RecordingStoreConfig configures a RecordingStore.
type RecordingStoreConfig struct {
	// BaseURL is how clients reach the simulator, such as
	// "http://127.0.0.1:18090"; download URLs start with it.
	BaseURL string
	// URLTTL is how long a URL from the record-URL API stays valid.
	URLTTL time.Duration
	// Retention is how long a recording is kept after its CDR was pushed;
	// afterwards the API answers 1012007.
	Retention time.Duration
	// MaxRecordings bounds memory: beyond it the oldest are forgotten
	// early. 0 means 1,000,000 (about 200 MB).
	MaxRecordings int
	// Key signs download URLs; empty means a random key per store.
	Key []byte
	// Now is the clock of the download handler; nil means time.Now.
	Now func() time.Time
}

// RecordingStore keeps the simulated recordings, issues download URLs
// that expire and serves the downloads (as an http.Handler on
// RecordingsPath). It stores no audio: each download generates it.
// It is safe for concurrent use.
type RecordingStore struct {
	cfg    RecordingStoreConfig
	faults *Faults

	mu     sync.Mutex
	byName map[string]storedRecording
	fifo   []string // names in the order added, which is expiry order
}

type storedRecording struct {
	Recording
	expires time.Time // end of retention
}

var _ Recordings = (*RecordingStore)(nil)

// NewRecordingStore returns an empty store. faults may be nil.
func NewRecordingStore(cfg RecordingStoreConfig, faults *Faults) (*RecordingStore, error) {
	if cfg.MaxRecordings <= 0 {
		cfg.MaxRecordings = 1_000_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.Key) == 0 {
		cfg.Key = make([]byte, 32)
		if _, err := rand.Read(cfg.Key); err != nil {
			return nil, fmt.Errorf("recording url key: %w", err)
		}
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	return &RecordingStore{cfg: cfg, faults: faults, byName: make(map[string]storedRecording)}, nil
}

// Add keeps r for Retention from pushedAt, the time its CDR is pushed.
// Recordings must be added in time order; older ones are forgotten as
// they expire.
func (s *RecordingStore) Add(r Recording, pushedAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(pushedAt)
	if _, ok := s.byName[r.ObjectName]; !ok {
		s.fifo = append(s.fifo, r.ObjectName)
	}
	s.byName[r.ObjectName] = storedRecording{Recording: r, expires: pushedAt.Add(s.cfg.Retention)}
}

// Len returns the number of recordings kept.
func (s *RecordingStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byName)
}

// pruneLocked forgets expired recordings and the oldest beyond the bound.
func (s *RecordingStore) pruneLocked(now time.Time) {
	i := 0
	for ; i < len(s.fifo); i++ {
		rec, ok := s.byName[s.fifo[i]]
		if ok && now.Before(rec.expires) && len(s.fifo)-i < s.cfg.MaxRecordings {
			break
		}
		delete(s.byName, s.fifo[i])
	}
	if i > 0 {
		s.fifo = append(s.fifo[:0:0], s.fifo[i:]...) // let the old array go
	}
}

// lookup returns the recording if it is still kept at now.
func (s *RecordingStore) lookup(name string, now time.Time) (storedRecording, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.byName[name]
	if !ok || !now.Before(rec.expires) {
		return storedRecording{}, false
	}
	return rec, true
}

// DownloadURL implements Recordings for the record-URL API: a URL valid
// for URLTTL from now, or ErrRecordingNotFound for an unknown name, a
// domain other than the recording's, or a recording past its retention.
func (s *RecordingStore) DownloadURL(recordDomain, fileName string, now time.Time) (string, error) {
	rec, ok := s.lookup(fileName, now)
	if !ok || rec.Domain != recordDomain {
		return "", fmt.Errorf("%w: %s/%s", ErrRecordingNotFound, recordDomain, fileName)
	}
	return s.signedURL(fileName, now.Add(s.cfg.URLTTL)), nil
}

// DirectURL is the recordFileDownloadUrl of a CDR with an empty
// recordDomain: it cannot be fetched again through the API, so it is
// valid for the whole retention from pushedAt.
func (s *RecordingStore) DirectURL(r Recording, pushedAt time.Time) string {
	return s.signedURL(r.ObjectName, pushedAt.Add(s.cfg.Retention))
}

func (s *RecordingStore) signedURL(name string, expires time.Time) string {
	ms := strconv.FormatInt(expires.UnixMilli(), 10)
	return s.cfg.BaseURL + RecordingsPath + url.PathEscape(name) + "?Expires=" + ms + "&Signature=" + s.sign(name, ms)
}

func (s *RecordingStore) sign(name, expires string) string {
	m := hmac.New(sha256.New, s.cfg.Key)
	m.Write([]byte(name + "\n" + expires))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// errDropped cuts a download short (DownloadFault).
var errDropped = errors.New("download dropped by fault injection")

// ServeHTTP serves a download: 403 for a URL not signed by this store, 410
// for an expired one, 404 once the recording is gone, else the WAV audio
// with Content-Length, Content-Type audio/wav and Range support.
func (s *RecordingStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	now := s.cfg.Now()
	name, ok := strings.CutPrefix(r.URL.Path, RecordingsPath)
	q := r.URL.Query()
	expires, sig := q.Get("Expires"), q.Get("Signature")
	if !ok || name == "" || !hmac.Equal([]byte(sig), []byte(s.sign(name, expires))) {
		http.Error(w, "signature does not match", http.StatusForbidden)
		return
	}
	ms, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		http.Error(w, "bad Expires", http.StatusForbidden)
		return
	}
	if !now.Before(time.UnixMilli(ms)) || s.faults.urlsExpired(now) {
		http.Error(w, "download URL expired: ask the record-URL API again", http.StatusGone)
		return
	}
	rec, ok := s.lookup(name, now)
	if !ok {
		http.Error(w, "recording does not exist", http.StatusNotFound)
		return
	}
	wav := newWAV(rec.ICID, rec.Duration)
	var content io.ReadSeeker = wav
	cut, dropping := s.faults.downloadDrop(now)
	var dropper *cutReader
	if dropping {
		dropper = &cutReader{ReadSeeker: content, left: cut}
		content = dropper
	}
	w.Header().Set("Content-Type", "audio/wav")
	if !dropping && serveWhole(w, r, wav, rec.Start) {
		return
	}
	http.ServeContent(w, r, name, rec.Start, content)
	if dropper != nil && dropper.cut {
		// Abort the connection: the client sees fewer bytes than the
		// Content-Length it was promised, as with a network failure.
		panic(http.ErrAbortHandler)
	}
}

// wholeMax is the largest download served in one write.
const wholeMax = 1 << 20

// wholeBufs holds the buffers of serveWhole.
var wholeBufs = sync.Pool{New: func() any { return new([]byte) }}

// serveWhole serves a plain GET (no Range, no condition) of a recording of
// at most wholeMax bytes in one write, with the headers ServeContent would
// send, and reports whether it did. The simulator is load in the process
// that measures the mirror: ServeContent copied a 200 KB recording in
// seven 32 KB writes, after its range and condition checks.
func serveWhole(w http.ResponseWriter, r *http.Request, wav *wavReader, modified time.Time) bool {
	if r.Method != http.MethodGet || wav.size > wholeMax {
		return false
	}
	for _, h := range []string{"Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	bp := wholeBufs.Get().(*[]byte)
	defer wholeBufs.Put(bp)
	if int64(cap(*bp)) < wav.size {
		*bp = make([]byte, wav.size)
	}
	buf := (*bp)[:wav.size]
	if _, err := io.ReadFull(wav, buf); err != nil {
		return false // cannot happen: the WAV is generated; ServeContent tries again
	}
	h := w.Header()
	if !modified.IsZero() && !modified.Equal(time.Unix(0, 0)) {
		h.Set("Last-Modified", modified.UTC().Format(http.TimeFormat))
	}
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Length", strconv.FormatInt(wav.size, 10))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf) // the client went away: nothing to do
	return true
}

// cutReader fails after left bytes.
type cutReader struct {
	io.ReadSeeker
	left int64
	cut  bool
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.cut = true
		return 0, errDropped
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.ReadSeeker.Read(p)
	c.left -= int64(n)
	return n, err
}

// The recordings' audio format: 8 kHz, 16-bit, mono PCM in a RIFF/WAVE
// file, as telephony recordings are.
const (
	wavSampleRate     = 8000
	wavBytesPerSample = 2
	wavHeaderSize     = 44
	wavBytesPerSecond = wavSampleRate * wavBytesPerSample
	// maxWAVSeconds keeps the RIFF chunk size within 32 bits (about 74 h).
	maxWAVSeconds = (1<<32 - 1 - 36) / wavBytesPerSecond
)

// wavSize is the file size of a recording of d, counted in whole seconds.
func wavSize(d time.Duration) int64 {
	secs := min(max(int64(d/time.Second), 0), maxWAVSeconds)
	return wavHeaderSize + secs*wavBytesPerSecond
}

// wavReader generates a WAV file as it is read: a header, then a sine tone
// whose pitch (300–999 Hz) derives from the icid. Memory is one period of
// the tone, repeated to at least wavMinPattern bytes so that a read copies
// large blocks (at most about 20 KB in all), whatever the length, so a
// 1 GiB recording streams from a few kilobytes. It seeks, for Range
// requests.
type wavReader struct {
	header  [wavHeaderSize]byte
	pattern []byte // whole periods of the tone, little-endian samples
	size    int64
	pos     int64
}

// wavMinPattern is the least length of a wavReader's pattern: a period can
// be as short as 16 samples, and copying it 32 bytes at a time cost the
// simulator more than the rest of serving a download.
const wavMinPattern = 4096

// sineTable holds int16(8000·sin(2π·k/rate)) for k < rate: sample i of a
// tone of freq is entry freq·i mod rate, so each recording's tone is
// looked up instead of computed (math.Sin per sample was most of a small
// download's cost in the simulator).
var sineTable = sync.OnceValue(func() *[wavSampleRate]int16 {
	var t [wavSampleRate]int16
	for k := range t {
		t[k] = int16(8000 * math.Sin(2*math.Pi*float64(k)/wavSampleRate))
	}
	return &t
})

func newWAV(icid string, d time.Duration) *wavReader {
	w := &wavReader{size: wavSize(d)}
	dataLen := uint32(w.size - wavHeaderSize)
	h := w.header[:0]
	h = append(h, "RIFF"...)
	h = binary.LittleEndian.AppendUint32(h, 36+dataLen)
	h = append(h, "WAVEfmt "...)
	h = binary.LittleEndian.AppendUint32(h, 16) // fmt chunk size
	h = binary.LittleEndian.AppendUint16(h, 1)  // PCM
	h = binary.LittleEndian.AppendUint16(h, 1)  // mono
	h = binary.LittleEndian.AppendUint32(h, wavSampleRate)
	h = binary.LittleEndian.AppendUint32(h, wavBytesPerSecond)
	h = binary.LittleEndian.AppendUint16(h, wavBytesPerSample) // block align
	h = binary.LittleEndian.AppendUint16(h, 8*wavBytesPerSample)
	h = append(h, "data"...)
	_ = binary.LittleEndian.AppendUint32(h, dataLen)

	hash := fnv.New32a()
	hash.Write([]byte(icid))
	freq := 300 + int(hash.Sum32()%700)
	// Sample i is sin(2π·freq·i/rate): it repeats after rate/gcd(freq, rate)
	// samples, so one period of whole samples is exact.
	period := wavSampleRate / gcd(freq, wavSampleRate)
	periods := (wavMinPattern/wavBytesPerSample + period - 1) / period
	table := sineTable()
	w.pattern = make([]byte, 0, periods*period*wavBytesPerSample)
	for i := range periods * period {
		w.pattern = binary.LittleEndian.AppendUint16(w.pattern, uint16(table[freq*i%wavSampleRate]))
	}
	return w
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (w *wavReader) Read(p []byte) (int, error) {
	if w.pos >= w.size {
		return 0, io.EOF
	}
	if left := w.size - w.pos; int64(len(p)) > left {
		p = p[:left]
	}
	n := 0
	for n < len(p) {
		var m int
		if w.pos < wavHeaderSize {
			m = copy(p[n:], w.header[w.pos:])
		} else {
			m = copy(p[n:], w.pattern[(w.pos-wavHeaderSize)%int64(len(w.pattern)):])
		}
		n += m
		w.pos += int64(m)
	}
	return n, nil
}

func (w *wavReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = w.pos + offset
	case io.SeekEnd:
		abs = w.size + offset
	default:
		return 0, fmt.Errorf("wav seek: bad whence %d", whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("wav seek: negative position %d", abs)
	}
	w.pos = abs
	return abs, nil
}
