package ingest_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"syscall"
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
		{"event/signed", 0, true},
		{"event/auth-off", 0, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := benchEnv(b, bc.auth)
			signer := &aksk.Signer{AppKey: appKey, AppSecret: appSecret}
			var n atomic.Int64
			run := time.Now().UnixNano()
			b.SetParallelism(16) // many platform connections at once
			// Kept alive, as the platform's connections are.
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			cpu0 := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := fmt.Sprintf("bench-%d-%d", run, n.Add(1))
					body, path := feeBody(bc.records, id), ingest.PathFees
					if bc.records == 0 {
						body, path = eventBody(id), ingest.PathEvents
					}
					req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
					if bc.auth {
						signer.Sign(req.Header)
					}
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("push: %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
			// The whole process: client, ingest and the embedded server.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/push")
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

// eventBody is a single-event push (a disconnect) of the call session.
func eventBody(session string) []byte {
	return fmt.Appendf(nil, `{"eventType":"disconnect","statusInfo":{"sessionId":"%s","timestamp":"2019-01-24 07:03:28",`+
		`"caller":"+86138****0022","called":"+86138****7021","stateCode":0,"stateDesc":"The user releases the call.","subscriptionId":"********"}}`, session)
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchEnv is newEnv with push auth on or off.
func benchEnv(b *testing.B, auth bool) *env {
	b.Helper()
	if auth {
		return newEnv(b, func(c *ingest.Config) { c.MaxBodyBytes = 1 << 20 })
	}
	return newEnv(b, func(c *ingest.Config) { c.MaxBodyBytes, c.AppSecret, c.Auth = 1<<20, "", ingest.AuthOff })
}
