package numbers

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/warehouse"
)

// Source lists the current states of the X numbers (warehouse.Warehouse).
type Source interface {
	NumberStates(ctx context.Context, unusableOnly bool) ([]warehouse.NumberState, error)
}

var _ Source = (*warehouse.Warehouse)(nil)

// Watch reads the unusable X numbers on an interval and exports them.
type Watch struct {
	cfg    Config
	source Source
	log    *zap.Logger
	checks *prometheus.CounterVec

	mu       sync.Mutex
	unusable []warehouse.NumberState // of the last successful check
}

var (
	unusableDesc = prometheus.NewDesc("pn_number_unusable",
		"1 for each X number whose current state is not usable, with its status and cause codes as the platform sent them (cause: 1 deleted, 2 arrears, 3 suspended, 5 calls restricted, 7/8/9 forwarding enabled; see the runbook).",
		[]string{"number", "status", "cause"}, nil)
	countDesc = prometheus.NewDesc("pn_numbers_unusable",
		"X numbers whose current state is not usable, as of the last successful check.", nil, nil)
)

// New returns a Watch whose metrics are registered on reg. cfg must be
// valid. Until the first check succeeds no number is reported unusable.
func New(cfg Config, source Source, log *zap.Logger, reg prometheus.Registerer) *Watch {
	w := &Watch{
		cfg:    cfg,
		source: source,
		log:    log,
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pn_numbers_checks_total", Help: "Reads of the X numbers' states, by outcome (ok, error).",
		}, []string{"outcome"}),
	}
	w.checks.WithLabelValues("ok")
	w.checks.WithLabelValues("error")
	reg.MustRegister(w.checks, (*collector)(w))
	return w
}

// Check reads the unusable numbers now and exports them; on an error the
// series keep the last good state.
func (w *Watch) Check(ctx context.Context) ([]warehouse.NumberState, error) {
	found, err := w.source.NumberStates(ctx, true)
	if err != nil {
		w.checks.WithLabelValues("error").Inc()
		return nil, err
	}
	w.checks.WithLabelValues("ok").Inc()
	w.mu.Lock()
	w.unusable = found
	w.mu.Unlock()
	return found, nil
}

// Run checks every Interval until ctx is done; a failed check is logged.
// It returns nil at once when the watch is disabled (Interval 0).
func (w *Watch) Run(ctx context.Context) error {
	if w.cfg.Interval == 0 {
		return nil
	}
	t := time.NewTicker(w.cfg.Interval)
	defer t.Stop()
	var last map[string]string // number → "status/cause" of the previous check
	for {
		if found, err := w.Check(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			w.log.Warn("X-number state check failed; retrying next interval", zap.Error(err))
		} else {
			last = w.logChanges(last, found)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// logChanges logs the numbers that became unusable, or changed cause,
// since the previous check, and returns the new state to compare with.
func (w *Watch) logChanges(prev map[string]string, found []warehouse.NumberState) map[string]string {
	next := make(map[string]string, len(found))
	for _, s := range found {
		state := s.Status + "/" + s.Cause
		next[s.Number] = state
		if prev[s.Number] != state {
			w.log.Warn("X number not usable", zap.String("number", s.Number), zap.String("status", s.Status),
				zap.String("cause", s.Cause), zap.Time("since", s.Since))
		}
	}
	return next
}

// collector exports the last successful check: a collector rather than a
// GaugeVec, so that a number that became usable again disappears at once
// and a scrape never sees a half-updated set.
type collector Watch

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- unusableDesc
	ch <- countDesc
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.unusable {
		ch <- prometheus.MustNewConstMetric(unusableDesc, prometheus.GaugeValue, 1, s.Number, s.Status, s.Cause)
	}
	ch <- prometheus.MustNewConstMetric(countDesc, prometheus.GaugeValue, float64(len(c.unusable)))
}
