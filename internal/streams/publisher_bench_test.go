package streams_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

// BenchmarkPublishConcurrent measures what ingest's single-event pushes
// ask of the publisher: 32 callers at once, each storing one message and
// waiting for its PubAck. "coalesced" is JetStreamPublisher (the callers'
// messages written together); "per-caller" is what it did before, each
// caller's PublishMsgAsync flushed on its own. cpu-µs/msg is the whole
// process: the embedded server included.
//
//	go test -run '^$' -bench PublishConcurrent -benchtime 20000x ./internal/streams
func BenchmarkPublishConcurrent(b *testing.B) {
	data := []byte(`{"eventType":"disconnect","statusInfo":{"sessionId":"1202_1051_4294967295_20190124070250@callenabler246.huaweicaas.com","timestamp":"2019-01-24 07:03:28"}}`)
	for _, bc := range []struct {
		name    string
		publish func(nc *nats.Conn, js jetstream.JetStream) func(ctx context.Context, m streams.Message) error
	}{
		{"coalesced", func(nc *nats.Conn, js jetstream.JetStream) func(ctx context.Context, m streams.Message) error {
			p := streams.NewJetStreamPublisher(nc, js)
			return func(ctx context.Context, m streams.Message) error { return p.Publish(ctx, m) }
		}},
		{"per-caller", func(_ *nats.Conn, js jetstream.JetStream) func(ctx context.Context, m streams.Message) error {
			return func(ctx context.Context, m streams.Message) error {
				f, err := js.PublishMsgAsync(&nats.Msg{Subject: m.Subject, Data: m.Data}, jetstream.WithMsgID(m.MsgID))
				if err != nil {
					return err
				}
				select {
				case <-f.Ok():
					return nil
				case err := <-f.Err():
					return err
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ns := testenv.NATS(b)
			cc := streams.DefaultConnConfig()
			cc.URL = ns.URL()
			nc, js, err := streams.Connect(cc, "publisher-bench", zaptest.NewLogger(b))
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if err := streams.Provision(ctx, js, smallConfig()); err != nil {
				b.Fatal(err)
			}
			publish := bc.publish(nc, js)
			var seq atomic.Int64
			b.SetParallelism(16)
			cpu0 := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m := streams.Message{Subject: streams.EventSubject("disconnect"), MsgID: fmt.Sprint("event:", seq.Add(1)), Data: data}
					if err := publish(ctx, m); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
		})
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
