package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/platformsim"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/testenv"
)

// flakyFront stands before ingest as a load balancer would: while closed
// it answers every push 503 with Retry-After, as ingest does when
// JetStream cannot take a message; then it forwards pushes to ingest and
// notes the identities of those ingest stored.
type flakyFront struct {
	t       *testing.T
	ingest  *httptest.Server
	opensAt time.Time
	refused atomic.Int64

	mu     sync.Mutex
	events map[string]bool // Nats-Msg-Id of stored events
	icids  map[string]bool // of stored CDRs
}

func (f *flakyFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if time.Now().Before(f.opensAt) {
		f.refused.Add(1)
		w.Header().Set("Retry-After", "60")
		http.Error(w, `{"resultcode":"503","resultdesc":"not stored"}`, http.StatusServiceUnavailable)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, f.ingest.URL+r.URL.Path, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Header = r.Header.Clone() // the signature travels with the push
	resp, err := f.ingest.Client().Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if resp.StatusCode == http.StatusOK {
		f.note(body)
	} else {
		f.t.Errorf("ingest refused a simulated push: %d %s\n%s", resp.StatusCode, answer, body)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}

func (f *flakyFront) note(body []byte) {
	p, err := privatenumber.DecodePush(body, privatenumber.AnyPush)
	if err != nil {
		f.t.Errorf("stored push does not decode: %v", err)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p.Event != nil {
		f.events[p.Event.MsgID()] = true
	}
	for _, r := range p.Fees {
		f.icids[r.ICID] = true
	}
}

// TestSimulatedCallsArriveExactlyOnce drives a few hundred simulated calls
// through ingest, JetStream and the recorder into ClickHouse while ingest
// refuses every push for the first seconds: the simulator's re-pushes (on
// the platform's schedule, scaled 1000 times down) must leave exactly one
// fee_records row per call and one call_events row per event.
func TestSimulatedCallsArriveExactlyOnce(t *testing.T) {
	simulatedCallsArriveExactlyOnce(t, platformsim.RepushFresh)
}

// TestSimulatedRepushesWithOriginalHeaders is the same with re-pushes that
// re-send the first attempt's headers (same nonce and Created, same body),
// as the platform may: ingest must store every push once and refuse none
// (the front fails the test on any answer but 200 from ingest, 401
// included).
func TestSimulatedRepushesWithOriginalHeaders(t *testing.T) {
	simulatedCallsArriveExactlyOnce(t, platformsim.RepushOriginal)
}

func simulatedCallsArriveExactlyOnce(t *testing.T, repushHeaders string) {
	t.Parallel()
	const calls = 300
	started := time.Now()
	p := start(t, nil)
	front := &flakyFront{t: t, ingest: p.ingest, opensAt: time.Now().Add(1500 * time.Millisecond),
		events: map[string]bool{}, icids: map[string]bool{}}
	frontSrv := httptest.NewServer(front)
	t.Cleanup(frontSrv.Close)

	cfg := platformsim.DefaultConfig()
	cfg.AppKey, cfg.AppSecret = appKey, appSecret
	cfg.PublicURL = "http://127.0.0.1:1" // recordings are not fetched here
	cfg.EventsURL, cfg.FeesURL = frontSrv.URL+ingest.PathEvents, frontSrv.URL+ingest.PathFees
	cfg.CallRate, cfg.MaxCalls, cfg.Bindings, cfg.Seed = 200, calls, 20, 42
	cfg.TimeScale = 0.001 // re-pushes at 60 ms, 240 ms, 540 ms, 6.36 s, 12.18 s, 18 s
	cfg.FeeBatchWait = 200 * time.Millisecond
	cfg.RepushHeaders = repushHeaders
	sim, err := platformsim.New(cfg, platformsim.Deps{Logger: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Go(t, sim.Run)

	var st platformsim.Stats
	testenv.Eventually(t, 25*time.Second, func() (bool, string) {
		st = sim.Stats()
		return st.Calls == calls && st.Push.Pending == 0, fmt.Sprintf("simulator not done: %+v", st)
	})
	t.Logf("pushes: %+v; scenarios: %v", st.Push, st.Scenarios)
	if st.Push.GivenUp != 0 || st.Push.FeeRecords != calls {
		t.Fatalf("push stats %+v: want every call's CDR pushed, none given up", st.Push)
	}
	if front.refused.Load() == 0 || st.Push.Retried == 0 {
		t.Fatalf("no push was refused (%d) or re-pushed (%d): the outage did not happen", front.refused.Load(), st.Push.Retried)
	}
	front.mu.Lock()
	stored := len(front.events)
	icids := front.icids
	front.mu.Unlock()
	if int64(stored) != st.Push.Events || len(icids) != calls {
		t.Fatalf("ingest stored %d distinct events of %d and %d distinct CDRs of %d", stored, st.Push.Events, len(icids), calls)
	}

	p.waitCount("SELECT count() FROM fee_records FINAL", calls, 20*time.Second)
	p.waitCount("SELECT count() FROM call_events FINAL", uint64(st.Push.Events), 20*time.Second)
	p.waitCount("SELECT uniqExact(icid) FROM fee_records", calls, time.Second)
	rows, err := p.conn().Query(context.Background(), "SELECT icid FROM fee_records FINAL")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var icid string
		if err := rows.Scan(&icid); err != nil {
			t.Fatal(err)
		}
		if !icids[icid] {
			t.Errorf("row for icid %s that the simulator did not push", icid)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d calls, %d events, %d refused pushes; took %s", calls, st.Push.Events, front.refused.Load(), time.Since(started).Round(time.Millisecond))
}
