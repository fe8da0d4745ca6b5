package platformsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/schemas"
)

const (
	pushKey    = "push-key"
	pushSecret = "push-secret"
)

// receiver is a callback server that verifies each push like ingest does
// and records what it got. answer decides the status of each push.
type receiver struct {
	t        *testing.T
	srv      *httptest.Server
	verifier *aksk.Verifier
	answer   func(body []byte, n int) int // n counts the pushes of this body

	mu     sync.Mutex
	counts map[string]int         // by body
	times  map[string][]time.Time // arrivals by body
	nonces map[string]bool
	header []http.Header // of every push
	events []*privatenumber.CallEvent
	fees   [][]privatenumber.FeeRecord
	nums   [][]privatenumber.NumberStatus
	bad    []string
}

func newReceiver(t *testing.T, answer func(body []byte, n int) int) *receiver {
	r := &receiver{
		t: t, answer: answer, counts: map[string]int{}, times: map[string][]time.Time{}, nonces: map[string]bool{},
		verifier: aksk.NewVerifier(pushKey, pushSecret, time.Minute, 0, nil),
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	tok, verr := r.verifier.Verify(req.Header)
	switch {
	case err != nil:
		r.bad = append(r.bad, "read: "+err.Error())
	case verr != nil:
		r.bad = append(r.bad, "auth: "+verr.Error())
	case r.nonces[tok.Nonce]:
		r.bad = append(r.bad, "nonce reused: "+tok.Nonce)
	case req.Header.Get("Content-Type") != "application/json;charset=UTF-8":
		r.bad = append(r.bad, "content type "+req.Header.Get("Content-Type"))
	}
	r.nonces[tok.Nonce] = true
	r.header = append(r.header, req.Header.Clone())
	key := string(body)
	r.counts[key]++
	r.times[key] = append(r.times[key], time.Now())
	status := http.StatusOK
	if r.answer != nil {
		status = r.answer(body, r.counts[key])
	}
	if status == http.StatusOK {
		kind := privatenumber.EventPush
		if req.URL.Path == "/fees" {
			kind = privatenumber.FeePush
		}
		p, err := privatenumber.DecodePush(body, kind)
		if err != nil || p.Err() != nil {
			r.bad = append(r.bad, "decode: "+errors.Join(err, p.Err()).Error())
		} else if p.EventType == privatenumber.EventTypeNumStatus {
			r.nums = append(r.nums, p.Numbers)
		} else if p.Event != nil {
			r.events = append(r.events, p.Event)
		} else {
			r.fees = append(r.fees, p.Fees)
		}
	}
	w.WriteHeader(status)
}

func (r *receiver) check() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bad {
		r.t.Error(b)
	}
}

