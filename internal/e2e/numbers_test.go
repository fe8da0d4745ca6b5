package e2e

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/numbers"
	"github.com/pnstream/pnstream/internal/platformsim"
	"github.com/pnstream/pnstream/internal/testenv"
)

// unusableSeries returns the pn_number_unusable series of reg as
// "number status cause".
func unusableSeries(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != "pn_number_unusable" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			out = append(out, l["number"]+" "+l["status"]+" "+l["cause"])
		}
	}
	return out
}

// TestNumberFaultReachesTheGauge: the simulator's number fault makes an X
// unusable (cause 2, arrears); its numStatus push goes to the call-status
// URL as the platform sends it without a separate URL, through ingest,
// PN_NUMBERS and the recorder into pn.number_status, and the X-number
// watch exports it as pn_number_unusable; calls through the X fail with
// 8055 meanwhile. Clearing the fault pushes the X usable again and the
// series goes.
func TestNumberFaultReachesTheGauge(t *testing.T) {
	t.Parallel()
	p := start(t, nil)
	cfg := platformsim.DefaultConfig()
	cfg.AppKey, cfg.AppSecret = appKey, appSecret
	cfg.PublicURL = "http://127.0.0.1:1" // recordings are not fetched here
	cfg.EventsURL, cfg.FeesURL = p.ingest.URL+ingest.PathEvents, p.ingest.URL+ingest.PathFees
	cfg.CallRate, cfg.Bindings, cfg.Seed, cfg.TimeScale = 50, 6, 7, 0.001
	cfg.FeeBatchWait = 100 * time.Millisecond
	x := cfg.VirtualNumbers[0]
	cfg.Faults = `{"numbers":[{"number":"` + x + `","cause":"2","for":"10m"}]}`
	sim, err := platformsim.New(cfg, platformsim.Deps{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Go(t, sim.Run)
	ctx := t.Context()

	reg := prometheus.NewRegistry()
	watch := numbers.New(numbers.DefaultConfig(), p.wh, zaptest.NewLogger(t), reg)
	p.waitCount("SELECT count() FROM number_status_current WHERE usable = 0", 1, 20*time.Second)
	if _, err := watch.Check(ctx); err != nil {
		t.Fatal(err)
	}
	want := x + " " + platformsim.StatusUnusable + " 2"
	if got := unusableSeries(t, reg); len(got) != 1 || got[0] != want {
		t.Fatalf("pn_number_unusable %v, want [%s]", got, want)
	}
	p.waitCount("SELECT toUInt64(count() > 0) FROM fee_records FINAL WHERE ul_fail_reason = 8055 AND bind_num = '"+x+"'", 1, 20*time.Second)
	if n := p.count("SELECT count() FROM fee_records FINAL WHERE ul_fail_reason = 8055 AND bind_num != '" + x + "'"); n != 0 {
		t.Errorf("%d calls through usable numbers failed with 8055", n)
	}

	sim.Faults().Clear()
	p.waitCount("SELECT count() FROM number_status_current WHERE usable = 1 AND number = '"+x+"'", 1, 20*time.Second)
	if _, err := watch.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if got := unusableSeries(t, reg); len(got) != 0 {
		t.Errorf("pn_number_unusable %v after the number came back, want none", got)
	}
	if n := p.count("SELECT count() FROM number_status FINAL WHERE number = '" + x + "'"); n != 2 {
		t.Errorf("%s has %d states stored, want 2 (unusable, usable)", x, n)
	}
}
