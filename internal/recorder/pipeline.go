package recorder

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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

// pending is a decoded message waiting for its batch to be inserted.
type pending[R any] struct {
	msg jetstream.Msg
	row R
}

// pipeline moves one stream into one table in batches.
type pipeline[R any] struct {
	t    table[R]
	rec  *Recorder
	log  *zap.Logger
	cons jetstream.Consumer
}

// run consumes until ctx is done, then flushes the open batch.
func (p *pipeline[R]) run(ctx context.Context) error {
	iter, err := p.cons.Messages(jetstream.PullMaxMessages(p.rec.cfg.BatchSize))
	if err != nil {
		return fmt.Errorf("consume %s: %w", p.t.stream, err)
	}
	defer iter.Stop()
	for {
		batch, err := p.collect(ctx, iter)
		if len(batch) > 0 {
			p.flush(ctx, batch)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("consume %s: %w", p.t.stream, err)
		}
	}
}

// flush processes a batch in hand, even when stopping: shutdown must not
// leave fetched work undone until AckWait.
func (p *pipeline[R]) flush(ctx context.Context, batch []jetstream.Msg) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), p.rec.cfg.ShutdownTimeout)
		defer cancel()
	}
	p.process(ctx, batch)
}

// collect returns the next batch: up to BatchSize messages, waiting at most
// BatchWait after the first one. It returns early with an error when ctx is
// done or the iterator fails.
func (p *pipeline[R]) collect(ctx context.Context, iter jetstream.MessagesContext) ([]jetstream.Msg, error) {
	var batch []jetstream.Msg
	var deadline time.Time
	for len(batch) < p.rec.cfg.BatchSize {
		wait := p.rec.cfg.BatchWait
		if !deadline.IsZero() {
			if wait = time.Until(deadline); wait <= 0 {
				return batch, nil
			}
		}
		nextCtx, cancel := context.WithTimeout(ctx, wait)
		msg, err := iter.Next(jetstream.NextContext(nextCtx))
		cancel()
		switch {
		case err == nil:
			if deadline.IsZero() {
				deadline = time.Now().Add(p.rec.cfg.BatchWait)
			}
			batch = append(batch, msg)
		case ctx.Err() != nil:
			return batch, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			if len(batch) > 0 {
				return batch, nil
			}
		default:
			return batch, err
		}
	}
	return batch, nil
}

// process decodes, inserts and acknowledges one batch. Nothing is acked
// before its row is inserted; a message that can never be inserted is
// dead-lettered and the rest proceed.
func (p *pipeline[R]) process(ctx context.Context, batch []jetstream.Msg) {
	start := time.Now()
	rows := make([]pending[R], 0, len(batch))
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
		rows = append(rows, pending[R]{msg: msg, row: row})
	}
	p.insert(ctx, rows)
	p.log.Debug("batch done", zap.Int("messages", len(batch)), zap.Duration("took", time.Since(start)))
}

// insert stores rows and acks their messages. While the error is transient
// it retries with backoff until ctx ends; then it naks, so the messages come
// back promptly to this or another recorder. On a permanent error it splits
// the batch to find the rows at fault and dead-letters only those.
func (p *pipeline[R]) insert(ctx context.Context, rows []pending[R]) {
	if len(rows) == 0 {
		return
	}
	values := make([]R, len(rows))
	for i := range rows {
		values[i] = rows[i].row
	}
	lastProgress := time.Now()
	op := func() (struct{}, error) {
		t0 := time.Now()
		err := p.t.insert(ctx, values)
		p.rec.metrics.insertSeconds.WithLabelValues(p.t.name).Observe(time.Since(t0).Seconds())
		if err != nil && p.rec.permanent(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}
	notify := func(err error, next time.Duration) {
		p.rec.metrics.insertRetries.WithLabelValues(p.t.name).Inc()
		p.log.Warn("insert failed, retrying", zap.Int("rows", len(rows)), zap.Duration("backoff", next), zap.Error(err))
		// Keep the messages ours while we wait, or JetStream hands them to
		// another recorder after AckWait.
		if time.Since(lastProgress) > p.rec.cfg.AckWait/3 {
			for _, r := range rows {
				_ = r.msg.InProgress() // best effort: a lost one only means a redelivery
			}
			lastProgress = time.Now()
		}
	}
	_, err := backoff.Retry(ctx, op,
		backoff.WithBackOff(p.rec.backoff()),
		backoff.WithMaxElapsedTime(0),
		backoff.WithNotify(notify))
	switch {
	case err == nil:
		p.rec.metrics.batchSize.WithLabelValues(p.t.name).Observe(float64(len(rows)))
		p.rec.metrics.rows.WithLabelValues(p.t.name).Add(float64(len(rows)))
		for _, r := range rows {
			if err := r.msg.Ack(); err != nil {
				// The row is stored; a redelivery is absorbed by the table.
				p.log.Warn("ack failed; message will be redelivered", zap.Error(err))
			}
		}
	case p.rec.permanent(err):
		p.isolate(ctx, rows, err)
	default:
		// Stopping while the store is unavailable: give the work back.
		p.log.Warn("batch not stored before shutdown; handing it back", zap.Int("rows", len(rows)), zap.Error(err))
		for _, r := range rows {
			_ = r.msg.Nak() // best effort: without it the message returns after AckWait
		}
	}
}

// isolate handles a batch that failed permanently: it dead-letters the
// rows at fault and inserts the others. When the store names the bad rows
// they go at once; otherwise the batch is split in halves until they are
// found, which costs O(bad × log n) inserts.
func (p *pipeline[R]) isolate(ctx context.Context, rows []pending[R], err error) {
	if len(rows) == 1 {
		p.rec.deadLetter(ctx, p.t.name, rows[0].msg, fmt.Errorf("insert: %w", err))
		return
	}
	if bad := p.rec.badRows(err); len(bad) > 0 {
		isBad := make(map[int]bool, len(bad))
		for _, i := range bad {
			if i >= 0 && i < len(rows) {
				isBad[i] = true
			}
		}
		if len(isBad) > 0 {
			rest := make([]pending[R], 0, len(rows)-len(isBad))
			for i, r := range rows {
				if isBad[i] {
					p.rec.deadLetter(ctx, p.t.name, r.msg, fmt.Errorf("insert: %w", err))
				} else {
					rest = append(rest, r)
				}
			}
			p.insert(ctx, rest)
			return
		}
	}
	half := len(rows) / 2
	p.insert(ctx, rows[:half])
	p.insert(ctx, rows[half:])
}

func seqString(msg jetstream.Msg) string {
	md, err := msg.Metadata()
	if err != nil {
		return ""
	}
	return strconv.FormatUint(md.Sequence.Stream, 10)
}
