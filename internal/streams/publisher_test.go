package streams_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

// A group far larger than the JetStream context's limit of pending async
// publishes (4,000), such as the recording jobs of a full recorder batch,
// is stored in one Publish, every message once.
func TestPublishGroupLargerThanThePendingLimit(t *testing.T) {
	ns := testenv.NATS(t)
	cc := streams.DefaultConnConfig()
	cc.URL = ns.URL()
	nc, js, err := streams.Connect(cc, "publisher-test", zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := streams.Provision(ctx, js, smallConfig()); err != nil {
		t.Fatal(err)
	}
	const n = 12_000
	msgs := make([]streams.Message, n)
	for i := range msgs {
		msgs[i] = streams.Message{Subject: streams.RecordingSubject, MsgID: fmt.Sprintf("rec:%d", i), Data: []byte(`{}`)}
	}
	pub := streams.NewJetStreamPublisher(nc, js)
	if err := pub.Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, msgs[:10]...); err != nil { // duplicates count as stored
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, streams.Recordings)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != n {
		t.Errorf("stream holds %d messages, want %d", info.State.Msgs, n)
	}
}
