package ingest

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

type metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	publishSeconds prometheus.Histogram
	records        *prometheus.CounterVec
	rejected       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pn_ingest_requests_total",
			Help: "Push requests by path and HTTP status.",
		}, []string{"path", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pn_ingest_request_duration_seconds",
			Help:    "Time from request to answer, by path.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"path"}),
		publishSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pn_ingest_publish_duration_seconds",
			Help:    "Time for JetStream to acknowledge every message of a push.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pn_ingest_records_total",
			Help: "Records stored in JetStream, by type (fee or the call event type).",
		}, []string{"type"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pn_ingest_rejected_total",
			Help: "Bodies kept in PN_REJECTED, by reason class.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.requests, m.duration, m.publishSeconds, m.records, m.rejected)
	return m
}

func (m *metrics) observeRequest(path string, status int, d time.Duration) {
	m.requests.WithLabelValues(path, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(path).Observe(d.Seconds())
}

func (m *metrics) countRecords(p *privatenumber.Push) {
	if p.Event != nil {
		m.records.WithLabelValues(p.Event.EventType).Inc()
		return
	}
	m.records.WithLabelValues(privatenumber.EventTypeFee).Add(float64(len(p.Fees)))
}
