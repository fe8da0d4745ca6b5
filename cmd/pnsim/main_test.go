package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pnstream/pnstream/internal/localserver"
	"github.com/pnstream/pnstream/internal/platformsim"
	"github.com/pnstream/pnstream/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunRefusesBadConfig(t *testing.T) {
	t.Setenv("PN_SIM_CALL_RATE", "-1")
	t.Setenv("PN_SIM_REPUSH_HEADERS", "stale")
	t.Setenv("PN_SIM_AREA_CODES", "+8617000000001=755")
	err := run(context.Background(), []string{"--app-key", "k"})
	for _, want := range []string{"app secret", "call rate", "repush headers", "area code"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("run with a bad config: %v, want an error naming %q", err, want)
		}
	}
	if err := run(context.Background(), []string{"--help"}); err != nil {
		t.Errorf("--help: %v", err)
	}
}

// TestRunPlacesCallsAndStops runs the command as `make run` does: settings
// from PN_* variables, pushes to a callback URL, stop on cancel.
func TestRunPlacesCallsAndStops(t *testing.T) {
	var pushes atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		pushes.Add(1)
	}))
	defer rcv.Close()
	port, err := localserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	t.Setenv("PN_APP_KEY", "k")
	t.Setenv("PN_APP_SECRET", "s")
	t.Setenv("PN_SIM_EVENTS_URL", rcv.URL+"/events")
	t.Setenv("PN_SIM_FEES_URL", rcv.URL+"/fees")
	t.Setenv("PN_SIM_CALL_RATE", "50")

	bg := testenv.Go(t, func(ctx context.Context) error {
		return run(ctx, []string{"--sim-addr", fmt.Sprintf("127.0.0.1:%d", port), "--sim-bindings", "3", "--log-level", "warn"})
	})
	client := &http.Client{}
	defer client.CloseIdleConnections()
	var stats platformsim.Stats
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		select {
		case <-bg.Done():
			t.Fatalf("run returned while placing calls: %v", bg.Wait())
		default:
		}
		resp, err := client.Get(base + platformsim.StatsPath)
		if err != nil {
			return false, err.Error() // not listening yet
		}
		err = json.NewDecoder(resp.Body).Decode(&stats)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		return stats.Push.Delivered >= 20, fmt.Sprintf("stats %+v, %d pushes received", stats, pushes.Load())
	})
	if stats.Bindings != 3 || stats.Calls == 0 {
		t.Errorf("stats %+v", stats)
	}
	if err := bg.StopWithin(t, 15*time.Second); err != nil {
		t.Fatalf("run: %v", err)
	}
}
