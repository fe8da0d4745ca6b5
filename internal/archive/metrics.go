package archive

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	jobs     *prometheus.CounterVec
	bytes    prometheus.Counter
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pn_archive_jobs_total",
			Help: "Recording jobs handled, by outcome: archived, retried, paused (flow control), failed.",
		}, []string{"outcome"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pn_archive_bytes_total",
			Help: "Bytes of recordings archived (including ones found already stored).",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pn_archive_attempt_duration_seconds",
			Help:    "Time of one mirror attempt, by outcome.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 9),
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.jobs, m.bytes, m.duration)
	return m
}

func (m *metrics) observe(outcome string, d time.Duration, bytes uint64) {
	m.jobs.WithLabelValues(outcome).Inc()
	m.duration.WithLabelValues(outcome).Observe(d.Seconds())
	m.bytes.Add(float64(bytes))
}
