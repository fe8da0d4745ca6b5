package archive

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/pnstream/pnstream/internal/retry"
)

// fakeDNS answers A and AAAA queries from a fixed table over UDP on
// loopback: the DNS an attacker controls, whose names resolve to private
// addresses.
type fakeDNS struct {
	conn    net.PacketConn
	records map[string]netip.Addr // fully qualified name → address
}

func startFakeDNS(t *testing.T, records map[string]string) *net.Resolver {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDNS{conn: conn, records: map[string]netip.Addr{}}
	for name, addr := range records {
		d.records[name+"."] = netip.MustParseAddr(addr)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.serve()
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dialer net.Dialer
		return dialer.DialContext(ctx, "udp", conn.LocalAddr().String())
	}}
}

func (d *fakeDNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := d.conn.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		if answer, err := d.answer(buf[:n]); err == nil {
			_, _ = d.conn.WriteTo(answer, from)
		}
	}
}

func (d *fakeDNS) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	addr, known := d.records[q.Name.String()]
	rcode := dnsmessage.RCodeSuccess
	if !known {
		rcode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RCode: rcode})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 1}
	switch {
	case known && q.Type == dnsmessage.TypeA && addr.Is4():
		err = b.AResource(rh, dnsmessage.AResource{A: addr.As4()})
	case known && q.Type == dnsmessage.TypeAAAA && addr.Is6():
		err = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: addr.As16()})
	}
	if err != nil {
		return nil, err
	}
	return b.Finish()
}

// redirector answers the first request, to from, with a redirect to
// location, as a platform (or whoever poses as its storage) could; every
// other request goes through the fetcher's own transport, checks included.
type redirector struct {
	from, location string
	next           http.RoundTripper
}

func (r redirector) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.String() != r.from {
		return r.next.RoundTrip(req)
	}
	return &http.Response{
		StatusCode: http.StatusFound, Status: "302 Found", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Location": {r.location}}, Body: io.NopCloser(strings.NewReader("")), Request: req,
	}, nil
}

// TestRedirectsAndDNSToPrivateAddressesAreRefused: download URLs that pass
// the allow-list by name but lead to private addresses, by a redirect or by
// what their DNS answers, are refused before any connection is made there,
// as permanent errors.
func TestRedirectsAndDNSToPrivateAddressesAreRefused(t *testing.T) {
	var hits atomic.Int64 // requests that reached the internal service
	internal := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer internal.Close()
	port := internal.Listener.Addr().(*net.TCPAddr).Port
	resolver := startFakeDNS(t, map[string]string{
		"rebind.huawei.com":   "127.0.0.1",
		"ten.huawei.com":      "10.0.0.1",
		"metadata.huawei.com": "169.254.169.254",
		"home.huawei.com":     "192.168.1.1",
		"cgnat.huawei.com":    "100.64.0.1",
		"six.huawei.com":      "::1",
		"ula.huawei.com":      "fd00::1",
	})
	policy := HostPolicy{Hosts: []string{".huawei.com", "127.0.0.1"}}
	const start = "https://ostor.huawei.com/rec.wav"
	tests := []struct {
		name, redirectTo, url, reason string
	}{
		{"redirect to a private address on the list", fmt.Sprintf("https://127.0.0.1:%d/a.wav", port), start, "not a public address"},
		{"redirect to a host off the list", fmt.Sprintf("https://elsewhere.example:%d/a.wav", port), start, "allow-list"},
		{"redirect to plain http", fmt.Sprintf("http://rebind.huawei.com:%d/a.wav", port), start, "https only"},
		{"redirect to a name resolving to loopback", fmt.Sprintf("https://rebind.huawei.com:%d/a.wav", port), start, "not a public address"},
		{"redirect to the metadata service by name", "https://metadata.huawei.com/latest/meta-data", start, "not a public address"},
		{"name resolving to loopback", "", fmt.Sprintf("https://rebind.huawei.com:%d/a.wav", port), "not a public address"},
		{"name resolving to 10/8", "", "https://ten.huawei.com/a.wav", "not a public address"},
		{"name resolving to link-local", "", "https://metadata.huawei.com/a.wav", "not a public address"},
		{"name resolving to 192.168/16", "", "https://home.huawei.com/a.wav", "not a public address"},
		{"name resolving to CGNAT space", "", "https://cgnat.huawei.com/a.wav", "not a public address"},
		{"name resolving to IPv6 loopback", "", fmt.Sprintf("https://six.huawei.com:%d/a.wav", port), "not a public address"},
		{"name resolving to IPv6 ULA", "", "https://ula.huawei.com/a.wav", "not a public address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFetcher(policy, 1<<20, 10*time.Second, resolver)
			if tt.redirectTo != "" {
				f.client.Transport = redirector{from: start, location: tt.redirectTo, next: f.client.Transport}
			}
			d, err := f.Fetch(context.Background(), tt.url, t.TempDir())
			if err == nil {
				d.Close()
				t.Fatal("fetched")
			}
			if !retry.IsPermanent(err) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %v, want a permanent one mentioning %q", err, tt.reason)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the internal server was reached %d times", n)
	}
}

// TestTooManyRedirectsAreRefused: a redirect loop ends after 3 hops.
func TestTooManyRedirectsAreRefused(t *testing.T) {
	f := newFetcher(HostPolicy{Hosts: []string{".huawei.com"}}, 1<<20, 10*time.Second, nil)
	f.client.Transport = loop{}
	_, err := f.Fetch(context.Background(), "https://a.huawei.com/0", t.TempDir())
	if !retry.IsPermanent(err) || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("error %v, want a permanent one about redirects", err)
	}
}

// loop redirects every request to the next path on the same host.
type loop struct{}

func (loop) RoundTrip(req *http.Request) (*http.Response, error) {
	return redirector{from: req.URL.String(), location: req.URL.String() + "/next"}.RoundTrip(req)
}
