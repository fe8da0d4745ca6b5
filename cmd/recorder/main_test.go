package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pnstream/pnstream/internal/localserver"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

var clickhouse *testenv.ClickHouseServer

func TestMain(m *testing.M) {
	var err error
	clickhouse, err = testenv.StartClickHouse(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := clickhouse.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func TestRunRefusesBadConfig(t *testing.T) {
	err := run(context.Background(), []string{"-recorder-batch-size", "0", "-clickhouse-database", "bad name"})
	if err == nil || !strings.Contains(err.Error(), "batch size") || !strings.Contains(err.Error(), "database") {
		t.Errorf("run = %v, want errors about batch size and database", err)
	}
}

func TestRunMigratesConsumesAndStops(t *testing.T) {
	ns := testenv.NATS(t)
	db := clickhouse.NewDatabase(t)
	port, err := localserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	admin := fmt.Sprintf("127.0.0.1:%d", port)
	t.Setenv("PN_LOG_LEVEL", "warn")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-nats-url", ns.URL(), "-clickhouse-addr", clickhouse.Addr(),
			"-clickhouse-database", db, "-recorder-admin-addr", admin, "-recorder-batch-wait", "100ms"})
	}()

	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	waitFor(t, "readyz", func() bool {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	msg := nats.NewMsg(streams.FeeSubject)
	msg.Data = []byte(`{"icid":"cmd-1","sessionId":"s","callInTime":"2024-01-01 00:00:00"}`)
	if _, err := nc.RequestMsg(msg, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	conn := clickhouse.Open(t, db)
	waitFor(t, "row", func() bool {
		var n uint64
		return conn.QueryRow(context.Background(), "SELECT count() FROM fee_records FINAL").Scan(&n) == nil && n == 1
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
