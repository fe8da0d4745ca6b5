package bench

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are kept in HDR histograms of microseconds: memory does not
// grow with the requests of a run, workers' histograms merge, and a
// quantile is within 0.1% of the exact one (3 significant digits).
const (
	latencyMin    = 1                                   // µs
	latencyMax    = int64(time.Hour / time.Microsecond) // longer ones count as an hour
	latencyDigits = 3
)

func newLatencies() *hdrhistogram.Histogram {
	return hdrhistogram.New(latencyMin, latencyMax, latencyDigits)
}

// recordLatency adds d to h, clamped to the histogram's range.
func recordLatency(h *hdrhistogram.Histogram, d time.Duration) {
	// In range, RecordValue cannot fail.
	_ = h.RecordValue(min(max(d.Microseconds(), latencyMin), latencyMax))
}

// quantileMS returns the q-quantile (0 < q ≤ 1) of h in milliseconds, or 0
// when h is empty.
func quantileMS(h *hdrhistogram.Histogram, q float64) float64 {
	if h == nil || h.TotalCount() == 0 {
		return 0
	}
	// ValueAtQuantile takes a percentile, 0 to 100.
	return float64(h.ValueAtQuantile(q*100)) / 1000
}
