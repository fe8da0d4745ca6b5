package recorder

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// table is one stream-to-table flow: how to decode a message body into a
// row and how to insert a batch of rows.
type table[R any] struct {
	name    string // "fees" or "events": metrics, consumer and dead-letter subject
	stream  string
	decode  func(data []byte) (R, error)
	insert  func(ctx context.Context, rows []R) error
	durable string
}

// rows are decoded messages waiting to be inserted: rows[i] is the row of
// msgs[i]. Two slices rather than one of pairs, so that the rows reach the
// store without being copied again.
type rows[R any] struct {
	msgs []jetstream.Msg
	rows []R
}

func (b rows[R]) len() int { return len(b.msgs) }

func (b rows[R]) slice(lo, hi int) rows[R] {
	return rows[R]{msgs: b.msgs[lo:hi], rows: b.rows[lo:hi]}
}

// pipeline moves one stream into one table in batches.
type pipeline[R any] struct {
	t    table[R]
	rec  *Recorder
	log  *zap.Logger
	cons jetstream.Consumer

	// stopBy is when the batches in hand must be done once stopping: one
	// ShutdownTimeout from the first flush after the stop, shared by all
	// of them, so that shutdown ends within it however many there are.
	stopOnce sync.Once
	stopBy   time.Time
}

// run consumes until ctx is done, then flushes the batches in hand.
//
// Collecting and decoding a batch overlaps with inserting the one before:
// the first uses this process' CPU and JetStream, the second mostly
// ClickHouse's. At most three batches are in hand at once (one collected,
// one decoded and waiting, one being inserted), within the consumer's
// MaxAckPending of four, and the client fetches at most PullMaxBytes
// ahead: memory is bounded by PullMaxBytes + 3 × BatchMaxBytes of message
// data (and the rows made of it), whatever the size of the records.
func (p *pipeline[R]) run(ctx context.Context) error {
	// PullMaxBytes alone: nats.go refuses it together with PullMaxMessages;
	// collect enforces the batch's count, MaxAckPending the consumer's.
	iter, err := p.cons.Messages(jetstream.PullMaxBytes(p.pullBytes()))
	if err != nil {
		return fmt.Errorf("consume %s: %w", p.t.stream, err)
	}
	defer iter.Stop()
	decoded := make(chan batch[R], 1) // one batch waits while another is inserted
	var inserter sync.WaitGroup
	inserter.Go(func() {
		for b := range decoded {
			p.flush(ctx, func(ctx context.Context) { p.insert(ctx, b.rows) })
			b.alive.stop()
		}
	})
	defer inserter.Wait()
	defer close(decoded)
	var next jetstream.Msg // fetched, but did not fit in the batch before
	for {
		msgs, left, err := p.collect(ctx, iter, next)
		next = left
		if len(msgs) > 0 {
			// Alive from here until insert is done with the batch: decoding,
			// waiting for the inserter (possibly through a ClickHouse
			// outage) and a slow insert all count against AckWait.
			b := batch[R]{alive: p.keepAlive(msgs)}
			start := time.Now()
			p.flush(ctx, func(ctx context.Context) { b.rows = p.decode(ctx, msgs) })
			p.log.Debug("batch decoded", zap.Int("messages", len(msgs)), zap.Int("rows", b.rows.len()), zap.Duration("took", time.Since(start)))
			if b.rows.len() > 0 {
				decoded <- b // the inserter takes every batch, also when stopping
			} else {
				b.alive.stop()
			}
		}
		if err != nil { // collect leaves no message behind with an error
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("consume %s: %w", p.t.stream, err)
		}
	}
}

// batch is a decoded batch and the keeper of its messages.
type batch[R any] struct {
	rows  rows[R]
	alive *keeper
}

// pullBytes is the client's fetch-ahead bound: PullMaxBytes, raised to the
// connection's max_payload and the subjects around it when smaller, or a
// message of max_payload would never be fetched (the server ends a pull
// too small for the next message with a 409 and nothing else).
func (p *pipeline[R]) pullBytes() int {
	n := p.rec.cfg.PullMaxBytes
	if nc := p.rec.js.Conn(); nc != nil {
		n = max(n, int(nc.MaxPayload())+pullOverhead)
	}
	return n
}

