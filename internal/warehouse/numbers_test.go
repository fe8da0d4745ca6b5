package warehouse

import (
	"reflect"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/retry"
)

func numberState(t *testing.T, item string, seq uint64) privatenumber.NumberStatus {
	t.Helper()
	n, err := privatenumber.DecodeNumberStatus([]byte(item))
	if err != nil {
		t.Fatal(err)
	}
	n.StreamSeq = seq
	return n
}

// numberRows counts number_status' rows as readers see them (FINAL).
func numberRows(t *testing.T, w *Warehouse) uint64 {
	t.Helper()
	var n uint64
	if err := w.conn.QueryRow(testContext(t), "SELECT count() FROM "+w.table("number_status")+" FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitNextSecond returns once time.Now is in a later second than t:
// ingested_at has a resolution of a second. The sleep is the scenario, a
// step of the clock between two pushes, not a wait for the server.
func waitNextSecond(t time.Time) {
	time.Sleep(time.Until(t.Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
}

func TestNumberStatusHistoryAndCurrent(t *testing.T) {
	w := migrated(t)
	ctx := testContext(t)
	const (
		x1Unusable = `{"number":"+8617000000001","status":"9","cause":"2"}`
		x1Usable   = `{"number":"+8617000000001","status":"5"}`
		x2Unusable = `{"number":"+8617000000002","status":10,"cause":"7"}`
	)
	insert := func(items ...privatenumber.NumberStatus) time.Time {
		t.Helper()
		if err := w.InsertNumberStatus(ctx, items); err != nil {
			t.Fatal(err)
		}
		return time.Now()
	}
	t0 := insert(numberState(t, x1Unusable, 1), numberState(t, x2Unusable, 2))
	if n := numberRows(t, w); n != 2 {
		t.Fatalf("%d rows, want 2", n)
	}
	// A re-push (fresh headers: a new message) adds no row.
	waitNextSecond(t0)
	insert(numberState(t, x1Unusable, 3))
	if n := numberRows(t, w); n != 2 {
		t.Errorf("after a re-push: %d rows, want still 2", n)
	}
	states, err := w.NumberStates(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []NumberState{
		{Number: "+8617000000001", Status: "9", Cause: "2", Anomalies: []string{}},
		{Number: "+8617000000002", Status: "10", Cause: "7", Anomalies: []string{"numInfo.status:type"}},
	}
	if !equalStates(states, want) {
		t.Fatalf("unusable numbers\n got %+v\nwant %+v", states, want)
	}
	unusableSince := states[0].Since

	// A change adds a row and becomes current.
	waitNextSecond(time.Now())
	insert(numberState(t, x1Usable, 4))
	if n := numberRows(t, w); n != 3 {
		t.Errorf("after a change: %d rows, want 3", n)
	}
	all, err := w.NumberStates(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || !all[0].Usable || all[0].Status != "5" || all[0].Cause != "" || all[1].Usable {
		t.Fatalf("current states %+v, want +…001 usable and +…002 not", all)
	}
	if unusable, _ := w.NumberStates(ctx, true); len(unusable) != 1 || unusable[0].Number != "+8617000000002" {
		t.Errorf("unusable numbers %+v, want +8617000000002 only", unusable)
	}

	// A flap back to the earlier state refreshes its row: still 3 rows,
	// the state current again, since later.
	waitNextSecond(time.Now())
	insert(numberState(t, x1Unusable, 5))
	if n := numberRows(t, w); n != 3 {
		t.Errorf("after a flap back: %d rows, want 3", n)
	}
	states, err = w.NumberStates(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || states[0].Cause != "2" || !states[0].Since.After(unusableSince) {
		t.Errorf("after a flap back: %+v, want +…001 unusable again since after %s", states, unusableSince)
	}

	// Two states of one number in one batch (one second): the later in
	// the stream wins.
	insert(numberState(t, x1Usable, 7), numberState(t, x1Unusable, 6))
	if all, _ := w.NumberStates(ctx, false); len(all) != 2 || !all[0].Usable {
		t.Errorf("after one batch of two states: %+v, want +…001 usable (the higher stream_seq)", all)
	}
}

// equalStates compares states without their times.
func equalStates(got, want []NumberState) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g := got[i]
		if g.Since.IsZero() || time.Since(g.Since) > time.Minute {
			return false
		}
		g.Since = time.Time{}
		if !reflect.DeepEqual(g, want[i]) {
			return false
		}
	}
	return true
}

func TestInsertNumberStatusRejectsRowWithoutNumber(t *testing.T) {
	w := migrated(t)
	err := w.InsertNumberStatus(testContext(t), []privatenumber.NumberStatus{{Number: "+1", Status: "5"}, {Status: "5"}})
	if !retry.IsPermanent(err) || !reflect.DeepEqual(BadRows(err), []int{1}) {
		t.Fatalf("err = %v (bad rows %v), want a permanent error naming row 1", err, BadRows(err))
	}
	if n := numberRows(t, w); n != 0 {
		t.Errorf("%d rows stored, want none", n)
	}
}
