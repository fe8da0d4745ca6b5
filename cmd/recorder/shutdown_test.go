package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

// From the moment the recorder is told to stop, /readyz answers 503
// "shutting down" while the recorder still stores the batches in hand
// (here through a ClickHouse outage, for PN_RECORDER_SHUTDOWN_TIMEOUT),
// and the whole stop stays within that timeout and the short deadlines of
// the steps after it.
func TestReadyzTurns503BeforeStopping(t *testing.T) {
	ns := testenv.NATS(t)
	db := clickhouse.NewDatabase(t)
	admin := loopbackAddr(t)
	const shutdownTimeout = 3 * time.Second
	bg := testenv.Go(t, func(ctx context.Context) error {
		return run(ctx, []string{"-nats-url", ns.URL(), "-clickhouse-addr", clickhouse.Addr(),
			"-clickhouse-database", db, "-recorder-admin-addr", admin, "-recorder-batch-wait", "100ms",
			"-recorder-retry-initial", "50ms", "-recorder-retry-max", "200ms",
			"-recorder-shutdown-timeout", shutdownTimeout.String(), "-log-level", "error"})
	})
	ctx := t.Context()
	readyz := func() (int, string) {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(body))
	}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		status, body := readyz()
		return status == http.StatusOK, fmt.Sprintf("/readyz %d %q", status, body)
	})

	// A batch in hand that ClickHouse cannot take: the recorder retries it
	// until its shutdown timeout.
	clickhouse.Stop(t)
	js := testenv.JetStream(t, ns.URL())
	body := `{"icid":"readyz-1","sessionId":"s","callInTime":"2024-01-01 00:00:00"}`
	if _, err := js.Publish(ctx, streams.FeeSubject, []byte(body)); err != nil {
		t.Fatal(err)
	}
	fees, err := js.Consumer(ctx, streams.Fees, "pn-recorder-fees")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		info, err := fees.Info(ctx)
		if err != nil {
			return false, err.Error()
		}
		return info.NumAckPending == 1, fmt.Sprintf("%d messages in hand", info.NumAckPending)
	})

	t0 := time.Now()
	bg.Cancel()
	testenv.Eventually(t, 2*time.Second, func() (bool, string) {
		select {
		case <-bg.Done():
			t.Fatalf("run returned (%v) before /readyz answered 503", bg.Wait())
		default:
		}
		status, body := readyz()
		return status == http.StatusServiceUnavailable && strings.Contains(body, "shutting down"),
			fmt.Sprintf("/readyz %d %q", status, body)
	})
	if err := bg.StopWithin(t, shutdownTimeout+adminShutdownTimeout+natsDrainTimeout); err != nil {
		t.Errorf("run: %v", err)
	}
	if took := time.Since(t0); took > shutdownTimeout+2*time.Second {
		t.Errorf("stop took %s with PN_RECORDER_SHUTDOWN_TIMEOUT=%s", took, shutdownTimeout)
	}
}