// pullOverhead is room for a message's subject and ack reply subject,
// which the server counts against a pull's max_bytes with the payload.
const pullOverhead = 4 << 10

// flush runs work on a batch in hand, even when stopping: shutdown must
// not leave fetched work undone until AckWait.
func (p *pipeline[R]) flush(ctx context.Context, work func(context.Context)) {
	if ctx.Err() != nil {
		p.stopOnce.Do(func() { p.stopBy = time.Now().Add(p.rec.cfg.ShutdownTimeout) })
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(context.WithoutCancel(ctx), p.stopBy)
		defer cancel()
	}
	work(ctx)
}

// collect returns the next batch: messages up to BatchSize of them or
// BatchMaxBytes of their data, waiting at most BatchWait after the first
// one. first, if not nil, was fetched before and opens the batch. A
// message that would take the batch past BatchMaxBytes is returned as
// left, to open the next one; a message larger than BatchMaxBytes is a
// batch on its own. collect returns early with an error when ctx is done
// or the iterator fails.
func (p *pipeline[R]) collect(ctx context.Context, iter jetstream.MessagesContext, first jetstream.Msg) (msgs []jetstream.Msg, left jetstream.Msg, err error) {
	if first == nil {
		first, err = iter.Next(jetstream.NextContext(ctx))
		for errors.Is(err, jetstream.ErrNoHeartbeat) && ctx.Err() == nil {
			// The server missed heartbeats (a cluster node or the connection
			// went away); the iterator pulls again by itself.
			p.log.Warn("consumer missed heartbeats; pulling again", zap.Error(err))
			first, err = iter.Next(jetstream.NextContext(ctx))
		}
		if err != nil {
			return nil, nil, err
		}
	}
	limit := p.rec.cfg.BatchMaxBytes
	size := len(first.Data())
	msgs = make([]jetstream.Msg, 1, min(p.rec.cfg.BatchSize, max(1, limit/avgMsgBytes)))
	msgs[0] = first
	// One deadline for the whole batch, not a timer per message.
	fill, cancel := context.WithTimeout(ctx, p.rec.cfg.BatchWait)
	defer cancel()
	for len(msgs) < p.rec.cfg.BatchSize && size < limit {
		msg, err := iter.Next(jetstream.NextContext(fill))
		switch {
		case err == nil:
			if size+len(msg.Data()) > limit {
				return msgs, msg, nil
			}
			msgs = append(msgs, msg)
			size += len(msg.Data())
		case ctx.Err() != nil:
			return msgs, nil, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, jetstream.ErrNoHeartbeat):
			return msgs, nil, nil // a missed heartbeat is retried by the next collect
		default:
			return msgs, nil, err
		}
	}
	return msgs, nil, nil
}

// avgMsgBytes sizes a batch's first allocation: about a CDR, so that a
// batch of ordinary records seldom grows its slice and one of large
// records does not reserve BatchSize entries.
const avgMsgBytes = 1 << 10

// decode decodes a batch into rows. A message that can never be inserted
// is dead-lettered; the rest proceed.
func (p *pipeline[R]) decode(ctx context.Context, batch []jetstream.Msg) rows[R] {
	b := rows[R]{msgs: make([]jetstream.Msg, 0, len(batch)), rows: make([]R, 0, len(batch))}
	for _, msg := range batch {
		md, _ := msg.Metadata()
		if md != nil && md.NumDelivered > 1 {
			p.rec.metrics.redeliveries.WithLabelValues(p.t.name).Inc()
			if int(md.NumDelivered) > p.rec.cfg.MaxDeliveries {
				p.rec.deadLetter(ctx, p.t.name, msg, fmt.Errorf("delivered %d times without success", md.NumDelivered))
				continue
			}
		}
		row, err := p.t.decode(msg.Data())
		if err != nil {
			p.rec.deadLetter(ctx, p.t.name, msg, fmt.Errorf("decode: %w", err))
			continue
		}
		b.msgs = append(b.msgs, msg)
		b.rows = append(b.rows, row)
	}
	return b
}

