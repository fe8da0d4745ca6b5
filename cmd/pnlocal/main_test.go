package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseClickHouseFlags(t *testing.T) {
	t.Setenv("PN_LOCAL_CLICKHOUSE_TCP_PORT", "29000")
	t.Setenv("PN_LOCAL_CLICKHOUSE_START_TIMEOUT", "5s")
	cfg, err := parseClickHouseFlags([]string{"--dir", "/tmp/ch", "--tcp-port", "19001"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Dir != "/tmp/ch" || cfg.TCPPort != 19001 || cfg.HTTPPort != 18123 || cfg.StartTimeout != 5*time.Second {
		t.Errorf("got %+v; want the flag over the environment, the environment over the default", cfg)
	}

	t.Setenv("PN_LOCAL_CLICKHOUSE_HTTP_PORT", "many")
	if _, err := parseClickHouseFlags(nil); err == nil || !strings.Contains(err.Error(), "PN_LOCAL_CLICKHOUSE_HTTP_PORT") {
		t.Errorf("bad environment value: err = %v, want one naming the variable", err)
	}
}

func TestRunRejectsBadUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"nats"}, {"clickhouse", "extra"}, {"clickhouse", "--tcp-port", "0"}} {
		if err := run(context.Background(), args, io.Discard); err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		}
	}
}
