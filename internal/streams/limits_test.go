package streams_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/streams"
)

// tinyConfig has streams that fill after a few 100 KiB messages.
func tinyConfig() streams.Config {
	cfg := smallConfig()
	cfg.MaxMsgSize = 128 << 10
	cfg.MaxBytes = 512 << 10
	cfg.RejectedMaxBytes = 512 << 10
	cfg.DeadMaxBytes = 512 << 10
	return cfg
}

// A full data stream refuses the next message with an error the publisher
// returns (ingest answers 503 on it) and keeps every message it had.
func TestFullDataStreamRefusesAndKeepsWhatItHas(t *testing.T) {
	nc, js := connect(t)
	ctx := testContext(t)
	cfg := tinyConfig()
	if err := streams.Provision(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	pub := streams.NewJetStreamPublisher(nc, js)
	body := bytes.Repeat([]byte("x"), 100<<10)
	stored := 0
	var pubErr error
	for i := range 10 { // 1 MB into a 512 KiB stream
		pubErr = pub.Publish(ctx, streams.Message{Subject: streams.FeeSubject, MsgID: fmt.Sprintf("fee:%d", i), Data: body})
		if pubErr != nil {
			break
		}
		stored++
	}
	if pubErr == nil {
		t.Fatal("every publish into a full stream succeeded")
	}
	if !errors.Is(pubErr, streams.ErrUnavailable) || !errors.Is(pubErr, streams.ErrStreamFull) {
		t.Errorf("publish into a full stream: %v, want ErrUnavailable and ErrStreamFull", pubErr)
	}
	if stored < 4 {
		t.Errorf("only %d messages of 100 KiB stored before the 512 KiB stream was full", stored)
	}
	info := streamInfo(t, js, streams.Fees)
	if info.State.Msgs != uint64(stored) || info.State.FirstSeq != 1 {
		t.Errorf("full stream holds %d messages from seq %d, want the %d stored from 1", info.State.Msgs, info.State.FirstSeq, stored)
	}
	// A re-push of a stored message is still answered as stored.
	if err := pub.Publish(ctx, streams.Message{Subject: streams.FeeSubject, MsgID: "fee:0", Data: body}); err != nil {
		t.Errorf("duplicate into a full stream: %v", err)
	}
	// Small messages are refused too: nothing slips in once full.
	if err := pub.Publish(ctx, streams.Message{Subject: streams.FeeSubject, MsgID: "fee:small", Data: bytes.Repeat([]byte("y"), 60<<10)}); !errors.Is(err, streams.ErrStreamFull) {
		t.Errorf("60 KiB into a full stream: %v, want ErrStreamFull", err)
	}
}

// A full PN_REJECTED (and PN_DEAD) drops its oldest to keep the newest.
func TestFullRejectedDropsItsOldest(t *testing.T) {
	_, js := connect(t)
	ctx := testContext(t)
	if err := streams.Provision(ctx, js, tinyConfig()); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("r"), 100<<10)
	for _, subject := range []string{streams.RejectedPrefix + "auth", streams.DeadPrefix + "fees"} {
		const n = 20 // 2 MB into 512 KiB
		for i := range n {
			m := nats.NewMsg(subject)
			m.Data = body
			m.Header.Set(streams.HeaderReason, fmt.Sprint(i))
			if _, err := js.PublishMsg(ctx, m); err != nil {
				t.Fatalf("%s: publish %d: %v", subject, i, err)
			}
		}
		name := streams.Rejected
		if subject != streams.RejectedPrefix+"auth" {
			name = streams.Dead
		}
		info := streamInfo(t, js, name)
		if info.State.LastSeq != n || info.State.Msgs >= n || info.State.Bytes > 512<<10 {
			t.Errorf("%s: last seq %d, %d messages, %d bytes: want the newest kept within 512 KiB", name, info.State.LastSeq, info.State.Msgs, info.State.Bytes)
		}
		if info.State.FirstSeq == 1 {
			t.Errorf("%s: the oldest message is still there", name)
		}
	}
}

func streamInfo(t *testing.T, js jetstream.JetStream, name string) *jetstream.StreamInfo {
	t.Helper()
	s, err := js.Stream(testContext(t), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	return info
}