// insert stores rows and acks their messages. Nothing is acked before its
// row is inserted. The caller keeps the messages alive meanwhile (see
// keepAlive). While the error is transient it retries with backoff
// until ctx ends; then it naks, so the messages come back promptly to this
// or another recorder. On a permanent error it splits the batch to find
// the rows at fault and dead-letters only those.
func (p *pipeline[R]) insert(ctx context.Context, b rows[R]) {
	if b.len() == 0 {
		return
	}
	start := time.Now()
	op := func() (struct{}, error) {
		t0 := time.Now()
		err := p.t.insert(ctx, b.rows)
		p.rec.metrics.insertSeconds.WithLabelValues(p.t.name).Observe(time.Since(t0).Seconds())
		if err != nil && p.rec.permanent(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}
	notify := func(err error, next time.Duration) {
		p.rec.metrics.insertRetries.WithLabelValues(p.t.name).Inc()
		// The batch's keeper keeps the messages ours meanwhile.
		p.log.Warn("insert failed, retrying", zap.Int("rows", b.len()), zap.Duration("backoff", next), zap.Error(err))
	}
	_, err := backoff.Retry(ctx, op,
		backoff.WithBackOff(p.rec.backoff()),
		backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(notify))
	switch {
	case err == nil:
		p.rec.metrics.batchSize.WithLabelValues(p.t.name).Observe(float64(b.len()))
		p.rec.metrics.rows.WithLabelValues(p.t.name).Add(float64(b.len()))
		for _, m := range b.msgs {
			if err := m.Ack(); err != nil {
				// The row is stored; a redelivery is absorbed by the table.
				p.log.Warn("ack failed; message will be redelivered", zap.Error(err))
			}
		}
		p.log.Debug("batch stored", zap.Int("rows", b.len()), zap.Duration("took", time.Since(start)))
	case p.rec.permanent(err):
		p.isolate(ctx, b, err)
	default:
		// Stopping while the store is unavailable: give the work back.
		p.log.Warn("batch not stored before shutdown; handing it back", zap.Int("rows", b.len()), zap.Error(err))
		for _, m := range b.msgs {
			_ = m.Nak() // best effort: without it the message returns after AckWait
		}
	}
}

// isolate handles a batch that failed permanently: it dead-letters the
// rows at fault and inserts the others. When the store names the bad rows
// they go at once; otherwise the batch is split in halves until they are
// found, which costs O(bad × log n) inserts.
func (p *pipeline[R]) isolate(ctx context.Context, b rows[R], err error) {
	if b.len() == 1 {
		p.rec.deadLetter(ctx, p.t.name, b.msgs[0], fmt.Errorf("insert: %w", err))
		return
	}
	if bad := p.rec.badRows(err); len(bad) > 0 {
		isBad := make(map[int]bool, len(bad))
		for _, i := range bad {
			if i >= 0 && i < b.len() {
				isBad[i] = true
			}
		}
		if len(isBad) > 0 {
			rest := rows[R]{msgs: make([]jetstream.Msg, 0, b.len()-len(isBad)), rows: make([]R, 0, b.len()-len(isBad))}
			for i, m := range b.msgs {
				if isBad[i] {
					p.rec.deadLetter(ctx, p.t.name, m, fmt.Errorf("insert: %w", err))
				} else {
					rest.msgs = append(rest.msgs, m)
					rest.rows = append(rest.rows, b.rows[i])
				}
			}
			p.insert(ctx, rest)
			return
		}
	}
	half := b.len() / 2
	p.insert(ctx, b.slice(0, half))
	p.insert(ctx, b.slice(half, b.len()))
}

func seqString(msg jetstream.Msg) string {
	md, err := msg.Metadata()
	if err != nil {
		return ""
	}
	return strconv.FormatUint(md.Sequence.Stream, 10)
}
