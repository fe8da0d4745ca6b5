package gaps

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/warehouse"
)

// Source lists the gaps of the warehouse (warehouse.Warehouse).
type Source interface {
	Gaps(ctx context.Context, th warehouse.GapThresholds) ([]warehouse.Gap, error)
}

var _ Source = (*warehouse.Warehouse)(nil)

// Detector checks for gaps on an interval and exports their counts.
type Detector struct {
	cfg    Config
	source Source
	log    *zap.Logger
	gaps   *prometheus.GaugeVec
	checks *prometheus.CounterVec
}

// New returns a Detector whose metrics are registered on reg. cfg must be
// valid.
func New(cfg Config, source Source, log *zap.Logger, reg prometheus.Registerer) *Detector {
	d := &Detector{
		cfg:    cfg,
		source: source,
		log:    log,
		gaps: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pn_gaps", Help: "Gaps found by the last successful check, by kind.",
		}, []string{"kind"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pn_gaps_checks_total", Help: "Gap checks, by outcome (ok, error).",
		}, []string{"outcome"}),
	}
	// Every kind is exported from the start, at 0, so that an alert on
	// pn_gaps > 0 has a series to evaluate and absent() means no detector.
	for _, k := range warehouse.GapKinds {
		d.gaps.WithLabelValues(k)
	}
	reg.MustRegister(d.gaps, d.checks)
	return d
}

// Check lists the gaps now and sets the gauges to their counts.
func (d *Detector) Check(ctx context.Context) ([]warehouse.Gap, error) {
	found, err := d.source.Gaps(ctx, d.cfg.Thresholds())
	if err != nil {
		d.checks.WithLabelValues("error").Inc()
		return nil, err
	}
	d.checks.WithLabelValues("ok").Inc()
	counts := Count(found)
	for _, k := range warehouse.GapKinds {
		d.gaps.WithLabelValues(k).Set(float64(counts[k]))
	}
	return found, nil
}

// Run checks every Interval until ctx is done; a failed check is logged
// and the gauges keep the last good counts. It returns nil at once when
// the detector is disabled (Interval 0).
func (d *Detector) Run(ctx context.Context) error {
	if d.cfg.Interval == 0 {
		return nil
	}
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		if found, err := d.Check(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d.log.Warn("gap check failed; retrying next interval", zap.Error(err))
		} else if len(found) > 0 {
			d.log.Warn("gaps found", zap.Any("counts", Count(found)))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Count returns the number of gaps of each kind.
func Count(gaps []warehouse.Gap) map[string]int {
	counts := make(map[string]int, len(warehouse.GapKinds))
	for _, g := range gaps {
		counts[g.Kind]++
	}
	return counts
}
