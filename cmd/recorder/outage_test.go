package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

// A recorder started, or restarted by its supervisor, while ClickHouse is
// down waits for it instead of exiting, and sets up (migrations, streams)
// and consumes once it is back.
func TestStartsWhileClickHouseIsDown(t *testing.T) {
	ns := testenv.NATS(t)
	db := clickhouse.NewDatabase(t)
	clickhouse.Stop(t)

	logs := captureStderr(t)
	bg := testenv.Go(t, func(ctx context.Context) error {
		return run(ctx, []string{"-nats-url", ns.URL(), "-clickhouse-addr", clickhouse.Addr(),
			"-clickhouse-database", db, "-recorder-admin-addr", "127.0.0.1:0", "-log-level", "warn"})
	})
	// A recorder that gave up would return after its first failed attempt:
	// wait for it to fail three times, then check it is still running.
	const waiting = "start-up: waiting for ClickHouse and NATS"
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		select {
		case <-bg.Done():
			t.Fatalf("run returned while ClickHouse was down: %v", bg.Wait())
		default:
		}
		n := strings.Count(logs.String(), waiting)
		return n >= 3, fmt.Sprintf("%d start-up attempts logged", n)
	})
	select {
	case <-bg.Done():
		t.Fatalf("run returned while ClickHouse was down: %v", bg.Wait())
	default:
	}

	clickhouse.Start(t)
	js := testenv.JetStream(t, ns.URL())
	// The consumers exist once the set-up (migrations, streams) is done.
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		_, err := js.Consumer(t.Context(), streams.Events, "pn-recorder-events")
		if err != nil {
			return false, "consumer pn-recorder-events: " + err.Error()
		}
		return true, ""
	})
	if err := bg.Stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}
