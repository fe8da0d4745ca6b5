package warehouse

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// benchFees returns n realistic, distinct fee records, shaped like the
// platform's sample CDR (about 900 bytes of JSON each), with icids and
// times derived from seed so that different seeds do not collide. Their Raw
// is the JSON they were decoded from, as in production.
func benchFees(n, seed int) []privatenumber.FeeRecord {
	base := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(seed) * time.Hour)
	recs := make([]privatenumber.FeeRecord, n)
	for i := range recs {
		in := base.Add(time.Duration(i) * 7 * time.Second)
		at := func(d int) string { return in.Add(time.Duration(d) * time.Second).Format(time.DateTime) }
		body := map[string]any{
			"direction":        i % 2,
			"spId":             "sp_pnstream_bench",
			"appKey":           "Zp3yQ0vM4kE7uR9tW2xB6nC1dF8gH5jL",
			"icid":             fmt.Sprintf("ba171f34e6953fcd751edc77127748f4.%010d.%09d.%d", seed, i, i%10),
			"bindNum":          fmt.Sprintf("+86170%08d", i%5000),
			"sessionId":        fmt.Sprintf("1201_%d_4294967295_%s@callenabler246.huaweicaas.com", i, in.Format("20060102150405")),
			"subscriptionId":   fmt.Sprintf("sub-%08d-%04d", i%20000, seed),
			"callerNum":        fmt.Sprintf("+86138%08d", i),
			"calleeNum":        fmt.Sprintf("+86170%08d", i%5000),
			"fwdDisplayNum":    fmt.Sprintf("+86170%08d", i%5000),
			"fwdDstNum":        fmt.Sprintf("+86139%08d", i%20000),
			"callInTime":       at(0),
			"fwdStartTime":     at(6),
			"fwdAlertingTime":  at(9),
			"fwdAnswerTime":    at(18),
			"callEndTime":      at(18 + i%600),
			"fwdUnaswRsn":      0,
			"ulFailReason":     0,
			"sipStatusCode":    0,
			"callOutUnaswRsn":  0,
			"recordFlag":       1,
			"recordStartTime":  at(18),
			"recordDomain":     "sp-zp3yq0vm4ke7ur9tw2xb6nc1df8gh5jl.obs.cn-north-1.myhuaweicloud.com",
			"recordBucketName": "sp-zp3yq0vm4ke7ur9tw2xb6nc1df8gh5jl",
			"recordObjectName": fmt.Sprintf("1201_%d_4294967295_%s_record.wav", i, in.Format("20060102150405")),
			"ttsPlayTimes":     0,
			"ttsTransDuration": 0,
			"mptyId":           fmt.Sprintf("sub-%08d-%04d", i%20000, seed),
			"serviceType":      "005",
			"hostName":         "callenabler246.huaweicaas.com",
			"extendNumber":     fmt.Sprintf("%02d", i%100),
		}
		raw, err := json.Marshal(body)
		if err != nil {
			panic(err) // a map of strings and ints always marshals
		}
		r, err := privatenumber.DecodeFeeRecord(raw)
		if err != nil {
			panic(fmt.Sprintf("benchFees builds an invalid record: %v", err))
		}
		recs[i] = r
	}
	return recs
}

// BenchmarkInsertFees measures one InsertFees of a whole batch, the way the
// recorder flushes, and reports rows/s. Each iteration inserts new icids.
//
//	go test -run '^$' -bench InsertFees -benchtime 10x ./internal/warehouse/
func BenchmarkInsertFees(b *testing.B) {
	for _, size := range []int{1_000, 10_000, 20_000} {
		b.Run(fmt.Sprintf("rows=%d", size), func(b *testing.B) {
			w := migrated(b)
			ctx := testContext(b)
			batches := make([][]privatenumber.FeeRecord, 0, 8)
			for i := range cap(batches) {
				batches = append(batches, benchFees(size, i*100))
			}
			start := time.Now()
			var rows int
			for i := 0; b.Loop(); i++ {
				if err := w.InsertFees(ctx, batches[i%len(batches)]); err != nil {
					b.Fatal(err)
				}
				rows += size
			}
			b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
		})
	}
}
