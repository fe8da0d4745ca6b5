package recorder

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/retry"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

var errBadRow = errors.New("bad row")

// rejectingStore stores every fee record except those whose icid starts with
// "bad", failing the whole batch permanently as ClickHouse does. The real
// ClickHouse edge cannot be made to fail this way today, because the
// decoder refuses such records first; this guards the recorder's decision.
type rejectingStore struct {
	mu      sync.Mutex
	stored  map[string]int
	inserts int
}

func (s *rejectingStore) InsertFees(_ context.Context, rows []privatenumber.FeeRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inserts++
	var bad []int
	for i, r := range rows {
		if strings.HasPrefix(r.ICID, "bad") {
			bad = append(bad, i)
		}
	}
	if len(bad) > 0 {
		return &badRowsError{rows: bad}
	}
	for _, r := range rows {
		s.stored[r.ICID]++
	}
	return nil
}

func (s *rejectingStore) InsertEvents(context.Context, []privatenumber.CallEvent) error { return nil }

type badRowsError struct{ rows []int }

func (e *badRowsError) Error() string { return fmt.Sprintf("bad rows %v", e.rows) }
func (e *badRowsError) Unwrap() error { return errBadRow }

// Is makes the error permanent, as the warehouse's row errors are.
func (e *badRowsError) Is(target error) bool { return target == retry.ErrPermanent }

func TestPermanentInsertErrorDeadLettersOnlyTheBadRows(t *testing.T) {
	t.Parallel()
	for _, named := range []bool{false, true} {
		t.Run(fmt.Sprintf("store names rows=%v", named), func(t *testing.T) {
			t.Parallel()
			js := provisionedJetStream(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			const n = 64
			for i := range n {
				icid := fmt.Sprintf("good-%d", i)
				if i == 5 || i == 40 {
					icid = fmt.Sprintf("bad-%d", i)
				}
				body := fmt.Sprintf(`{"icid":%q,"sessionId":"s","callInTime":"2024-01-01 00:00:00"}`, icid)
				if _, err := js.Publish(ctx, streams.FeeSubject, []byte(body)); err != nil {
					t.Fatal(err)
				}
			}
			store := &rejectingStore{stored: map[string]int{}}
			deps := Deps{
				JetStream: js, Store: store,
				Logger: zaptest.NewLogger(t), Registry: prometheus.NewRegistry(),
			}
			if named {
				deps.BadRows = func(err error) []int {
					var e *badRowsError
					if errors.As(err, &e) {
						return e.rows
					}
					return nil
				}
			}
			cfg := DefaultConfig()
			cfg.BatchWait = 200 * time.Millisecond
			cfg.AckWait = 5 * time.Second
			run := testenv.Go(t, New(cfg, deps).Run)

			dead, err := js.Stream(ctx, streams.Dead)
			if err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 10*time.Second, func() (bool, string) {
				info, err := dead.Info(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return info.State.Msgs == 2, fmt.Sprintf("PN_DEAD holds %d, want 2", info.State.Msgs)
			})
			if err := run.Stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			store.mu.Lock()
			defer store.mu.Unlock()
			if len(store.stored) != n-2 {
				t.Errorf("stored %d distinct records, want %d", len(store.stored), n-2)
			}
			for icid, c := range store.stored {
				if c != 1 || strings.HasPrefix(icid, "bad") {
					t.Errorf("%s stored %d times", icid, c)
				}
			}
			if named && store.inserts != 2 {
				t.Errorf("%d inserts with named rows, want 2 (one failing, one of the rest)", store.inserts)
			}
			msgs := lastDead(t, js)
			if !strings.Contains(msgs, "bad-5") || !strings.Contains(msgs, "bad-40") {
				t.Errorf("dead letters %s", msgs)
			}
		})
	}
}

func lastDead(t *testing.T, js jetstream.JetStream) string {
	t.Helper()
	s, err := js.Stream(context.Background(), streams.Dead)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(m.Data)+" "+m.Header.Get(streams.HeaderReason))
	}
	return strings.Join(out, "\n")
}
