package recorder

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	sc.MaxBytes, sc.RejectedMaxBytes, sc.DeadMaxBytes = 256<<20, 64<<20, 64<<20
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
	run := testenv.Go(t, rec.Run)
	// Batches pile up behind the one being retried.
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		fees, err := js.Consumer(ctx, streams.Fees, cfg.ConsumerPrefix+"-fees")
		if err != nil {
			return false, fmt.Sprintf("no consumer: %v", err)
		}
		info, err := fees.Info(ctx)
		if err != nil {
			return false, fmt.Sprintf("consumer info: %v", err)
		}
		inserts := store.inserts.Load()
		return info.NumAckPending >= 2*cfg.BatchSize && inserts > 3,
			fmt.Sprintf("%d records in hand, %d inserts tried", info.NumAckPending, inserts)
	})
	t0 := time.Now()
	if err := run.StopWithin(t, time.Minute); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(t0); took > cfg.ShutdownTimeout+time.Second {
		t.Errorf("shutdown took %s, want at most ShutdownTimeout (%s) and a little", took, cfg.ShutdownTimeout)
	}
}

// memStore keeps the icids of the fee records inserted.
type memStore struct {
	mu    sync.Mutex
	icids map[string]int
}

func (s *memStore) InsertFees(_ context.Context, rows []privatenumber.FeeRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rows {
		s.icids[r.ICID]++
	}
	return nil
}

func (s *memStore) InsertEvents(context.Context, []privatenumber.CallEvent) error { return nil }

func (s *memStore) stored() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.icids)
}

// A recorder stopped while records keep arriving leaves none of them to
// AckWait: every message the server handed it is inserted and acked before
// Run returns (none is dropped with a pull cut short), and the rest wait
// in the stream for the next recorder. AckWait is a minute, so a message
// left unacknowledged would still be pending when the test looks.
func TestStopLeavesNothingForAckWait(t *testing.T) {
	js := provisionedJetStream(t)
	cfg := DefaultConfig()
	// One message a fetch: every one goes through the wait for the first
	// message of a batch, where a stop finds the recorder most of the time.
	cfg.BatchSize, cfg.BatchWait, cfg.AckWait = 1, 100*time.Millisecond, time.Minute
	store := &memStore{icids: map[string]int{}}
	rec := New(cfg, Deps{
		JetStream: js, Store: store,
		Logger: silentLogger(t), Registry: prometheus.NewRegistry(),
	})
	var published atomic.Int64
	publishOne := func(ctx context.Context) error {
		body := fmt.Sprintf(`{"icid":"stop-%d","sessionId":"s","callInTime":"2024-01-01 00:00:00"}`, published.Load())
		if _, err := js.Publish(ctx, streams.FeeSubject, []byte(body)); err != nil {
			return err
		}
		published.Add(1)
		return nil
	}
	// A backlog published before the recorder starts, then a steady flow
	// through every stop.
	for range 100 {
		if err := publishOne(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	publisher := testenv.Go(t, func(ctx context.Context) error {
		for ctx.Err() == nil {
			if err := publishOne(ctx); err != nil && ctx.Err() == nil {
				return err
			}
		}
		return nil
	})
	for round := range 5 {
		running := testenv.Go(t, rec.Run)
		from := store.stored()
		testenv.Eventually(t, 10*time.Second, func() (bool, string) {
			n := store.stored() - from
			return n >= 50, fmt.Sprintf("round %d: %d rows stored", round, n)
		})
		if err := running.Stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		fees, err := js.Consumer(context.Background(), streams.Fees, cfg.ConsumerPrefix+"-fees")
		if err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 5*time.Second, func() (bool, string) {
			info, err := fees.Info(context.Background())
			if err != nil {
				return false, err.Error()
			}
			return info.NumAckPending == 0, fmt.Sprintf("round %d: %d messages unacknowledged after Run returned", round, info.NumAckPending)
		})
	}
	if err := publisher.Stop(); err != nil {
		t.Fatal(err)
	}
	// Nothing was lost either: every message in the stream (a publish cut
	// short by the publisher's stop may have been stored too) is stored or
	// waits for the next recorder.
	stream, err := js.Stream(context.Background(), streams.Fees)
	if err != nil {
		t.Fatal(err)
	}
	sinfo, err := stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fees, err := js.Consumer(context.Background(), streams.Fees, cfg.ConsumerPrefix+"-fees")
	if err != nil {
		t.Fatal(err)
	}
	info, err := fees.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := uint64(store.stored()) + info.NumPending + uint64(info.NumAckPending); got != sinfo.State.Msgs {
		t.Errorf("stored %d + pending %d + unacknowledged %d = %d, want the %d in the stream", store.stored(), info.NumPending, info.NumAckPending, got, sinfo.State.Msgs)
	}
}
