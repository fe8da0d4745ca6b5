package numbers

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/warehouse"
	"github.com/pnstream/pnstream/internal/warehouse/warehousetest"
)

func insert(t *testing.T, w *warehouse.Warehouse, seq uint64, items ...string) {
	t.Helper()
	var rows []privatenumber.NumberStatus
	for i, item := range items {
		n, err := privatenumber.DecodeNumberStatus([]byte(item))
		if err != nil {
			t.Fatal(err)
		}
		n.StreamSeq = seq + uint64(i)
		rows = append(rows, n)
	}
	if err := w.InsertNumberStatus(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
}

// series returns the pn_number_unusable series as "number status cause",
// sorted, and pn_numbers_unusable.
func series(t *testing.T, reg *prometheus.Registry) ([]string, float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var (
		out   []string
		count = -1.0
	)
	for _, mf := range mfs {
		switch mf.GetName() {
		case "pn_number_unusable":
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if m.GetGauge().GetValue() != 1 {
					t.Errorf("pn_number_unusable %v = %v, want 1", labels, m.GetGauge().GetValue())
				}
				out = append(out, labels["number"]+" "+labels["status"]+" "+labels["cause"])
			}
		case "pn_numbers_unusable":
			count = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	slices.Sort(out)
	return out, count
}

// The series follow the numbers' current states: one per unusable number
// with its codes, gone once the number is usable again (cause 6 counts as
// usable), and kept when a check fails.
func TestWatchExportsUnusableNumbers(t *testing.T) {
	t.Parallel()
	w, _ := warehousetest.Open(t, chServer)
	reg := prometheus.NewRegistry()
	watch := New(DefaultConfig(), w, zap.NewNop(), reg)
	if got, n := series(t, reg); len(got) != 0 || n != 0 {
		t.Fatalf("before a check: %v, count %v", got, n)
	}
	insert(t, w, 1,
		`{"number":"+8617000000001","status":"9","cause":"2"}`,
		`{"number":"+8617000000002","status":"10","cause":"7"}`,
		`{"number":"+8617000000003","status":"5"}`,
		`{"number":"+8617000000004","status":"5","cause":"6"}`,
	)
	if _, err := watch.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []string{"+8617000000001 9 2", "+8617000000002 10 7"}
	if got, n := series(t, reg); !slices.Equal(got, want) || n != 2 {
		t.Errorf("series %v count %v, want %v count 2", got, n, want)
	}

	// A clock step, not a wait for something: the next state is stored in
	// a later second than the first (ingested_at orders the states, and
	// has seconds), as a push after the first one would be.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1010 * time.Millisecond)))
	insert(t, w, 10, `{"number":"+8617000000001","status":"5","cause":"6"}`)
	if _, err := watch.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	want = []string{"+8617000000002 10 7"}
	if got, n := series(t, reg); !slices.Equal(got, want) || n != 1 {
		t.Errorf("after +…001's restriction was lifted: %v count %v, want %v", got, n, want)
	}

	failing := New(DefaultConfig(), failingSource{}, zap.NewNop(), prometheus.NewRegistry())
	failing.unusable = []warehouse.NumberState{{Number: "+1", Status: "9", Cause: "1"}}
	if _, err := failing.Check(t.Context()); err == nil {
		t.Fatal("Check of a failing source: no error")
	}
	if len(failing.unusable) != 1 {
		t.Error("a failed check dropped the last good state")
	}
}

type failingSource struct{}

func (failingSource) NumberStates(context.Context, bool) ([]warehouse.NumberState, error) {
	return nil, errors.New("clickhouse down")
}

func TestConfig(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
	if err := (Config{Interval: -time.Second}).Validate(); err == nil || !strings.Contains(err.Error(), "numbers interval") {
		t.Errorf("negative interval: %v", err)
	}
	w := New(Config{}, failingSource{}, zap.NewNop(), prometheus.NewRegistry())
	if err := w.Run(t.Context()); err != nil {
		t.Errorf("disabled Run = %v", err)
	}
}
