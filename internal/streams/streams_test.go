package streams_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
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
	for _, want := range []string{streams.Events, streams.Fees, streams.Recordings, streams.Numbers, streams.Rejected, streams.Dead} {
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
	for _, want := range []string{"replicas", "storage", "max ages", "duplicate window", "max msg size",
		"stream max bytes", "rejected max bytes", "dead max bytes", "nonce window"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}

	for name, c := range map[string]struct {
		change func(*streams.Config)
		want   string
	}{
		"negative data limit":       {func(c *streams.Config) { c.MaxBytes = -1 }, "stream max bytes -1"},
		"limit below a message":     {func(c *streams.Config) { c.DeadMaxBytes = 512 << 10 }, "stream dead max bytes"},
		"nonce window past max age": {func(c *streams.Config) { c.MaxAge = 6 * time.Hour }, "stream max age 6h0m0s"},
		"nonce window of 30s":       {func(c *streams.Config) { c.NonceWindow = 30 * time.Second }, "nonce window 30s"},
		"message above 64 MiB":      {func(c *streams.Config) { c.MaxMsgSize = 65 << 20 }, "max msg size"},
		"message below a record":    {func(c *streams.Config) { c.MaxMsgSize = 64 << 10 }, "max msg size"},
		"rejected limit unset":      {func(c *streams.Config) { c.RejectedMaxBytes = 0 }, "rejected max bytes 0"},
		"numbers limit unset":       {func(c *streams.Config) { c.NumbersMaxBytes = 0 }, "numbers max bytes 0"},
	} {
		cfg := streams.DefaultConfig()
		c.change(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Validate() = %v, want it to mention %q", name, err, c.want)
		}
	}
}

// The defaults keep every message within nats-server's default max_payload
// (1 MiB) and reserve the sum the Config documents (34 GiB); the nonce
// window covers ingest's default push max age and clock skew twice over.
func TestDefaultLimits(t *testing.T) {
	cfg := streams.DefaultConfig()
	if cfg.MaxMsgSize > 1<<20 {
		t.Errorf("default max msg size %d is above the default max_payload", cfg.MaxMsgSize)
	}
	var sum int64
	for _, sc := range cfg.StreamConfigs() {
		if sc.MaxBytes <= 0 {
			t.Errorf("%s has no byte limit", sc.Name)
		}
		want := jetstream.DiscardNew
		if sc.Name == streams.Rejected || sc.Name == streams.Dead {
			want = jetstream.DiscardOld
		}
		if sc.Discard != want {
			t.Errorf("%s discards %s, want %s", sc.Name, sc.Discard, want)
		}
		sum += sc.MaxBytes
	}
	if sum != 34<<30 {
		t.Errorf("default limits reserve %d bytes, the doc says 34 GiB", sum)
	}
	if cfg.NonceWindow < 6*time.Hour+2*5*time.Minute {
		t.Errorf("default nonce window %s is below PN_PUSH_MAX_AGE + 2 × PN_PUSH_CLOCK_SKEW's defaults", cfg.NonceWindow)
	}
}
