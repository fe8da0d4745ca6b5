package recorder

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// NumberStore stores X-number states (warehouse.Warehouse). A Store that
// is one too gets the third pipeline, PN_NUMBERS into number_status; the
// warehouse always is, so a recorder in production always runs it, and
// the stores of tests that are about other tables need not.
type NumberStore interface {
	InsertNumberStatus(ctx context.Context, rows []privatenumber.NumberStatus) error
}

var _ NumberStore = (*warehouse.Warehouse)(nil)

// numberPipeline returns the PN_NUMBERS pipeline, or nil when the store
// keeps no X-number states.
func (r *Recorder) numberPipeline(ctx context.Context) (*pipeline[privatenumber.NumberStatus], error) {
	ns, ok := r.store.(NumberStore)
	if !ok {
		return nil, nil
	}
	return newPipeline(ctx, r, table[privatenumber.NumberStatus]{
		name: "numbers", stream: streams.Numbers, durable: r.cfg.ConsumerPrefix + "-numbers",
		decodeMsg: decodeNumberStatus, insert: rowsOnly(ns.InsertNumberStatus),
	})
}

// decodeNumberStatus decodes a PN_NUMBERS message, with its stream
// sequence: the item has no time, and the sequence is the order in which
// the states arrived. A message without JetStream metadata (none is, from
// a consumer) keeps StreamSeq 0: the row is still worth storing, ordered
// by its ingested_at alone.
func decodeNumberStatus(msg jetstream.Msg) (privatenumber.NumberStatus, error) {
	n, err := privatenumber.DecodeNumberStatus(msg.Data())
	if err != nil {
		return n, err
	}
	if md, err := msg.Metadata(); err == nil {
		n.StreamSeq = md.Sequence.Stream
	}
	return n, nil
}
