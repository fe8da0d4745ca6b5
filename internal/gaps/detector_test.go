package gaps

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/internal/warehouse"
	"github.com/pnstream/pnstream/internal/warehouse/warehousetest"
)

func fee(icid string, callIn time.Time, recorded bool) privatenumber.FeeRecord {
	r := privatenumber.FeeRecord{
		ICID: icid, SessionID: "s-" + icid, BindNum: "+8617000000001",
		CallInTime: privatenumber.Time{Time: callIn}, Raw: []byte(`{}`),
	}
	if recorded {
		r.RecordFlag = 1
	}
	return r
}

func disconnect(session string, at time.Time) privatenumber.CallEvent {
	return privatenumber.CallEvent{EventType: "disconnect", SessionID: session, Timestamp: privatenumber.Time{Time: at}, Raw: []byte(`{}`)}
}

// TestDetectorFindsExactlyTheInjectedGaps stores a day of traffic with two
// kinds of injected gaps, each also in a form too young to count, and
// checks that the detector reports exactly the old ones, in its result and
// its gauges.
func TestDetectorFindsExactlyTheInjectedGaps(t *testing.T) {
	t.Parallel()
	w, _ := warehousetest.Open(t, chServer)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	cfg := DefaultConfig() // CDR delay 11h; recordings count from 4 days (7d - 72h)

	fees := []privatenumber.FeeRecord{
		fee("complete", now.Add(-20*time.Hour), false),        // events and CDR: no gap
		fee("archived", now.Add(-5*24*time.Hour), true),       // archived: no gap
		fee("unavailable", now.Add(-5*24*time.Hour), true),    // download failed: gap
		fee("never-mirrored", now.Add(-6*24*time.Hour), true), // no recording row: gap
		fee("young-failure", now.Add(-1*24*time.Hour), true),  // failed, but days left: no gap yet
		fee("retried", now.Add(-5*24*time.Hour), true),        // failed, then archived: no gap
	}
	events := []privatenumber.CallEvent{
		disconnect("s-complete", now.Add(-20*time.Hour)),
		disconnect("dropped-cdr", now.Add(-12*time.Hour)), // the CDR push was dropped: gap
		disconnect("late-cdr", now.Add(-1*time.Hour)),     // its CDR may still come: no gap yet
	}
	recs := []recording.Row{
		{ICID: "archived", SessionID: "s-archived", Status: recording.Archived, MirroredAt: now.Add(-time.Hour)},
		{ICID: "unavailable", SessionID: "s-unavailable", Status: recording.Failed, Error: "404", MirroredAt: now.Add(-time.Hour)},
		{ICID: "young-failure", SessionID: "s-young-failure", Status: recording.Failed, Error: "404", MirroredAt: now.Add(-time.Hour)},
		{ICID: "retried", SessionID: "s-retried", Status: recording.Failed, Error: "timeout", MirroredAt: now.Add(-2 * time.Hour)},
		{ICID: "retried", SessionID: "s-retried", Status: recording.Archived, MirroredAt: now.Add(-time.Hour)},
	}
	if err := w.InsertFees(ctx, fees); err != nil {
		t.Fatal(err)
	}
	if err := w.InsertEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	if err := w.InsertRecordings(ctx, recs); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	d := New(cfg, w, zap.NewNop(), reg)
	found, err := d.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range found {
		got = append(got, g.Kind+" "+g.SessionID+" "+g.ICID)
	}
	want := []string{
		"missing_cdr dropped-cdr ",
		"unarchived_recording s-never-mirrored never-mirrored",
		"unarchived_recording s-unavailable unavailable",
	}
	if !slices.Equal(got, want) {
		t.Errorf("gaps:\n got  %q\n want %q", got, want)
	}
	if g := found[0]; !g.ObservedAt.Equal(now.Add(-12*time.Hour)) || g.Age < 12*time.Hour || g.Age > 12*time.Hour+time.Minute {
		t.Errorf("missing CDR observed at %s, age %s; want %s, about 12h", g.ObservedAt, g.Age, now.Add(-12*time.Hour))
	}
	for kind, n := range map[string]float64{warehouse.GapMissingCDR: 1, warehouse.GapUnarchivedRecording: 2} {
		if v := value(t, d.gaps.WithLabelValues(kind)); v != n {
			t.Errorf("pn_gaps{kind=%q} = %v, want %v", kind, v, n)
		}
	}
	if v := value(t, d.checks.WithLabelValues("ok")); v != 1 {
		t.Errorf("pn_gaps_checks_total{outcome=ok} = %v, want 1", v)
	}
}

// TestRunKeepsCountsWhenCheckFails checks that a failed check counts as
// an error, keeps the last counts and that Run returns when stopped.
func TestRunKeepsCountsWhenCheckFails(t *testing.T) {
	t.Parallel()
	src := &flakySource{gaps: []warehouse.Gap{{Kind: warehouse.GapMissingCDR}}}
	cfg := DefaultConfig()
	cfg.Interval = 10 * time.Millisecond
	reg := prometheus.NewRegistry()
	d := New(cfg, src, zap.NewNop(), reg)
	run := testenv.Go(t, d.Run)
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		v := value(t, d.checks.WithLabelValues("error"))
		return v >= 2, fmt.Sprintf("pn_gaps_checks_total{outcome=error} = %v, want at least 2", v)
	})
	if err := run.StopWithin(t, 5*time.Second); err != nil {
		t.Fatalf("Run = %v, want nil when stopped", err)
	}
	if v := value(t, d.gaps.WithLabelValues(warehouse.GapMissingCDR)); v != 1 {
		t.Errorf("pn_gaps{kind=missing_cdr} = %v after failed checks, want the last good count 1", v)
	}
}

// flakySource answers its gaps once, then fails.
type flakySource struct {
	calls int
	gaps  []warehouse.Gap
}

func (s *flakySource) Gaps(context.Context, warehouse.GapThresholds) ([]warehouse.Gap, error) {
	s.calls++
	if s.calls == 1 {
		return s.gaps, nil
	}
	return nil, context.DeadlineExceeded
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	bad := Config{Interval: -1, CDRDelay: -1, RecordingRetention: time.Hour, RecordingMargin: 2 * time.Hour}
	err := bad.Validate()
	for _, want := range []string{"interval", "CDR delay", "margin"} {
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("Validate(%+v) = %v, want it to name %q", bad, err, want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// value reads a counter's or gauge's current value.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	if c := pb.GetCounter(); c != nil {
		return c.GetValue()
	}
	return pb.GetGauge().GetValue()
}
