package recorder

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/internal/warehouse/warehousetest"
)

// observedStore is the real warehouse seen from the recorder's side: it
// notes every insert of fee records (the icids and the bytes of their
// JSON) before passing it on, and can make the first inserts slow.
type observedStore struct {
	Store
	slow time.Duration // added before each of the first slowInserts inserts
	// slowInserts counts down the inserts still to be slowed.
	slowInserts int

	mu      sync.Mutex
	inserts []insertSeen
}

type insertSeen struct {
	icids []string
	bytes int
}

func (s *observedStore) InsertFees(ctx context.Context, rows []privatenumber.FeeRecord) error {
	seen := insertSeen{icids: make([]string, len(rows))}
	for i, r := range rows {
		seen.icids[i] = r.ICID
		seen.bytes += len(r.Raw)
	}
	s.mu.Lock()
	s.inserts = append(s.inserts, seen)
	slow := s.slowInserts > 0
	s.slowInserts--
	s.mu.Unlock()
	if slow {
		select {
		case <-time.After(s.slow):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.Store.InsertFees(ctx, rows)
}

func (s *observedStore) seen() []insertSeen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]insertSeen(nil), s.inserts...)
}

// storedICIDs counts the rows of each icid in fee_records.
func storedICIDs(t *testing.T, db string) map[string]uint64 {
	t.Helper()
	rows, err := chServer.Open(t, db).Query(context.Background(), "SELECT icid, count() FROM fee_records GROUP BY icid")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var icid string
		var n uint64
		if err := rows.Scan(&icid, &n); err != nil {
			t.Fatal(err)
		}
		out[icid] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// With records of ~25 KiB and a 256 KiB batch limit, a backlog is inserted
// ten records at a time, not all at once as BatchSize and BatchWait would
// allow; a record larger than the limit is inserted alone, not stuck.
func TestBatchesCloseOnBytes(t *testing.T) {
	t.Parallel()
	js := provisionedJetStream(t)
	wh, db := warehousetest.Open(t, chServer)
	const n, size, big = 40, 25 << 10, 300 << 10
	publishFees(t, js, "small-a", n/2, size)
	publishFees(t, js, "big", 1, big)
	publishFees(t, js, "small-b", n/2, size)

	cfg := DefaultConfig()
	cfg.BatchMaxBytes = 256 << 10
	cfg.BatchWait, cfg.AckWait = 2*time.Second, 10*time.Second // the limit must close the batches, not the wait
	store := &observedStore{Store: wh}
	stop := startRecorder(t, cfg, js, store, silentLogger(t))
	waitDrained(t, js, streams.Fees, cfg.ConsumerPrefix+"-fees", time.Minute)
	stop()

	bigAlone := false
	for i, in := range store.seen() {
		switch {
		case len(in.icids) == 1 && in.icids[0] == "big-0":
			bigAlone = true
		case in.bytes > cfg.BatchMaxBytes:
			t.Errorf("insert %d: %d records, %d bytes, over the limit of %d", i, len(in.icids), in.bytes, cfg.BatchMaxBytes)
		case len(in.icids) > cfg.BatchMaxBytes/size:
			t.Errorf("insert %d: %d records, want at most %d", i, len(in.icids), cfg.BatchMaxBytes/size)
		}
	}
	if !bigAlone {
		t.Errorf("the record of %d bytes was not inserted alone: %v", big, store.seen())
	}
	stored := storedICIDs(t, db)
	if len(stored) != n+1 {
		t.Errorf("%d records stored, want %d", len(stored), n+1)
	}
	if stored["big-0"] == 0 {
		t.Error("the record larger than the batch limit was not stored")
	}
}

// An insert that takes longer than AckWait does not get its messages
// redelivered: the recorder sends progress acks while it waits. The store
// is the real warehouse with a delay before the first inserts, the only way
// to make a local ClickHouse slow on demand.
func TestSlowInsertIsNotRedelivered(t *testing.T) {
	js := provisionedJetStream(t)
	wh, db := warehousetest.Open(t, chServer)
	const n = 20
	publishFees(t, js, "slow", n, 1500)

	cfg := DefaultConfig()
	cfg.BatchSize, cfg.BatchWait, cfg.AckWait = 5, 100*time.Millisecond, 2*time.Second
	store := &observedStore{Store: wh, slow: 3 * cfg.AckWait, slowInserts: 2}
	stop := startRecorder(t, cfg, js, store, silentLogger(t))
	waitDrained(t, js, streams.Fees, cfg.ConsumerPrefix+"-fees", time.Minute)
	stop()

	cons, err := js.Consumer(context.Background(), streams.Fees, cfg.ConsumerPrefix+"-fees")
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumRedelivered != 0 {
		t.Errorf("%d messages redelivered during slow inserts", info.NumRedelivered)
	}
	inserted := map[string]int{}
	for _, in := range store.seen() {
		for _, icid := range in.icids {
			inserted[icid]++
		}
	}
	for i := range n {
		if icid := fmt.Sprintf("slow-%d", i); inserted[icid] != 1 {
			t.Errorf("%s inserted %d times, want once", icid, inserted[icid])
		}
	}
	if stored := storedICIDs(t, db); len(stored) != n {
		t.Errorf("%d records stored, want %d", len(stored), n)
	}
}

// A NATS server restart while the recorder waits for messages neither
// stops the recorder (the fetch ends with "server shutdown", which the
// Messages iterator would ride out too) nor leaves it waiting on a lost
// pull request: records published after the restart are stored within
// seconds.
func TestConsumesAcrossNATSRestart(t *testing.T) {
	ns := testenv.NATS(t)
	js := connectJetStream(t, ns.URL())
	provision(t, js)
	wh, db := warehousetest.Open(t, chServer)
	cfg := DefaultConfig()
	cfg.BatchWait = 100 * time.Millisecond
	startRecorder(t, cfg, js, wh, silentLogger(t))
	publishFees(t, js, "before", 5, 1500)
	waitStored(t, db, 5, 30*time.Second)

	ns.Shutdown()
	ns.Restart(t)
	publishFees(t, js, "after", 5, 1500)
	start := time.Now()
	waitStored(t, db, 10, 30*time.Second)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("records published after the restart stored after %s, want a few seconds", took)
	}
}

// waitStored waits until fee_records holds n distinct icids.
func waitStored(t *testing.T, db string, n int, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, func() (bool, string) {
		got := len(storedICIDs(t, db))
		return got >= n, fmt.Sprintf("%d records stored, want %d", got, n)
	})
}
