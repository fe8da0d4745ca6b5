package streams

import (
	"context"
	"errors"
	"fmt"
	"strings"

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

// publishWindow bounds the messages of one Publish awaiting their PubAck.
// A JetStream context takes at most 4,000 pending async publishes by
// default, and PublishMsgAsync fails beyond that after a 200 ms stall: a
// group larger than that (the recording jobs of a 20,000-record batch)
// would fail whenever JetStream is a little slow, and be retried whole.
const publishWindow = 1000

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
		if i >= publishWindow {
			if err := waitAck(ctx, futures[i-publishWindow], msgs[i-publishWindow].MsgID); err != nil {
				return err
			}
		}
		f, err := p.js.PublishMsgAsync(&nats.Msg{Subject: m.Subject, Data: m.Data, Header: m.Header}, jetstream.WithMsgID(m.MsgID))
		if err != nil {
			return fmt.Errorf("publish %s: %w: %w", m.MsgID, ErrUnavailable, classify(err))
		}
		futures[i] = f
	}
	for i := max(0, len(msgs)-publishWindow); i < len(msgs); i++ {
		if err := waitAck(ctx, futures[i], msgs[i].MsgID); err != nil {
			return err
		}
	}
	return nil
}

// waitAck waits for the PubAck of the message with id msgID.
func waitAck(ctx context.Context, f jetstream.PubAckFuture, msgID string) error {
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return fmt.Errorf("publish %s: %w: %w", msgID, ErrUnavailable, classify(err))
	case <-ctx.Done():
		return fmt.Errorf("publish %s: %w: %w", msgID, ErrUnavailable, context.Cause(ctx))
	}
}

// ErrStreamFull matches a publish refused because the stream reached its
// byte (or message) limit: the recorder is behind or down. It comes with
// ErrUnavailable.
var ErrStreamFull = errors.New("stream full")

// jsStreamStoreFailed is the server's error code of a message the stream
// could not store, limits reached among the causes.
const jsStreamStoreFailed = 10077

// classify adds ErrStreamFull to err when the server refused the message
// because a limit of the stream (DiscardNew) was reached.
func classify(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jsStreamStoreFailed &&
		strings.HasPrefix(apiErr.Description, "maximum ") && strings.HasSuffix(apiErr.Description, " exceeded") {
		return fmt.Errorf("%w: %w", ErrStreamFull, err)
	}
	return err
}
