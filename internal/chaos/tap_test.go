package chaos

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// tap stands between the simulator and ingest, as a load balancer would,
// and notes the identity of every record the simulator pushed and of those
// ingest answered 200 for. It changes nothing: the push, its headers and
// the answer pass through; a push ingest does not answer (a restart) gets
// 502, which the simulator re-pushes like any failure.
type tap struct {
	t      *testing.T
	url    string
	target string
	client *http.Client
	srv    *http.Server
	// next picks the target of each push when spread over replicas.
	next atomic.Uint64

	// targets, when set by spread, replace target, round-robin; observe,
	// when set, sees each push ingest answered (attack: captured headers).
	targets []string
	observe func(path string, header http.Header, status int)

	mu         sync.Mutex
	sentFees   map[string]bool // icid of every CDR pushed
	sentEvents map[string]bool // Nats-Msg-Id of every event pushed, as stored (piiPolicy)
	ackedFees  map[string]bool // of those answered 200
	ackedEvent map[string]bool
	answers    map[int]int // HTTP status → count; 0 for no answer
}

func newTap(t *testing.T, target string) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{
		t: t, url: "http://" + ln.Addr().String(), target: target,
		client:   &http.Client{Timeout: 10 * time.Second},
		sentFees: map[string]bool{}, sentEvents: map[string]bool{},
		ackedFees: map[string]bool{}, ackedEvent: map[string]bool{},
		answers: map[int]int{},
	}
	tp.srv = &http.Server{Handler: tp, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = tp.srv.Serve(ln) // ErrServerClosed once closed
	}()
	t.Cleanup(func() {
		_ = tp.srv.Close()
		<-served
		tp.client.CloseIdleConnections()
	})
	return tp
}

func (tp *tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	push, err := privatenumber.DecodePush(body, privatenumber.AnyPush)
	if err != nil || push.Err() != nil {
		tp.t.Errorf("the simulator pushed an invalid body (%v, %v): %.300s", err, push.Err(), body)
	}
	tp.note(push, tp.sentFees, tp.sentEvents)

	target, observe := tp.route()
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.Path, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Header = r.Header.Clone() // the signature travels with the push
	resp, err := tp.client.Do(req)
	if err != nil {
		tp.count(0)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		tp.count(0)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	tp.count(resp.StatusCode)
	if observe != nil {
		observe(r.URL.Path, r.Header.Clone(), resp.StatusCode)
	}
	if resp.StatusCode == http.StatusOK {
		tp.note(push, tp.ackedFees, tp.ackedEvent)
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer) // the simulator may have given up waiting
}

// spread sends the pushes round-robin to targets (ingest replicas) instead
// of the one target of newTap, and shows each answered push to observe
// (nil for none).
func (tp *tap) spread(observe func(path string, header http.Header, status int), targets ...string) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.targets, tp.observe = targets, observe
}

// route returns where the next push goes, and its observer.
func (tp *tap) route() (string, func(string, http.Header, int)) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if len(tp.targets) == 0 {
		return tp.target, tp.observe
	}
	return tp.targets[tp.next.Add(1)%uint64(len(tp.targets))], tp.observe
}

func (tp *tap) note(p *privatenumber.Push, fees, events map[string]bool) {
	if p == nil {
		return
	}
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if p.Event != nil {
		// Identified as stored: the recorder applies the PII policy to the
		// sessionId, which may hold phone numbers.
		stored := piiPolicy.Event(*p.Event)
		events[stored.MsgID()] = true
	}
	for _, f := range p.Fees {
		fees[f.ICID] = true
	}
}

func (tp *tap) count(status int) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.answers[status]++
}

// tapStats is a copy of what the tap saw.
type tapStats struct {
	sentFees, sentEvents, ackedFees, ackedEvents map[string]bool
	answers                                      map[int]int
}

func (tp *tap) stats() tapStats {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	clone := func(m map[string]bool) map[string]bool {
		c := make(map[string]bool, len(m))
		for k := range m {
			c[k] = true
		}
		return c
	}
	answers := make(map[int]int, len(tp.answers))
	for k, v := range tp.answers {
		answers[k] = v
	}
	return tapStats{clone(tp.sentFees), clone(tp.sentEvents), clone(tp.ackedFees), clone(tp.ackedEvent), answers}
}
