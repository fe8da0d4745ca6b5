package streams_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

// smallConfig is the default configuration with small byte limits: a
// test's streams hold little, and a test can fill one on purpose.
func smallConfig() streams.Config {
	cfg := streams.DefaultConfig()
	cfg.MaxBytes = 64 << 20
	cfg.RejectedMaxBytes = 16 << 20
	cfg.DeadMaxBytes = 16 << 20
	cfg.NumbersMaxBytes = 16 << 20
	return cfg
}

// connect starts an embedded server for t and connects to it.
func connect(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	ns := testenv.NATS(t)
	cc := streams.DefaultConnConfig()
	cc.URL = ns.URL()
	nc, js, err := streams.Connect(cc, "streams-test", zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc, js
}

// testContext is a context ending with the test, at the latest after a
// minute.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
