package archive

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Probe checks that S3 answers, every Config.ProbeInterval, and exports the
// result. The mirror alone would show an unreachable S3 only through
// retried jobs, and not at all while no recording is due; the probe shows
// it within one interval, whatever the traffic.
type Probe struct {
	bucket   *Bucket
	interval time.Duration
	timeout  time.Duration
	log      *zap.Logger
	up       prometheus.Gauge
	failures prometheus.Counter
	// state is the last check's result: probeUnknown before the first.
	state atomic.Int32
}

// States of a Probe.
const (
	probeUnknown int32 = iota
	probeUp
	probeDown
)

// NewProbe returns a Probe of bucket that registers its metrics on reg:
// pn_archive_s3_up, pn_archive_s3_probe_failures_total and
// pn_archive_last_upload_timestamp_seconds. It does no I/O.
func NewProbe(cfg Config, bucket *Bucket, log *zap.Logger, reg prometheus.Registerer) *Probe {
	p := &Probe{
		bucket:   bucket,
		interval: cfg.ProbeInterval,
		timeout:  cfg.ProbeTimeout,
		log:      log.Named("s3probe"),
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pn_archive_s3_up",
			Help: "1 when the last check of the archive bucket (a HEAD, every PN_S3_PROBE_INTERVAL) succeeded, else 0.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pn_archive_s3_probe_failures_total",
			Help: "Checks of the archive bucket that failed: S3 unreachable, its certificate refused, credentials refused, or the bucket missing.",
		}),
	}
	lastUpload := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "pn_archive_last_upload_timestamp_seconds",
		Help: "Unix time of this process's last successful recording upload to S3; 0 before the first.",
	}, func() float64 {
		t, ok := bucket.LastPut()
		if !ok {
			return 0
		}
		return float64(t.Unix())
	})
	reg.MustRegister(p.up, p.failures, lastUpload)
	return p
}

// Run checks S3 at once and then every interval until ctx is done. It
// returns nil: a failed check is a metric and a log line, never a reason to
// stop the recorder, whose CDRs do not need S3.
func (p *Probe) Run(ctx context.Context) error {
	ticker := time.NewTicker(p.interval)
	defer ticker.Stop()
	for {
		p.check(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// Up reports whether the last check succeeded; false before the first.
func (p *Probe) Up() bool { return p.state.Load() == probeUp }

func (p *Probe) check(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	err := p.bucket.Check(cctx)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: not S3's fault
	}
	// Log changes only: a check every 30 s would flood the log during an
	// outage, which the metric shows anyway.
	if err != nil {
		p.up.Set(0)
		p.failures.Inc()
		if p.state.Swap(probeDown) != probeDown {
			p.log.Warn("S3 unreachable: recordings are not archived until it answers", zap.Error(err))
		}
		return
	}
	p.up.Set(1)
	if p.state.Swap(probeUp) == probeDown {
		p.log.Info("S3 reachable again")
	}
}
