package bench

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/testenv"
)

// TestPurgeForgetsTheDuplicateWindowAndKeepsConsumers checks what purge
// is for: the next measurement starts from an empty stream that has
// forgotten the last one's message ids (a JetStream purge keeps them),
// with the stream's configuration and consumers as they were.
func TestPurgeForgetsTheDuplicateWindowAndKeepsConsumers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js := testenv.JetStream(t, testenv.NATS(t).URL())
	cfg := jetstream.StreamConfig{Name: "PURGED", Subjects: []string{"purged.>"}, Duplicates: time.Hour, MaxMsgs: 1000, Storage: jetstream.FileStorage}
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	consumer := jetstream.ConsumerConfig{Durable: "reader", FilterSubject: "purged.a", AckPolicy: jetstream.AckExplicitPolicy, AckWait: time.Minute}
	if _, err := js.CreateConsumer(ctx, "PURGED", consumer); err != nil {
		t.Fatal(err)
	}
	publish := func() *jetstream.PubAck {
		t.Helper()
		ack, err := js.Publish(ctx, "purged.a", []byte("x"), jetstream.WithMsgID("same-id"))
		if err != nil {
			t.Fatal(err)
		}
		return ack
	}
	publish()
	if !publish().Duplicate {
		t.Fatal("the stream does not deduplicate: the test proves nothing")
	}

	if err := purge(ctx, js, "PURGED"); err != nil {
		t.Fatal(err)
	}
	if ack := publish(); ack.Duplicate || ack.Sequence != 1 {
		t.Errorf("after purge: %+v, want the first message of an empty stream", ack)
	}
	s, err := js.Stream(ctx, "PURGED")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Duplicates != cfg.Duplicates || info.Config.MaxMsgs != cfg.MaxMsgs || info.State.Msgs != 1 {
		t.Errorf("after purge: duplicates %s, max msgs %d, %d msgs; want %s, %d, 1",
			info.Config.Duplicates, info.Config.MaxMsgs, info.State.Msgs, cfg.Duplicates, cfg.MaxMsgs)
	}
	c, err := s.Consumer(ctx, "reader")
	if err != nil {
		t.Fatalf("consumer after purge: %v", err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ci.Config.FilterSubject != consumer.FilterSubject || ci.Config.AckWait != consumer.AckWait || ci.NumPending != 1 {
		t.Errorf("consumer after purge: filter %q, ack wait %s, %d pending; want %q, %s, 1",
			ci.Config.FilterSubject, ci.Config.AckWait, ci.NumPending, consumer.FilterSubject, consumer.AckWait)
	}
}
