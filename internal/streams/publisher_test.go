package streams_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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

// Concurrent callers' messages are written together, and each caller gets
// its own messages' acks: a new id is stored, the same id again is a
// duplicate of the first message.
func TestConcurrentCallersGetTheirOwnAcks(t *testing.T) {
	nc, js := connect(t)
	ctx := testContext(t)
	if err := streams.Provision(ctx, js, smallConfig()); err != nil {
		t.Fatal(err)
	}
	pub := streams.NewJetStreamPublisher(nc, js)
	const callers = 64
	first := make([]streams.Ack, callers)
	var wg sync.WaitGroup
	for round := range 2 {
		for i := range callers {
			wg.Go(func() {
				ack, err := pub.PublishAck(ctx, streams.Message{Subject: streams.ClaimSubject, MsgID: fmt.Sprint("n", i), Data: []byte{byte(i)}})
				switch {
				case err != nil:
					t.Errorf("round %d caller %d: %v", round, i, err)
				case round == 0 && (ack.Duplicate || ack.Stream != streams.Events):
					t.Errorf("caller %d: first ack %+v, want a new message on %s", i, ack, streams.Events)
				case round == 0:
					first[i] = ack
				case !ack.Duplicate || ack.Sequence != first[i].Sequence:
					t.Errorf("caller %d: second ack %+v, want a duplicate of sequence %d", i, ack, first[i].Sequence)
				}
			})
		}
		wg.Wait()
	}
	seqs := map[uint64]bool{}
	for _, a := range first {
		seqs[a.Sequence] = true
	}
	if len(seqs) != callers {
		t.Errorf("%d distinct sequences for %d messages", len(seqs), callers)
	}
}

// Callers that give up (their context ends while queued, written or
// awaiting acks) leave the publisher usable: the others' messages are all
// stored, and later callers are served.
func TestCallersGivingUpDoNotStallOthers(t *testing.T) {
	nc, js := connect(t)
	ctx := testContext(t)
	if err := streams.Provision(ctx, js, smallConfig()); err != nil {
		t.Fatal(err)
	}
	pub := streams.NewJetStreamPublisher(nc, js)
	var wg sync.WaitGroup
	var stored atomic.Int64
	for i := range 400 {
		wg.Go(func() {
			cctx := ctx
			if i%2 == 1 {
				var cancel context.CancelFunc
				cctx, cancel = context.WithCancel(ctx)
				wg.Go(cancel) // at any point of the publish
				defer cancel()
			}
			err := pub.Publish(cctx, streams.Message{Subject: streams.FeeSubject, MsgID: fmt.Sprint("fee:", i), Data: []byte(`{}`)})
			switch {
			case err == nil:
				stored.Add(1)
			case i%2 == 0:
				t.Errorf("caller %d: %v", i, err)
			case !errors.Is(err, streams.ErrUnavailable):
				t.Errorf("caller %d gave up: %v, want ErrUnavailable", i, err)
			}
		})
	}
	wg.Wait()
	if err := pub.Publish(ctx, streams.Message{Subject: streams.FeeSubject, MsgID: "fee:after", Data: []byte(`{}`)}); err != nil {
		t.Fatalf("after the others: %v", err)
	}
	s, err := js.Stream(ctx, streams.Fees)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Some of those that gave up may have been stored anyway; never fewer
	// than the successes.
	if got := int64(info.State.Msgs); got < stored.Load()+1 {
		t.Errorf("stream holds %d messages, want at least %d", got, stored.Load()+1)
	}
}

// The PubAcks read without encoding/json read as encoding/json reads them,
// and anything else is left to it.
func TestParsePlainAckMatchesJSON(t *testing.T) {
	for _, in := range []string{
		`{"stream":"PN_FEES","seq":1}`,
		`{"stream":"PN_EVENTS","seq":18446744073709551615}`,
		`{"stream":"PN_EVENTS","seq":42,"duplicate":true}`,
		`{"stream":"PN_EVENTS","seq":42,"duplicate":false}`,
		`{"stream":"PN_EVENTS","domain":"hub","seq":42}`,
		`{"stream":"PN_EVENTS","seq":42} `,
		`{"stream":"PN_EVENTS","seq":042}`,
		`{"stream":"PN_EVENTS","seq":18446744073709551616}`,
		`{"stream":"PN_EVENTS","seq":}`,
		`{"stream":"","seq":1}`,
		`{"stream":"a\"b","seq":1}`,
		`{"error":{"code":503,"err_code":10077,"description":"maximum bytes exceeded"},"stream":"PN_FEES","seq":0}`,
		`not json`,
	} {
		got, gotErr := streams.ParseAckForTest([]byte(in))
		want, wantErr := streams.ParseAckJSONForTest([]byte(in))
		if got != want || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Errorf("%s: %+v, %v; encoding/json: %+v, %v", in, got, gotErr, want, wantErr)
		}
	}
}