func testPusher(t *testing.T, url string, mutate func(*PusherConfig), faults *Faults) *Pusher {
	t.Helper()
	cfg := PusherConfig{
		EventsURL: url + "/events", FeesURL: url + "/fees", AppKey: pushKey, AppSecret: pushSecret,
		TimeScale: 1.0 / 60_000, // 1 min → 1 ms, 300 min → 300 ms
		Timeout:   2 * time.Second, Workers: 4, MaxPending: 1000, FeeBatchWait: 20 * time.Millisecond,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := NewPusher(cfg, &http.Client{}, faults, zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runPusher runs p until the test ends.
func runPusher(t *testing.T, p *Pusher) { testenv.Go(t, p.Run) }

// waitStats waits until p's counters satisfy ok.
func waitStats(t *testing.T, p *Pusher, timeout time.Duration, ok func(PushStats) bool) {
	t.Helper()
	testenv.Eventually(t, timeout, func() (bool, string) {
		s := p.Stats()
		return ok(s), fmt.Sprintf("stats %+v", s)
	})
}

func TestPusherDeliversEveryCallOnce(t *testing.T) {
	verifyNoLeaks(t)
	feeSchema := compileSchema(t, schemas.FeePushSchemaFile, schemas.FeePushSchema())
	eventSchema := compileSchema(t, schemas.CallEventSchemaFile, schemas.CallEventSchema())
	rcv := newReceiver(t, func(body []byte, _ int) int {
		sch := eventSchema
		if string(body[:20]) == `{"eventType":"fee","` {
			sch = feeSchema
		}
		if err := validateJSON(sch, body); err != nil {
			t.Errorf("pushed body fails its schema: %v\n%s", err, body)
		}
		return http.StatusOK
	})
	p := testPusher(t, rcv.srv.URL, nil, nil)
	runPusher(t, p)

	calls := generateCalls(5, simBindings(6), 300)
	events := 0
	for _, c := range calls {
		if err := p.PushCall(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		events += len(c.Events)
	}
	waitStats(t, p, 10*time.Second, func(s PushStats) bool { return s.Pending == 0 && s.Events == int64(events) })
	rcv.check()

	s := p.Stats()
	if s.Retried != 0 || s.Failed != 0 || s.GivenUp != 0 || s.FeeRecords != int64(len(calls)) || s.Delivered != s.Events+s.FeePushes {
		t.Errorf("stats %+v", s)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.events) != events {
		t.Errorf("received %d events, want %d", len(rcv.events), events)
	}
	icids := map[string]int{}
	merged := false
	for _, push := range rcv.fees {
		if len(push) > privatenumber.MaxFeeRecords {
			t.Errorf("fee push of %d records", len(push))
		}
		merged = merged || len(push) > 1
		for _, f := range push {
			icids[f.ICID]++
		}
	}
	for _, c := range calls {
		if icids[c.ICID] != 1 {
			t.Errorf("icid %s received %d times", c.ICID, icids[c.ICID])
		}
	}
	if !merged {
		t.Error("no fee push merged several CDRs")
	}
}

// TestPusherRepushSchedule: a push that keeps failing is re-pushed 6 times
// at the scaled offsets from its first attempt, each signed afresh, then
// given up; one that fails twice is delivered on the second re-push.
func TestPusherRepushSchedule(t *testing.T) {
	verifyNoLeaks(t)
	calls := generateCalls(9, simBindings(4), 2)
	failing, flaky := string(calls[0].Events[0].Body), string(calls[1].Events[0].Body)
	rcv := newReceiver(t, func(body []byte, n int) int {
		switch string(body) {
		case failing:
			return http.StatusInternalServerError
		case flaky:
			if n <= 2 {
				return http.StatusServiceUnavailable
			}
		}
		return http.StatusOK
	})
	// 1 min → 5 ms, 300 min → 1.5 s: the late re-pushes are far enough
	// apart that offsets and gaps are told apart even on a busy machine.
	const scale = 1.0 / 12_000
	p := testPusher(t, rcv.srv.URL, func(c *PusherConfig) { c.TimeScale = scale }, nil)
	runPusher(t, p)
	queued := time.Now() // no attempt starts before this
	for _, c := range calls {
		if err := p.PushCall(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	waitStats(t, p, 15*time.Second, func(s PushStats) bool { return s.Pending == 0 })
	rcv.check()

	s := p.Stats()
	if s.GivenUp != 1 || s.Retried != 6+2 || s.Failed != 7+2 {
		t.Errorf("stats %+v: want 1 given up, 8 re-pushes, 9 failed attempts", s)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	at := rcv.times[failing]
	if len(at) != 7 {
		t.Fatalf("failing push tried %d times, want 1 + 6 re-pushes", len(at))
	}
	for i, off := range DefaultRepushSchedule {
		want := time.Duration(float64(off) * scale)
		// A re-push is due its offset after the first attempt, which
		// started after queued: never earlier than that, however late the
		// first attempt's arrival was on a busy machine.
		if early := at[i+1].Sub(queued); early < want {
			t.Errorf("re-push %d came %s after the push was queued, before its offset %s", i+1, early, want)
		}
		// Arrivals lag their attempts by connection set-up and scheduling;
		// read as gaps, the last re-pushes would come 0.6 s and 1.6 s later.
		if got := at[i+1].Sub(at[0]); got > want+250*time.Millisecond {
			t.Errorf("re-push %d at +%s, want +%s (offset from the first attempt)", i+1, got, want)
		}
	}
	if n := rcv.counts[flaky]; n != 3 {
		t.Errorf("flaky push made %d times, want 3", n)
	}
}

// Timeouts and refused connections are failures too, re-pushed like a 503.
func TestPusherRetriesTimeoutsAndConnectionErrors(t *testing.T) {
	verifyNoLeaks(t)
	release := make(chan struct{})
	rcv := newReceiver(t, func(body []byte, n int) int {
		if n == 1 {
			<-release // hang past the pusher's timeout
		}
		return http.StatusOK
	})
	unhang := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unhang) // before the receiver closes, should the test fail first
	p := testPusher(t, rcv.srv.URL, func(c *PusherConfig) { c.Timeout = 50 * time.Millisecond }, nil)
	runPusher(t, p)
	call := generateCalls(2, simBindings(3), 1)[0]
	call.Events = call.Events[:1]
	if err := p.PushCall(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	// Both first attempts (the event, the fee push) time out while the
	// receiver hangs; then it answers.
	waitStats(t, p, 5*time.Second, func(s PushStats) bool { return s.Failed >= 2 })
	unhang()
	waitStats(t, p, 5*time.Second, func(s PushStats) bool { return s.Pending == 0 })
	if s := p.Stats(); s.Failed < 2 || s.GivenUp != 0 || s.Delivered != 2 {
		t.Errorf("stats %+v: want the event and the fee push each failed once, then delivered", s)
	}

	// A receiver that is not there: every attempt fails, then it gives up.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	p2 := testPusher(t, dead.URL, nil, nil)
	runPusher(t, p2)
	if err := p2.PushCall(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	waitStats(t, p2, 5*time.Second, func(s PushStats) bool { return s.GivenUp == 2 })
	rcv.check()
}

func TestPusherSignsWithWSSE(t *testing.T) {
	verifyNoLeaks(t)
	rcv := newReceiver(t, nil)
	p := testPusher(t, rcv.srv.URL, func(c *PusherConfig) { c.WSSE = true }, nil)
	runPusher(t, p)
	if err := p.PushCall(context.Background(), generateCalls(1, simBindings(3), 1)[0]); err != nil {
		t.Fatal(err)
	}
	waitStats(t, p, 5*time.Second, func(s PushStats) bool { return s.Pending == 0 })
	rcv.check()
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, h := range rcv.header {
		if h.Get(aksk.HeaderWSSE) == "" || h.Get(aksk.HeaderAKSK) != "" || h.Get("Authorization") != aksk.AuthorizationWSSE {
			t.Errorf("headers %v: want the X-WSSE scheme only", h)
		}
	}
}

// With loseAnswer the receiver stores a push and is asked again: the
// duplicates a receiver must absorb.
func TestPusherFaults(t *testing.T) {
	verifyNoLeaks(t)
	rcv := newReceiver(t, nil)
	faults := NewFaults(nil)
	p := testPusher(t, rcv.srv.URL, nil, faults)
	call := generateCalls(4, simBindings(3), 1)[0]
	call.Events = call.Events[:1]
	if err := faults.Set(FaultSpec{Push: &PushFault{LoseAnswer: true, For: Duration(30 * time.Millisecond)}}); err != nil {
		t.Fatal(err)
	}
	runPusher(t, p)
	if err := p.PushCall(context.Background(), call); err != nil {
		t.Fatal(err)
	}
	waitStats(t, p, 5*time.Second, func(s PushStats) bool { return s.Pending == 0 })
	rcv.mu.Lock()
	n := rcv.counts[string(call.Events[0].Body)]
	rcv.mu.Unlock()
	if n < 2 {
		t.Errorf("event received %d times, want at least twice (answer lost, then re-pushed)", n)
	}

	if err := faults.Set(FaultSpec{Push: &PushFault{Status: 503, For: Duration(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	before := p.Stats().Delivered
	call2 := generateCalls(6, simBindings(3), 1)[0]
	if err := p.PushCall(context.Background(), call2); err != nil {
		t.Fatal(err)
	}
	waitStats(t, p, 5*time.Second, func(s PushStats) bool { return s.Pending == 0 })
	if s := p.Stats(); s.Delivered != before || s.GivenUp != int64(len(call2.Events)+1) {
		t.Errorf("with status 503 injected: %+v", s)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if n := rcv.counts[string(call2.Events[0].Body)]; n != 0 {
		t.Errorf("receiver got %d pushes while the platform could not reach it", n)
	}
}

func TestPusherStops(t *testing.T) {
	verifyNoLeaks(t)
	rcv := newReceiver(t, func([]byte, int) int { return http.StatusServiceUnavailable })
	p := testPusher(t, rcv.srv.URL, func(c *PusherConfig) { c.TimeScale = 1; c.MaxPending = 3 }, nil)
	run := testenv.Go(t, p.Run)
	ctx := t.Context()
	call := generateCalls(1, simBindings(3), 1)[0]
	call.Events = call.Events[:2]
	if err := p.PushCall(ctx, call); err != nil { // 2 events + the fee push: 3 pending
		t.Fatal(err)
	}
	waitStats(t, p, 5*time.Second, func(s PushStats) bool { return s.Failed >= 2 }) // the fee push may fail too by then
	short, stop := context.WithTimeout(ctx, 20*time.Millisecond)
	defer stop()
	if err := p.PushCall(short, call); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("PushCall while MaxPending are pending: %v, want to block until the deadline", err)
	}
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.PushCall(context.Background(), call); !errors.Is(err, ErrPusherStopped) {
		t.Errorf("PushCall after Run: %v, want ErrPusherStopped", err)
	}
	if s := p.Stats(); s.Pending != 3 {
		t.Errorf("abandoned %d pushes, want 3", s.Pending)
	}
}

// TestPusherRepushHeaders: with RepushOriginal every re-push of a body
// carries the first attempt's X-AKSK (nonce and Created) and the same
// body; with RepushFresh each attempt has a new nonce. Every attempt
// verifies.
func TestPusherRepushHeaders(t *testing.T) {
	for _, mode := range []string{RepushFresh, RepushOriginal} {
		t.Run(mode, func(t *testing.T) {
			verifyNoLeaks(t)
			verifier := aksk.NewVerifier(pushKey, pushSecret, time.Minute, 0, nil)
			var mu sync.Mutex
			auth := map[string][]string{} // X-AKSK of every attempt, by body
			var bad []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				body, err := io.ReadAll(req.Body)
				mu.Lock()
				defer mu.Unlock()
				if _, verr := verifier.Verify(req.Header); err != nil || verr != nil {
					bad = append(bad, fmt.Sprintf("read %v, auth %v", err, verr))
				}
				if req.Header.Get("Content-Type") != axeapi.ContentType {
					bad = append(bad, "content type "+req.Header.Get("Content-Type"))
				}
				key := string(body)
				auth[key] = append(auth[key], req.Header.Get(aksk.HeaderAKSK))
				if len(auth[key]) <= 3 { // refused until the third re-push
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			}))
			t.Cleanup(srv.Close)
			p := testPusher(t, srv.URL, func(c *PusherConfig) { c.RepushHeaders = mode }, nil)
			runPusher(t, p)
			for _, c := range generateCalls(3, simBindings(4), 5) {
				if err := p.PushCall(context.Background(), c); err != nil {
					t.Fatal(err)
				}
			}
			waitStats(t, p, 15*time.Second, func(s PushStats) bool { return s.Pending == 0 })
			if s := p.Stats(); s.Delivered == 0 || s.GivenUp != 0 || s.Retried != 3*s.Delivered {
				t.Errorf("stats %+v: want every push delivered on its third re-push", s)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, b := range bad {
				t.Error(b)
			}
			for body, hs := range auth {
				if len(hs) != 4 {
					t.Errorf("%d attempts of a body, want 4: %.80s", len(hs), body)
				}
				distinct := map[string]bool{}
				for _, h := range hs {
					distinct[h] = true
				}
				want := len(hs) // fresh: each attempt its own nonce
				if mode == RepushOriginal {
					want = 1
				}
				if len(distinct) != want {
					t.Errorf("%s: %d distinct X-AKSK headers over %d attempts, want %d: %q", mode, len(distinct), len(hs), want, hs)
				}
			}
		})
	}
}

func TestPusherRefusesUnknownRepushHeaders(t *testing.T) {
	_, err := NewPusher(PusherConfig{EventsURL: "http://x/e", FeesURL: "http://x/f", TimeScale: 1, Timeout: time.Second,
		FeeBatchWait: time.Second, Workers: 1, MaxPending: 1, RepushHeaders: "stale"}, &http.Client{}, nil, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "repush headers") {
		t.Errorf("RepushHeaders %q: got %v, want refused", "stale", err)
	}
}
