package streams_test

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/streams"
)

// BenchmarkPublishDurability measures what ingest's acknowledged publish
// costs with nats-server's default sync_interval (2 min: an ack means the
// message is written to the server's file store, in the OS page cache,
// and fsync'ed within 2 min) and with sync_interval: always (fsync before
// every ack). Pushes are published the way ingest does: every message of
// a push at once, then a wait for all the acks. docs/RELIABILITY.md holds
// the figures of this machine:
//
//	go test -run '^$' -bench PublishDurability -benchtime 3s ./internal/streams
func BenchmarkPublishDurability(b *testing.B) {
	record := bytes.Repeat([]byte("x"), 1500) // a fee record is about 1.5 KB
	for _, sync := range []struct {
		name   string
		always bool
	}{{"sync=default", false}, {"sync=always", true}} {
		b.Run(sync.name, func(b *testing.B) {
			pub := durabilityServer(b, sync.always)
			var seq atomic.Int64
			push := func(n int) error {
				msgs := make([]streams.Message, n)
				for i := range msgs {
					msgs[i] = streams.Message{Subject: streams.FeeSubject, MsgID: fmt.Sprint("bench:", seq.Add(1)), Data: record}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				return pub.Publish(ctx, msgs...)
			}
			for _, size := range []int{1, 50} {
				b.Run(fmt.Sprintf("push=%d/serial", size), func(b *testing.B) {
					for b.Loop() {
						if err := push(size); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "msgs/s")
				})
			}
			b.Run("push=1/64-concurrent", func(b *testing.B) {
				b.SetParallelism(32) // × GOMAXPROCS (2 here): 64 pushes in flight
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := push(1); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		})
	}
}

// durabilityServer starts an embedded JetStream server with file storage
// and the given sync setting, provisions the streams and returns a
// publisher on it.
func durabilityServer(b *testing.B, syncAlways bool) *streams.JetStreamPublisher {
	b.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: b.TempDir(), SyncAlways: syncAlways,
	})
	if err != nil {
		b.Fatal(err)
	}
	srv.Start()
	b.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		b.Fatal("nats server not ready")
	}
	cc := streams.DefaultConnConfig()
	cc.URL = srv.ClientURL()
	nc, js, err := streams.Connect(cc, "durability-bench", zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	// The default byte limits: the server's store is 75% of the free disk.
	cfg := streams.DefaultConfig()
	cfg.DuplicateWindow = time.Minute
	if err := streams.Provision(context.Background(), js, cfg); err != nil {
		b.Fatal(err)
	}
	return streams.NewJetStreamPublisher(nc, js)
}
