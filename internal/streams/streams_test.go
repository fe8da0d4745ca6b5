package streams_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

func TestProvisionIsIdempotentAndUpdates(t *testing.T) {
	ns := testenv.NATS(t)
	cc := streams.DefaultConnConfig()
	cc.URL = ns.URL()
	nc, js, err := streams.Connect(cc, "streams-test", zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()
	cfg := smallConfig()
	for range 2 {
		if err := streams.Provision(ctx, js, cfg); err != nil {
			t.Fatal(err)
		}
	}
	names := map[string]bool{}
	for name := range js.StreamNames(ctx).Name() {
		names[name] = true
	}
	for _, want := range []string{streams.Events, streams.Fees, streams.Recordings, streams.Rejected, streams.Dead} {
		if !names[want] {
			t.Errorf("stream %s missing", want)
		}
	}

	cfg.DuplicateWindow = 2 * time.Minute
	if err := streams.Provision(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, streams.Fees)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Duplicates != 2*time.Minute || info.Config.MaxAge != cfg.MaxAge {
		t.Errorf("after update: duplicates %s max age %s", info.Config.Duplicates, info.Config.MaxAge)
	}
	if err := streams.Drain(nc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := streams.DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	bad := streams.Config{Replicas: 0, Storage: "tape", DuplicateWindow: 0}
	err := bad.Validate()
	for _, want := range []string{"replicas", "storage", "max ages", "duplicate window", "max msg size"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}
