package platformsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/testenv"
)

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	c.AppKey, c.AppSecret = "k", "s"
	c.EventsURL, c.FeesURL = "http://127.0.0.1:8080/e", "http://127.0.0.1:8080/f"
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults with credentials and URLs: %v", err)
	}
	if got := c.Redacted().AppSecret; got != "[redacted]" {
		t.Errorf("redacted secret %q", got)
	}
	if got := c.publicURL(); got != "http://127.0.0.1:18090" {
		t.Errorf("public URL %q", got)
	}

	bad := Config{Addr: ":1", VirtualNumbers: []string{"8617000000001"}, ExtensionDigits: 1, Bindings: 10,
		CallRate: 1, EventsURL: "ftp://x", RecordShare: 2, Faults: `{"push":{"for":"1s"}}`,
		AreaCodes: map[string]string{"+8617000000001": "755"}, RepushHeaders: "stale"}
	err := bad.Validate()
	for _, want := range []string{"app key", "E.164", "do not fit", "events URL", "fees URL", "record share",
		"time scale", "URL TTL", "retention", "push workers", "set status", "auth window", "area code", "repush headers"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate of a bad config does not mention %q: %v", want, err)
		}
	}
	if got := bad.publicURL(); got != "http://127.0.0.1:1" {
		t.Errorf("public URL of :1 = %q", got)
	}
}

// TestSimulator runs the whole simulator on a real port: calls pushed to
// a receiver, bindings made at start visible through the API, recordings
// resolved with the record-URL API and downloaded, faults switched on
// through the admin endpoint.
func TestSimulator(t *testing.T) {
	verifyNoLeaks(t)
	rcv := newReceiver(t, nil)
	srv := httptest.NewUnstartedServer(nil)
	cfg := DefaultConfig()
	cfg.PublicURL = "http://" + srv.Listener.Addr().String()
	cfg.AppKey, cfg.AppSecret = pushKey, pushSecret
	cfg.EventsURL, cfg.FeesURL = rcv.srv.URL+"/events", rcv.srv.URL+"/fees"
	cfg.CallRate, cfg.MaxCalls, cfg.Bindings, cfg.TimeScale = 500, 120, 6, 0.001
	cfg.FeeBatchWait = 20 * time.Millisecond
	sim, err := New(cfg, Deps{Logger: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = sim.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	testenv.Go(t, sim.Run)
	ctx := t.Context()

	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		s := sim.Stats()
		return s.Calls == 120 && s.Push.Pending == 0 && s.Push.FeeRecords == 120, fmt.Sprintf("stats %+v", s)
	})
	rcv.check()
	st := sim.Stats()
	if st.Bindings != 6 || st.Push.GivenUp != 0 || st.Push.Events != st.Push.Delivered-st.Push.FeePushes {
		t.Errorf("stats %+v", st)
	}

	client, err := axeapi.NewClient(axeapi.ClientConfig{BaseURL: cfg.PublicURL, AppKey: pushKey, AppSecret: pushSecret})
	if err != nil {
		t.Fatal(err)
	}
	first := sim.Bindings().Snapshot(time.Now())[0]
	info, err := client.Query(ctx, axeapi.BindingRef{SubscriptionID: first.SubscriptionID})
	if err != nil || info.ExtendNum != first.ExtendNum {
		t.Fatalf("query a start binding: %+v, %v", info, err)
	}

	// Every recorded CDR's recording can be fetched, through the API or
	// its direct URL.
	rcv.mu.Lock()
	var recorded []privatenumber.FeeRecord
	for _, push := range rcv.fees {
		for _, f := range push {
			if f.Recorded() {
				recorded = append(recorded, f)
			}
		}
	}
	rcv.mu.Unlock()
	if len(recorded) == 0 {
		t.Fatal("no recorded call among 120")
	}
	for _, f := range recorded {
		u := f.RecordFileDownloadURL
		if f.RecordDomain != "" {
			loc, err := client.RecordingURL(ctx, f.RecordDomain, f.RecordObjectName)
			if err != nil {
				t.Fatalf("recording URL of %s: %v", f.ICID, err)
			}
			u = loc.String()
		}
		resp, body, err := get(t, u)
		if err != nil || resp.StatusCode != http.StatusOK || int64(len(body)) != wavSize(f.CallEndTime.Sub(f.RecordStartTime.Time)) {
			t.Fatalf("download of %s: %v %v, %d bytes", f.ICID, err, resp, len(body))
		}
	}

	// Flow control, switched on through the admin endpoint.
	req, _ := http.NewRequest(http.MethodPut, cfg.PublicURL+FaultsPath, strings.NewReader(`{"flowControl":{"for":"1m"}}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("set fault: %v %v", err, resp)
	}
	resp.Body.Close()
	if _, err := client.Query(ctx, axeapi.BindingRef{SubscriptionID: first.SubscriptionID}); !errors.Is(err, axeapi.ErrFlowControl) {
		t.Errorf("query under flow control: %v, want ErrFlowControl", err)
	}
	req, _ = http.NewRequest(http.MethodPut, cfg.PublicURL+FaultsPath, strings.NewReader(`{"flowControl":{"for":"1m"},"typo":1}`))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("misspelt fault spec: %v %v, want 400", err, resp)
	} else {
		resp.Body.Close()
	}

	resp, body, err := get(t, cfg.PublicURL+StatsPath)
	var served Stats
	if err != nil || resp.StatusCode != http.StatusOK || json.Unmarshal(body, &served) != nil || served.Calls != 120 || served.Faults.FlowControl == nil {
		t.Errorf("stats endpoint: %v %s", err, body)
	}
	req, _ = http.NewRequest(http.MethodDelete, cfg.PublicURL+FaultsPath, nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if _, err := client.Query(ctx, axeapi.BindingRef{SubscriptionID: first.SubscriptionID}); err != nil {
		t.Errorf("query after the faults were cleared: %v", err)
	}
}
