package ingest

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// Refusal reasons, the label of pn_ingest_refused_total. The 401 answer is
// the same for every auth_* reason; only the metric and PN_REJECTED tell
// them apart.
const (
	reasonAuthMissing    = "auth_missing"
	reasonAuthMalformed  = "auth_malformed"
	reasonAuthUnknownKey = "auth_unknown_key"
	reasonAuthDigest     = "auth_digest"
	reasonAuthExpired    = "auth_expired"
	reasonAuthWSSEOff    = "auth_wsse_off"
	reasonNonceReused    = "nonce_reused"
	reasonTooLarge       = "too_large"
	reasonRecordTooLarge = "record_too_large"
	reasonInvalid        = "invalid"
)

type metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	publishSeconds prometheus.Histogram
	records        *prometheus.CounterVec
	anomalies      *prometheus.CounterVec
	rejected       *prometheus.CounterVec
	refused        *prometheus.CounterVec
	nonceSeconds   prometheus.Histogram
	nonceErrors    prometheus.Counter
	// byType is records' series of every type label, resolved once: a
	// label lookup hashes its values on every call.
	byType map[string]prometheus.Counter
}

// pathMetrics are a push path's series of a stored push, resolved once.
type pathMetrics struct {
	ok       prometheus.Counter
	duration prometheus.Observer
}

func (m *metrics) forPath(path string) pathMetrics {
	return pathMetrics{ok: m.requests.WithLabelValues(path, "200"), duration: m.duration.WithLabelValues(path)}
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
			Help: "Records stored in JetStream, by type (fee, numStatus, a documented call event type, or other for an undocumented one).",
		}, []string{"type"}),
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pn_ingest_field_anomalies_total",
			Help: "Values stored as sent but not as documented, by documented field and kind (missing, type, range, format, unknown): " +
				"once per anomaly of every record stored in JetStream, so a re-pushed record counts again.",
		}, []string{"field", "kind"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pn_ingest_rejected_total",
			Help: "Bodies kept in PN_REJECTED, by reason class (the subject's last token).",
		}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pn_ingest_refused_total",
			Help: "Pushes or records refused, by precise reason (auth_missing, auth_malformed, auth_unknown_key, auth_digest, auth_expired, auth_wsse_off, nonce_reused, too_large, record_too_large, invalid).",
		}, []string{"reason"}),
		nonceSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pn_ingest_nonce_claim_duration_seconds",
			Help:    "Time to check and record a push nonce in the shared store.",
			Buckets: []float64{.0002, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
		}),
		nonceErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pn_ingest_nonce_claim_errors_total",
			Help: "Nonce claims that failed because the store could not answer (the push got 503).",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.publishSeconds, m.records, m.anomalies, m.rejected, m.refused, m.nonceSeconds, m.nonceErrors)
	for _, r := range []string{reasonAuthMissing, reasonAuthMalformed, reasonAuthUnknownKey, reasonAuthDigest, reasonAuthExpired,
		reasonAuthWSSEOff, reasonNonceReused, reasonTooLarge, reasonRecordTooLarge, reasonInvalid} {
		m.refused.WithLabelValues(r) // every series from the start, so rate() sees the first one
	}
	m.byType = map[string]prometheus.Counter{}
	for _, t := range append([]string{privatenumber.EventTypeFee, privatenumber.EventTypeNumStatus, otherEventType}, privatenumber.EventTypes...) {
		m.byType[t] = m.records.WithLabelValues(t)
	}
	return m
}

func (m *metrics) observeRequest(pm pathMetrics, path string, status int, d time.Duration) {
	if status == 200 {
		pm.ok.Inc()
	} else {
		m.requests.WithLabelValues(path, strconv.Itoa(status)).Inc()
	}
	pm.duration.Observe(d.Seconds())
}

// countRecords counts the records of a push stored in JetStream, and
// their anomalies. Label values are bounded: an anomaly names a documented
// field, and an undocumented event type counts as "other".
func (m *metrics) countRecords(p *privatenumber.Push) {
	if p.EventType == privatenumber.EventTypeNumStatus {
		m.countNumbers(p.Numbers)
		return
	}
	if p.Event != nil {
		c, ok := m.byType[p.Event.EventType]
		if !ok || p.Event.EventType == privatenumber.EventTypeFee || p.Event.EventType == privatenumber.EventTypeNumStatus {
			c = m.byType[otherEventType]
		}
		c.Inc()
		m.countAnomalies(p.Event.Anomalies)
		return
	}
	m.byType[privatenumber.EventTypeFee].Add(float64(len(p.Fees)))
	for i := range p.Fees {
		m.countAnomalies(p.Fees[i].Anomalies)
	}
}

// otherEventType is the type label of a stored event of an undocumented
// type (which its anomaly eventType:unknown also counts).
const otherEventType = "other"

func (m *metrics) countAnomalies(as []privatenumber.Anomaly) {
	for _, a := range as {
		m.anomalies.WithLabelValues(a.Field, a.Kind).Inc()
	}
}
