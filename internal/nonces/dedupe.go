package nonces

import (
	"bytes"
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/streams"
)

// NewDeduplicated returns a Store on a stream deduplicated by Nats-Msg-Id,
// PN_NONCES as streams.Provision creates it (what ingest uses; the package
// comment has the figures). Every nonce is one message on subject, with
// the key as its Nats-Msg-Id and the body digest as its data. stream must
// have Duplicates = the nonce window (at least PN_PUSH_MAX_AGE +
// PN_PUSH_CLOCK_SKEW), MaxAge a little longer, so that a remembered id's
// message can still be read, and Discard new when full. Claim's ttl is
// then ignored: the stream's Duplicates is the window. It does no I/O.
//
// Claims go through a streams.JetStreamPublisher of their own, so that the
// claims of concurrent pushes reach the server in one write.
func NewDeduplicated(js jetstream.JetStream, stream jetstream.Stream, subject string) *Store {
	return &Store{dd: &dedupe{pub: streams.NewJetStreamPublisher(js.Conn(), js), stream: stream, subject: subject}}
}

type dedupe struct {
	pub     *streams.JetStreamPublisher
	stream  jetstream.Stream
	subject string
}

// claim publishes the digest under the key as message id: the server
// stores it, or answers that the id is in its window with the sequence
// of the message that carried it first, whose digest decides.
func (d *dedupe) claim(ctx context.Context, key string, sum []byte) error {
	ack, err := d.pub.PublishAck(ctx, streams.Message{Subject: d.subject, MsgID: key, Data: sum})
	if err != nil {
		return fmt.Errorf("claim nonce: publish: %w", err)
	}
	if !ack.Duplicate {
		return nil
	}
	// A message older than its id would be a misconfigured stream (MaxAge
	// below Duplicates): an error, not a guess.
	m, err := d.stream.GetMsg(ctx, ack.Sequence)
	if err != nil {
		return fmt.Errorf("claim nonce: get message %d: %w", ack.Sequence, err)
	}
	if !bytes.Equal(m.Data, sum) {
		return ErrReused
	}
	return nil
}
