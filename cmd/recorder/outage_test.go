package main

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

// A recorder started, or restarted by its supervisor, while ClickHouse is
// down waits for it instead of exiting, and sets up (migrations, streams)
// and consumes once it is back.
func TestStartsWhileClickHouseIsDown(t *testing.T) {
	ns := testenv.NATS(t)
	db := clickhouse.NewDatabase(t)
	t.Setenv("PN_LOG_LEVEL", "error")
	clickhouse.Stop(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-nats-url", ns.URL(), "-clickhouse-addr", clickhouse.Addr(),
			"-clickhouse-database", db, "-recorder-admin-addr", "127.0.0.1:0"})
	}()
	// An absence cannot be polled for: give a recorder that would exit
	// the time to do so.
	select {
	case err := <-done:
		t.Fatalf("run returned while ClickHouse was down: %v", err)
	case <-time.After(3 * time.Second):
	}

	clickhouse.Start(t)
	cc := streams.DefaultConnConfig()
	cc.URL = ns.URL()
	nc, js, err := streams.Connect(cc, "outage-test", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// The consumers exist once the set-up (migrations, streams) is done.
	waitFor(t, "the recorder's consumers", func() bool {
		_, err := js.Consumer(ctx, streams.Events, "pn-recorder-events")
		return err == nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
