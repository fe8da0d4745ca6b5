package archive_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/privatenumber"
)

// s3Watch is a proxy in front of the S3 gateway that records how many
// PUTs run at once, and whether a HEAD (the stat of a next job) came while
// a PUT ran. It holds each PUT until such a HEAD came, at most
// putHold: a worker that overlaps its jobs shows it at its first upload.
type s3Watch struct {
	mu            sync.Mutex
	puts, maxPuts int
	headDuringPut bool
	headSeen      chan struct{} // closed at the first HEAD during a PUT
}

const putHold = 2 * time.Second

func (w *s3Watch) handler(target string) http.Handler {
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: target})
	return http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		w.mu.Lock()
		switch req.Method {
		case http.MethodPut:
			w.puts++
			w.maxPuts = max(w.maxPuts, w.puts)
		case http.MethodHead:
			if w.puts > 0 && !w.headDuringPut {
				w.headDuringPut = true
				close(w.headSeen)
			}
		}
		w.mu.Unlock()
		if req.Method == http.MethodPut {
			select {
			case <-w.headSeen:
			case <-time.After(putHold):
			}
			defer func() {
				w.mu.Lock()
				w.puts--
				w.mu.Unlock()
			}()
		}
		// The request keeps its Host, which its signature covers.
		proxy.ServeHTTP(rw, req)
	})
}

// A worker downloads its next recording while it uploads one, and never
// has more than one upload in flight: Concurrency is the number of
// uploads at a time.
func TestWorkerDownloadsNextWhileItUploadsOne(t *testing.T) {
	t.Parallel()
	watch := &s3Watch{headSeen: make(chan struct{})}
	srv := httptest.NewServer(watch.handler(s3.Endpoint()))
	t.Cleanup(srv.Close)

	r := newRig(t, func(c *archive.Config) { c.Concurrency = 1 })
	r.cfg.Endpoint = srv.Listener.Addr().String()
	type want struct {
		fee  privatenumber.FeeRecord
		sum  string
		size int64
	}
	var all []want
	for i := range 8 {
		fee, sum, size := r.recording(fmt.Sprintf("pipe-%d", i), 2*time.Second, true)
		all = append(all, want{fee, sum, size})
	}
	for _, w := range all {
		r.enqueue(w.fee)
	}
	r.mirror()
	for _, w := range all {
		r.checkArchived(w.fee, w.sum, w.size)
	}
	watch.mu.Lock()
	defer watch.mu.Unlock()
	if watch.maxPuts != 1 {
		t.Errorf("%d uploads at once with one worker, want 1", watch.maxPuts)
	}
	if !watch.headDuringPut {
		t.Error("no job was begun while an upload ran: the worker does not overlap them")
	}
}
