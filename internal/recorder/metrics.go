package recorder

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	rows          *prometheus.CounterVec
	batchSize     *prometheus.HistogramVec
	insertSeconds *prometheus.HistogramVec
	insertRetries *prometheus.CounterVec
	deadLetters   *prometheus.CounterVec
	redeliveries  *prometheus.CounterVec
	progressAcks  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pn_recorder_rows_total", Help: "Rows inserted into ClickHouse, by table.",
		}, []string{"table"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pn_recorder_batch_rows", Help: "Rows per successful insert, by table.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}, []string{"table"}),
		insertSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pn_recorder_insert_duration_seconds", Help: "Time of one batch insert attempt, by table.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"table"}),
		insertRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pn_recorder_insert_retries_total", Help: "Insert attempts that failed transiently and were retried, by table.",
		}, []string{"table"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pn_recorder_dead_letters_total", Help: "Messages moved to PN_DEAD, by source table.",
		}, []string{"table"}),
		redeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pn_recorder_redeliveries_total", Help: "Messages received more than once, by table.",
		}, []string{"table"}),
		progressAcks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pn_recorder_progress_acks_total", Help: "Progress acks sent for messages of batches in hand longer than a third of AckWait, by table.",
		}, []string{"table"}),
	}
	reg.MustRegister(m.rows, m.batchSize, m.insertSeconds, m.insertRetries, m.deadLetters, m.redeliveries, m.progressAcks)
	return m
}
