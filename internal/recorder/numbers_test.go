package recorder

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/warehouse/warehousetest"
)

// publishNumber publishes one numInfo item as ingest does, with the id of
// a push of the given nonce.
func publishNumber(t *testing.T, js jetstream.JetStream, item, nonce string) {
	t.Helper()
	n, err := privatenumber.DecodeNumberStatus([]byte(item))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), streams.NumberSubject, []byte(item), jetstream.WithMsgID(n.MsgID(nonce))); err != nil {
		t.Fatal(err)
	}
}

// numberRows counts number_status' rows (FINAL: as readers see them).
func numberRows(t *testing.T, db string) uint64 {
	t.Helper()
	var n uint64
	if err := chServer.Open(t, db).QueryRow(context.Background(), "SELECT count() FROM number_status FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The third pipeline stores PN_NUMBERS in number_status: a re-push adds no
// row (with the original headers JetStream drops it, with fresh ones the
// table collapses it), a change adds one and becomes the current state, a
// message that is not a numInfo item is dead-lettered.
func TestNumberStatusPipeline(t *testing.T) {
	t.Parallel()
	js := provisionedJetStream(t)
	wh, db := warehousetest.Open(t, chServer)
	cfg := DefaultConfig()
	cfg.BatchWait = 100 * time.Millisecond
	startRecorder(t, cfg, js, wh, silentLogger(t))
	durable := cfg.ConsumerPrefix + "-numbers"
	const (
		x1Unusable = `{"number":"+8617000000001","status":"9","cause":"3"}`
		x1Usable   = `{"number":"+8617000000001","status":"5"}`
		x2Unusable = `{"number":"+8617000000002","status":"9","cause":"2"}`
	)
	publishNumber(t, js, x1Unusable, "nonce1")
	publishNumber(t, js, x2Unusable, "nonce1")
	publishNumber(t, js, x1Unusable, "nonce1") // original headers
	publishNumber(t, js, x1Unusable, "nonce2") // fresh headers
	waitDrained(t, js, streams.Numbers, durable, time.Minute)
	if n := numberRows(t, db); n != 2 {
		t.Errorf("after two states and two re-pushes: %d rows, want 2", n)
	}
	states, err := wh.NumberStates(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || states[0].Number != "+8617000000001" || states[0].Cause != "3" || states[1].Cause != "2" {
		t.Fatalf("unusable numbers %+v", states)
	}

	publishNumber(t, js, x1Usable, "nonce3")
	if _, err := js.Publish(context.Background(), streams.NumberSubject, []byte(`{"status":"5"}`)); err != nil {
		t.Fatal(err)
	}
	waitDrained(t, js, streams.Numbers, durable, time.Minute)
	if n := numberRows(t, db); n != 3 {
		t.Errorf("after a change: %d rows, want 3", n)
	}
	states, err = wh.NumberStates(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 1 || states[0].Number != "+8617000000002" {
		t.Errorf("unusable numbers after +…001 became usable: %+v", states)
	}
	dead, err := js.Stream(context.Background(), streams.Dead)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dead.GetLastMsgForSubject(context.Background(), streams.DeadPrefix+"numbers")
	if err != nil || string(m.Data) != `{"status":"5"}` {
		t.Errorf("dead letter of the item without number: %v %v", m, err)
	}
}
