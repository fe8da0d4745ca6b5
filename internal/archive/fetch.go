package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pnstream/pnstream/internal/redact"
	"github.com/pnstream/pnstream/internal/retry"
)

// The push is untrusted input: its recordFileDownloadUrl, and the Location
// the platform answers, decide where pnstream connects. Fetcher allows only
// hosts on the allow-list, refuses private, loopback and link-local
// addresses at connect time (so DNS names that resolve there, and DNS
// rebinding, are caught too), follows only redirects that pass the same
// checks, verifies TLS and caps size and time. The URL is a bearer secret
// (its query string signs it): no error of this file carries it whole, only
// its redact.URL form.

// HostPolicy decides which download URLs may be fetched.
type HostPolicy struct {
	// Hosts are allowed host names: "a.example.com" exactly, ".example.com"
	// any subdomain of example.com.
	Hosts []string
	// AllowPrivate lets downloads reach loopback, private and link-local
	// addresses and use plain http: local runs with the simulator only.
	AllowPrivate bool
}

// CheckURL reports why raw may not be fetched, or nil.
func (p HostPolicy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return retry.Permanent(fmt.Errorf("download url: %w", redact.Error(err)))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowPrivate:
	default:
		return retry.Permanent(fmt.Errorf("download url scheme %q refused: https only", u.Scheme))
	}
	if u.User != nil {
		return retry.Permanent(errors.New("download url with credentials refused"))
	}
	host := strings.ToLower(u.Hostname())
	if !p.hostAllowed(host) {
		return retry.Permanent(fmt.Errorf("download host %q is not on the allow-list (PN_RECORDING_HOSTS)", host))
	}
	if addr, err := netip.ParseAddr(host); err == nil && !p.addrAllowed(addr) {
		return retry.Permanent(fmt.Errorf("download address %s refused: not a public address", addr))
	}
	return nil
}

func (p HostPolicy) hostAllowed(host string) bool {
	host = strings.TrimSuffix(host, ".")
	for _, h := range p.Hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case h == "":
		case strings.HasPrefix(h, "."):
			if strings.HasSuffix(host, h) && len(host) > len(h) {
				return true
			}
		case host == h:
			return true
		}
	}
	return false
}

// cgnat is the shared address space of carrier-grade NAT, 100.64.0.0/10.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

func (p HostPolicy) addrAllowed(a netip.Addr) bool {
	if p.AllowPrivate {
		return true
	}
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate() && !cgnat.Contains(a)
}

// dialControl runs after DNS resolution, on the address actually dialled.
func (p HostPolicy) dialControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return retry.Permanent(fmt.Errorf("dial %s: %w", address, err))
	}
	if !p.addrAllowed(ap.Addr()) {
		return retry.Permanent(fmt.Errorf("dial %s refused: not a public address", ap.Addr()))
	}
	return nil
}

// Fetcher downloads recordings under a HostPolicy.
type Fetcher struct {
	policy   HostPolicy
	client   *http.Client
	maxBytes int64
	spool    *memSpool
}

// NewFetcher returns a Fetcher. maxBytes caps a recording; timeout caps one
// download.
func NewFetcher(policy HostPolicy, maxBytes int64, timeout time.Duration) *Fetcher {
	return newFetcher(policy, maxBytes, timeout, nil)
}

// newFetcher is NewFetcher with the DNS resolver to use; nil is the
// system's.
func newFetcher(policy HostPolicy, maxBytes int64, timeout time.Duration, resolver *net.Resolver) *Fetcher {
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: policy.dialControl, Resolver: resolver}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, past dialControl
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true, // audio; and Content-Length must be the file's
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return retry.Permanent(errors.New("more than 3 redirects"))
			}
			return policy.CheckURL(req.URL.String())
		},
	}
	return &Fetcher{policy: policy, client: client, maxBytes: maxBytes, spool: newMemSpool(memSpoolMax, memSpoolBudget)}
}

// Download is a fetched recording, hashed whole. A small one (its
// Content-Length at most memSpoolMax) is held in memory lent by the
// Fetcher's memSpool; any other is spooled to a temporary file that has no
// name any more: only the open file holds it, so a process that dies
// mid-download or mid-upload leaves nothing behind in the spool directory.
type Download struct {
	File        *os.File // the spooled file, positioned at the start; nil when in memory
	Size        int64
	SHA256      string // hex
	ContentType string // as the server sent it

	mem   []byte    // the recording when held in memory
	spool *memSpool // where mem goes back on Close
}

// Close releases the download: the spooled file, which frees its space,
// or the memory.
func (d *Download) Close() error {
	if d.spool != nil {
		d.spool.put(d.mem)
		d.mem, d.spool = nil, nil
	}
	if d.File == nil {
		return nil
	}
	return d.File.Close()
}

