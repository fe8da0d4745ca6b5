package streams

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Message is one JetStream message of a push.
type Message struct {
	Subject string
	MsgID   string // Nats-Msg-Id: the record's identity
	Data    []byte
	Header  nats.Header
}

// ErrUnavailable is returned when JetStream cannot take messages now.
var ErrUnavailable = errors.New("jetstream unavailable")

// JetStreamPublisher publishes a group of messages at once and waits for
// every PubAck, so a group costs one round trip, not one per message.
type JetStreamPublisher struct {
	nc *nats.Conn
	js jetstream.JetStream
}

// NewJetStreamPublisher returns a publisher on js, whose connection is nc.
func NewJetStreamPublisher(nc *nats.Conn, js jetstream.JetStream) *JetStreamPublisher {
	return &JetStreamPublisher{nc: nc, js: js}
}

// Publish stores msgs and returns nil only when every one was stored; a
// duplicate counts as stored. Errors match ErrUnavailable.
func (p *JetStreamPublisher) Publish(ctx context.Context, msgs ...Message) error {
	// Fail fast while disconnected rather than filling the reconnect buffer
	// and waiting out the timeout: the platform will retry.
	if !p.nc.IsConnected() {
		return fmt.Errorf("%w: nats connection %s", ErrUnavailable, p.nc.Status())
	}
	futures := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		f, err := p.js.PublishMsgAsync(&nats.Msg{Subject: m.Subject, Data: m.Data, Header: m.Header}, jetstream.WithMsgID(m.MsgID))
		if err != nil {
			return fmt.Errorf("publish %s: %w: %w", m.MsgID, ErrUnavailable, err)
		}
		futures[i] = f
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publish %s: %w: %w", msgs[i].MsgID, ErrUnavailable, err)
		case <-ctx.Done():
			return fmt.Errorf("publish %s: %w: %w", msgs[i].MsgID, ErrUnavailable, context.Cause(ctx))
		}
	}
	return nil
}
