package pii

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// BenchmarkFees measures the policy's cost (Fee) per CDR of ~1 KB of JSON, to
// weigh against the recorder's insert rate (tens of thousands per second).
func BenchmarkFees(b *testing.B) {
	recs := make([]privatenumber.FeeRecord, 1000)
	for i := range recs {
		r := privatenumber.FeeRecord{ICID: fmt.Sprintf("icid-%d", i), BindNum: "+8617000000001",
			CallerNum: fmt.Sprintf("+86139%08d", i), CalleeNum: "+8617000000001", FwdDstNum: fmt.Sprintf("+86150%08d", i),
			SessionID: fmt.Sprintf("86139%08d_+86150%08d_4_627e5c1f_963036_669_1_0", i, i), HostName: "callenabler246.huaweicaas.com"}
		r.Raw, _ = json.Marshal(r)
		recs[i] = r
	}
	for _, mode := range []string{ModeMasked, ModeHMAC} {
		p, err := New(mode, testKey)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				for i := range recs {
					p.Fee(recs[i])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
		})
	}
}
