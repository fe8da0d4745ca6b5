package recorder

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

// provisionedJetStream returns JetStream on a NATS server of the test's
// own, with pnstream's streams.
func provisionedJetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	js := connectJetStream(t, testenv.NATS(t).URL())
	provision(t, js)
	return js
}

// connectJetStream connects to the NATS server at url until the test ends.
func connectJetStream(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	cc := streams.DefaultConnConfig()
	cc.URL = url
	nc, js, err := streams.Connect(cc, t.Name(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return js
}

// provision creates pnstream's streams. The default byte limits (10 GiB a
// data stream) do not fit the test server's 1 GiB of file store.
func provision(t testing.TB, js jetstream.JetStream) {
	t.Helper()
	sc := streams.DefaultConfig()
	sc.MaxBytes, sc.RejectedMaxBytes, sc.DeadMaxBytes, sc.NonceMaxBytes = 256<<20, 64<<20, 64<<20, 16<<20
	sc.NumbersMaxBytes = 16 << 20
	if err := streams.Provision(context.Background(), js, sc); err != nil {
		t.Fatal(err)
	}
}

// downStore fails every insert as an unreachable ClickHouse does.
type downStore struct{ inserts atomic.Int64 }

var errDown = errors.New("dial tcp: connection refused")

func (s *downStore) InsertFees(context.Context, []privatenumber.FeeRecord) error {
	s.inserts.Add(1)
	return errDown
}

func (s *downStore) InsertEvents(context.Context, []privatenumber.CallEvent) error {
	s.inserts.Add(1)
	return errDown
}

// Stopped while ClickHouse is down with several batches in hand (one being
// inserted, others collected behind it), the recorder hands them all back
// within one ShutdownTimeout, not one per batch: a SIGTERM must end within
// the pod's grace period.
func TestShutdownDuringOutageTakesOneShutdownTimeout(t *testing.T) {
	js := provisionedJetStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 200 {
		body := fmt.Sprintf(`{"icid":"down-%d","sessionId":"s","callInTime":"2024-01-01 00:00:00"}`, i)
		if _, err := js.Publish(ctx, streams.FeeSubject, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	store := &downStore{}
	cfg := DefaultConfig()
	cfg.BatchSize, cfg.BatchWait, cfg.AckWait = 20, 50*time.Millisecond, 5*time.Second
	cfg.RetryInitial, cfg.RetryMax, cfg.ShutdownTimeout = 50*time.Millisecond, 100*time.Millisecond, 2*time.Second
	rec := New(cfg, Deps{
		JetStream: js, Store: store,
		Logger: zaptest.NewLogger(t), Registry: prometheus.NewRegistry(),
	})
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	// Batches pile up behind the one being retried.
	fees, err := js.Consumer(ctx, streams.Fees, cfg.ConsumerPrefix+"-fees")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if err == nil {
			info, ierr := fees.Info(ctx)
			if ierr == nil && info.NumAckPending >= 2*cfg.BatchSize && store.inserts.Load() > 3 {
				break
			}
		} else {
			fees, err = js.Consumer(ctx, streams.Fees, cfg.ConsumerPrefix+"-fees")
		}
		if time.Now().After(deadline) {
			t.Fatal("no batches in hand after 10 s")
		}
	}
	t0 := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(t0); took > cfg.ShutdownTimeout+time.Second {
		t.Errorf("shutdown took %s, want at most ShutdownTimeout (%s) and a little", took, cfg.ShutdownTimeout)
	}
}