// body returns the recording from its start, for one upload attempt.
func (d *Download) body() io.ReadSeeker {
	if d.File == nil {
		return bytes.NewReader(d.mem)
	}
	return d.File
}

// readerAt returns the recording for reading at any offset.
func (d *Download) readerAt() io.ReaderAt {
	if d.File == nil {
		return bytes.NewReader(d.mem)
	}
	return d.File
}

// Fetch downloads raw, hashing it on the way, and checks its length against
// Content-Length: into memory when the length is known and small, else into
// a temporary file in dir. A download that stops early is an error:
// nothing partial is ever returned.
func (f *Fetcher) Fetch(ctx context.Context, raw, dir string) (*Download, error) {
	if err := f.policy.CheckURL(raw); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, retry.Permanent(fmt.Errorf("download request: %w", redact.Error(err)))
	}
	resp, err := f.client.Do(req)
	if err != nil {
		// A *url.Error: its message holds the whole URL, signature and all.
		err = redact.Error(err)
		if retry.IsPermanent(err) {
			return nil, err
		}
		return nil, fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Expired or not yet available URLs answer 403/404/410: the next
		// attempt resolves a fresh URL.
		return nil, fmt.Errorf("download: %s", resp.Status)
	}
	if resp.ContentLength > f.maxBytes {
		return nil, retry.Permanent(fmt.Errorf("recording of %d bytes exceeds the cap of %d", resp.ContentLength, f.maxBytes))
	}
	d := &Download{ContentType: resp.Header.Get("Content-Type")}
	if buf, ok := f.spool.get(resp.ContentLength); ok {
		d.mem, d.spool = buf, f.spool
		err = d.readMemory(resp.Body, resp.ContentLength, f.maxBytes)
	} else {
		err = d.readFile(resp.Body, resp.ContentLength, f.maxBytes, dir)
	}
	if err != nil {
		return nil, errors.Join(err, d.Close())
	}
	return d, nil
}

// readMemory reads a body of contentLength bytes into d.mem, which has
// that length, and hashes it.
func (d *Download) readMemory(body io.Reader, contentLength, maxBytes int64) error {
	n, err := io.ReadFull(body, d.mem)
	if err == nil {
		// The transport stops a body at its Content-Length; a byte more
		// would be a broken transport, never part of the recording.
		var one [1]byte
		if m, _ := body.Read(one[:]); m > 0 {
			n++
		}
	}
	if err == nil || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = checkLength(int64(n), contentLength, maxBytes)
	}
	if err != nil {
		return fmt.Errorf("download: %w", redact.Error(err))
	}
	sum := sha256.Sum256(d.mem)
	d.Size, d.SHA256 = int64(n), hex.EncodeToString(sum[:])
	return nil
}

// readFile spools body to an unlinked temporary file in dir, hashing it on
// the way.
func (d *Download) readFile(body io.Reader, contentLength, maxBytes int64, dir string) error {
	file, err := os.CreateTemp(dir, spoolPattern)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	d.File = file
	// Unlinked at once: the open file is all the mirror needs, and a crash
	// cannot leave it behind (the kernel frees it with the last descriptor).
	// Gone already means another mirror's start-up swept it: just as good.
	if err := os.Remove(file.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	sha := sha256.New()
	n, err := io.Copy(io.MultiWriter(file, sha), io.LimitReader(body, maxBytes+1))
	if err == nil {
		err = checkLength(n, contentLength, maxBytes)
	}
	if err == nil {
		_, err = file.Seek(0, io.SeekStart)
	}
	if err != nil {
		return fmt.Errorf("download: %w", redact.Error(err))
	}
	d.Size, d.SHA256 = n, hex.EncodeToString(sha.Sum(nil))
	return nil
}

func checkLength(n, contentLength, maxBytes int64) error {
	switch {
	case n > maxBytes:
		return retry.Permanent(fmt.Errorf("recording exceeds the cap of %d bytes", maxBytes))
	case contentLength >= 0 && n != contentLength:
		return fmt.Errorf("got %d of %d bytes", n, contentLength)
	case n == 0:
		return errors.New("empty recording")
	}
	return nil
}

// spoolPattern names spooled downloads.
const spoolPattern = "pn-recording-*"

// SweepSpool removes spooled downloads left in dir: a process killed
// between creating a spool file and unlinking it (microseconds apart)
// leaves an empty one behind. It returns how many it removed.
func SweepSpool(dir string) (int, error) {
	names, err := filepath.Glob(filepath.Join(dir, spoolPattern))
	if err != nil {
		return 0, fmt.Errorf("sweep spool %s: %w", dir, err)
	}
	var errs []error
	removed := 0
	for _, name := range names {
		switch err := os.Remove(name); {
		case err == nil:
			removed++
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("sweep spool %s: %w", dir, errors.Join(errs...))
	}
	return removed, nil
}
