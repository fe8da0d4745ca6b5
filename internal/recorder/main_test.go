package recorder

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// chServer is the ClickHouse server of the tests that store for real, each
// in a database of its own.
var chServer *testenv.ClickHouseServer

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(m.Run()) // drainBacklog's recorder process: the servers are its parent's
	}
	testenv.Main(m, testenv.Servers{ClickHouse: &chServer})
}

// startRecorder runs a Recorder on js and store, with the default PII
// policy (phone numbers masked, as in production), until stop is called or
// the test ends.
func startRecorder(t testing.TB, cfg Config, js jetstream.JetStream, store Store, log *zap.Logger) (stop func()) {
	t.Helper()
	policy, err := pii.DefaultConfig().Policy()
	if err != nil {
		t.Fatal(err)
	}
	return runRecorder(t, cfg, Deps{
		JetStream: js, Store: store, PII: policy,
		BadRows: warehouse.BadRows,
		Logger:  log, Registry: prometheus.NewRegistry(),
	})
}

// runRecorder runs a Recorder of cfg and deps until stop is called or the
// test ends.
func runRecorder(t testing.TB, cfg Config, deps Deps) (stop func()) {
	t.Helper()
	run := testenv.Go(t, New(cfg, deps).Run)
	return sync.OnceFunc(func() {
		if err := run.Stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// feeBody is a fee record shaped like the seed's CDR, with icid id, padded
// with an undocumented field (stored as sent, in raw) to about size bytes.
func feeBody(id string, size int) []byte {
	const shape = `{"direction":0,"spId":"sp_pnstream","appKey":"Zp3yQ0vM4kE7uR9tW2xB6nC1dF8gH5jL",` +
		`"icid":%q,"bindNum":"+8613800000022",` +
		`"sessionId":"1201_11275_4294967295_20190124033310@callenabler246.huaweicaas.com",` +
		`"subscriptionId":"2d0a2c6a-4b4e-4f36-9f0e-7d2c9f1c4b11","callerNum":"+8613800007021",` +
		`"calleeNum":"+8613800000022","fwdDisplayNum":"+8613800000022","fwdDstNum":"+8613800000021",` +
		`"callInTime":"2024-01-24 03:33:10","fwdStartTime":"2024-01-24 03:33:16",` +
		`"fwdAlertingTime":"2024-01-24 03:33:19","fwdAnswerTime":"2024-01-24 03:33:28",` +
		`"callEndTime":"2024-01-24 03:33:57","fwdUnaswRsn":0,"ulFailReason":0,"sipStatusCode":0,` +
		`"callOutUnaswRsn":0,"recordFlag":0,"ttsPlayTimes":0,"ttsTransDuration":0,` +
		`"mptyId":"a8f3b2c1d4e5f6a7b8c9d0e1f2a3b4c5","serviceType":"005",` +
		`"hostName":"callenabler246.huaweicaas.com","extendNumber":"02","padding":"%s"}`
	body := fmt.Sprintf(shape, id, "")
	if pad := size - len(body); pad > 0 {
		body = fmt.Sprintf(shape, id, strings.Repeat("x", pad))
	}
	return []byte(body)
}

// publishFees publishes n fee records of about size bytes, icids
// <prefix>-<i>, waiting for every PubAck.
func publishFees(t testing.TB, js jetstream.JetStream, prefix string, n, size int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const window = 256 // PubAcks in flight
	acks := make([]jetstream.PubAckFuture, 0, window)
	wait := func() {
		for _, a := range acks {
			select {
			case <-a.Ok():
			case err := <-a.Err():
				t.Fatalf("publish: %v", err)
			case <-ctx.Done():
				t.Fatal("publish: no PubAck")
			}
		}
		acks = acks[:0]
	}
	for i := range n {
		a, err := js.PublishAsync(streams.FeeSubject, feeBody(fmt.Sprintf("%s-%d", prefix, i), size))
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		if acks = append(acks, a); len(acks) == window {
			wait()
		}
	}
	wait()
}

// waitDrained waits until the durable consumer of table name has no
// message pending or unacknowledged.
func waitDrained(t testing.TB, js jetstream.JetStream, stream, durable string, timeout time.Duration) {
	t.Helper()
	ctx := context.Background()
	testenv.Eventually(t, timeout, func() (bool, string) {
		c, err := js.Consumer(ctx, stream, durable)
		if err != nil {
			return false, fmt.Sprintf("consumer %s: %v", durable, err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			return false, fmt.Sprintf("consumer %s: %v", durable, err)
		}
		// The ack floor against the stream's last message too: right after
		// a publish the consumer's pending count may not include it yet.
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return false, fmt.Sprintf("stream %s: %v", stream, err)
		}
		last := s.CachedInfo().State.LastSeq
		return info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream > 0 && info.AckFloor.Stream >= last,
			fmt.Sprintf("consumer %s: %d pending, %d unacked, delivered up to %d, acked up to %d of %d", durable,
				info.NumPending, info.NumAckPending, info.Delivered.Stream, info.AckFloor.Stream, last)
	})
}

// silentLogger logs warnings and errors only: debug lines per batch would
// cost more than the work measured.
func silentLogger(t testing.TB) *zap.Logger {
	return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
}
