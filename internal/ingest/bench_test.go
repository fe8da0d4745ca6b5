package ingest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/ingest"
)

// BenchmarkPush measures pushes through ingest on the embedded JetStream,
// 32 at a time: signed (token, nonce claim in PN_NONCES, publish) against
// the same with push auth off (publish only); and the refusal of an
// unsigned 1 MiB body, one at a time.
//
//	go test -run '^$' -bench Push -benchtime 2000x ./internal/ingest/
func BenchmarkPush(b *testing.B) {
	for _, bc := range []struct {
		name    string
		records int
		auth    bool
	}{
		{"fee-1/signed", 1, true},
		{"fee-1/auth-off", 1, false},
		{"fee-50/signed", 50, true},
		{"fee-50/auth-off", 50, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := benchEnv(b, bc.auth)
			signer := &aksk.Signer{AppKey: appKey, AppSecret: appSecret}
			var n atomic.Int64
			run := time.Now().UnixNano()
			b.SetParallelism(16) // many platform connections at once
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					body := feeBody(bc.records, fmt.Sprintf("bench-%d-%d", run, n.Add(1)))
					req, _ := http.NewRequest(http.MethodPost, e.srv.URL+ingest.PathFees, bytes.NewReader(body))
					if bc.auth {
						signer.Sign(req.Header)
					}
					resp, err := e.srv.Client().Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("push: %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
		})
	}
	b.Run("unsigned-1MiB", func(b *testing.B) {
		e := benchEnv(b, true)
		body := bytes.Repeat([]byte("u"), 1<<20)
		b.SetBytes(int64(len(body)))
		b.ResetTimer()
		for range b.N {
			resp, err := e.srv.Client().Post(e.srv.URL+ingest.PathFees, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				b.Fatalf("unsigned: %d", resp.StatusCode)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refusals/s")
	})
}

// benchEnv is newEnv with push auth on or off.
func benchEnv(b *testing.B, auth bool) *env {
	b.Helper()
	if auth {
		return newEnv(b, func(c *ingest.Config) { c.MaxBodyBytes = 1 << 20 })
	}
	return newEnv(b, func(c *ingest.Config) { c.MaxBodyBytes, c.AppSecret, c.Auth = 1<<20, "", ingest.AuthOff })
}
