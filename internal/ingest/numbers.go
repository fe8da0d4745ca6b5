package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
)

// numberMessages splits an X-number status push into one PN_NUMBERS
// message per numInfo item, each the item's JSON as received, with the
// item's identity (NumberStatus.MsgID: the state and the push's nonce, or
// no id without push auth).
func numberMessages(ns []privatenumber.NumberStatus, nonce string) []streams.Message {
	msgs := make([]streams.Message, len(ns))
	for i := range ns {
		msgs[i] = streams.Message{Subject: streams.NumberSubject, MsgID: ns[i].MsgID(nonce), Data: ns[i].Raw}
	}
	return msgs
}

// newAnomalies is pn_ingest_field_anomalies_total: fields stored as sent
// but not as documented (privatenumber.Anomaly). Its labels are bounded:
// field is a documented field's name, kind one of the Anomaly* kinds.
func newAnomalies() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pn_ingest_field_anomalies_total",
		Help: "Fields stored as sent but not as documented, by field and kind (missing, type, range, format, unknown).",
	}, []string{"field", "kind"})
}

// countNumbers counts the stored numInfo items and their anomalies.
func (m *metrics) countNumbers(ns []privatenumber.NumberStatus) {
	m.records.WithLabelValues(privatenumber.EventTypeNumStatus).Add(float64(len(ns)))
	for i := range ns {
		for _, a := range ns[i].Anomalies {
			m.anomalies.WithLabelValues(a.Field, a.Kind).Inc()
		}
	}
}
