package recorder

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/retry"
)

// table is one stream-to-table flow: how to decode a message body into a
// row and how to insert a batch of rows.
type table[R any] struct {
	name   string // "fees", "events" or "numbers": metrics, consumer and dead-letter subject
	stream string
	// filter, if set, is the subject of the stream's messages that are
	// rows: PN_EVENTS holds nonce claims too.
	filter string
	decode func(data []byte) (R, error)
	// decodeMsg, if set, is used instead of decode: for rows that take
	// more of the message than its data (its stream sequence).
	decodeMsg func(msg jetstream.Msg) (R, error)
	// protect, if set, applies the PII policy to a decoded row, before
	// anything stores it or is made from it.
	protect func(R) R
	// insert stores a batch's rows; it sees their messages too (their
	// subjects) but must not settle them.
	insert  func(ctx context.Context, b rows[R]) error
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
// ClickHouse's. At most two batches are in hand at once (one being
// inserted, one being collected and decoded, then waiting for the
// inserter), within the consumer's MaxAckPending, and nothing is fetched
// beyond the batch being collected: memory is bounded by 2 × BatchMaxBytes
// of message data and the rows made of it, whatever the size of the
// records. A third batch (a buffered hand-over) would only absorb jitter:
// the two steps share the machine's CPU, so the slower one sets the pace.
func (p *pipeline[R]) run(ctx context.Context) error {
	decoded := make(chan batch[R]) // the next batch waits while one is inserted
	var inserter sync.WaitGroup
	inserter.Go(func() {
		for b := range decoded {
			p.flush(ctx, func(ctx context.Context) { p.insert(ctx, b.rows) })
			b.alive.stop()
		}
	})
	defer inserter.Wait()
	defer close(decoded)
	for {
		var b batch[R]
		start := time.Now()
		// Each message is decoded as it arrives, while the server is
		// still sending the rest of the batch. Its keeper keeps it alive
		// from then until insert is done with it: decoding, waiting for
		// the inserter (possibly through a ClickHouse outage) and a slow
		// insert all count against AckWait.
		n, err := p.collect(ctx, func(m jetstream.Msg, expect int) {
			if b.alive == nil {
				b.alive = p.keepAlive()
				b.rows = rows[R]{msgs: make([]jetstream.Msg, 0, expect), rows: make([]R, 0, expect)}
			}
			b.alive.add(m)
			p.flush(ctx, func(ctx context.Context) { p.decode(ctx, m, &b.rows) })
		})
		if n > 0 {
			p.log.Debug("batch collected and decoded", zap.Int("messages", n), zap.Int("rows", b.rows.len()), zap.Duration("took", time.Since(start)))
			if b.rows.len() > 0 {
				decoded <- b // the inserter takes every batch, also when stopping
			} else {
				b.alive.stop()
			}
		}
		if err != nil {
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

// collect fetches the next batch and hands each of its messages to take,
// as it arrives, with the number of messages the batch may hold (a
// capacity hint); it returns how many it fetched. A batch is up to
// BatchSize messages and BatchMaxBytes of their data (as the server counts
// them: with subjects), fetched by at most BatchWait after the first one.
// The first message is fetched alone and without a byte limit, so a
// message larger than BatchMaxBytes is a batch on its own rather than
// stuck; the rest in one request bounded by what is left. Every message
// fetched is in the batch when collect returns: none waits in a client
// buffer, where no progress ack could reach it while the batches before
// are inserted (JetStream's Messages iterator fetches ahead). collect
// returns early with an error when ctx is done or the consumer is gone.
func (p *pipeline[R]) collect(ctx context.Context, take func(m jetstream.Msg, expect int)) (int, error) {
	first, err := p.fetchFirst(ctx)
	if first == nil {
		return 0, err
	}
	size, limit, count := fetchedSize(first), p.rec.cfg.BatchMaxBytes, p.rec.cfg.BatchSize
	take(first, expectedBatch(first, size, limit, count))
	got := 1
	if err != nil || count == 1 || size >= limit {
		return got, err
	}
	// The server ends each request (count, bytes or its wait reached) and
	// the client reads up to that end, not a deadline of its own: a message
	// on its way when a client-side deadline cut a fetch short would be
	// lost until AckWait. Requests last at most restFetchWait, so a stop
	// is noticed that soon even with a long BatchWait.
	deadline := time.Now().Add(p.rec.cfg.BatchWait)
	for got < count && size < limit && ctx.Err() == nil {
		wait := min(time.Until(deadline), restFetchWait)
		if wait <= 0 {
			break
		}
		asked, sent := count-got, time.Now()
		mb, err := p.cons.Fetch(asked, jetstream.FetchMaxWait(wait), jetstream.FetchMaxBytes(limit-size))
		received := 0
		if err == nil {
			for m := range mb.Messages() {
				size += fetchedSize(m)
				received++
				take(m, 0)
			}
			err = mb.Error()
		}
		got += received
		switch {
		case err == nil && fullByBytes(asked, received, time.Since(sent), wait):
			// The next message does not fit what is left of BatchMaxBytes:
			// the server ends such a request at once, with nothing or with
			// what fitted, and asking again would only spin until BatchWait.
			return got, ctx.Err()
		case err == nil:
		case terminal(err):
			return got, err
		default:
			p.log.Warn("fetch failed; the batch closes early", zap.Error(err))
			return got, nil
		}
	}
	return got, ctx.Err()
}

// expectedBatch is how many messages a batch that starts with first may
// hold: what the consumer had pending then, within BatchSize and as many
// messages of first's size as BatchMaxBytes takes. It sizes the batch's
// slices at once, so that a backlog's batches are not grown message by
// message, and a trickle's not given room for a backlog.
func expectedBatch(first jetstream.Msg, size, limit, count int) int {
	n := min(count, limit/max(size, 1)+1)
	if md, err := first.Metadata(); err == nil {
		n = min(n, int(min(md.NumPending, uint64(count)))+1)
	}
	return max(n, 1)
}

// restFetchWait bounds one request for the rest of a batch: how soon a
// stop is noticed while a batch fills slowly.
const restFetchWait = time.Second

// fullByBytes tells, from a request for the rest of a batch that ended
// without error, whether the server ended it on its byte limit: it holds a
// request until the count, the bytes or the wait is reached, so one that
// ended early with fewer messages than asked reached the bytes (nats.go
// reports the server's "409 Message Size Exceeds MaxBytes" as a batch
// without error). Half the wait leaves room for a slow round trip.
func fullByBytes(asked, got int, took, wait time.Duration) bool {
	return got < asked && took < wait/2
}

// fetchFirst waits for the first message of a batch, in requests that the
// server ends after firstFetchWait. A stop is noticed within one of them,
// and never cuts one short on the client's side, where a message the
// server had sent already would be dropped and left unacknowledged until
// AckWait: like Drain rather than Stop on a Messages iterator, what was
// sent is still taken, then no more is asked for. A request lost with its
// server (a restart, a reconnect) is given up one second after it was due
// to end, and another is sent. It returns an error only when ctx is done
// (maybe with a message) or the consumer is gone.
func (p *pipeline[R]) fetchFirst(ctx context.Context) (jetstream.Msg, error) {
	for {
		var first jetstream.Msg
		mb, err := p.cons.Fetch(1, jetstream.FetchMaxWait(firstFetchWait))
		if err == nil {
			for m := range mb.Messages() {
				first = m
			}
			err = mb.Error()
		}
		switch {
		case first != nil || ctx.Err() != nil:
			return first, ctx.Err()
		case err == nil:
		case terminal(err):
			return nil, err
		default:
			// A new consumer leader, a server shutting down in a cluster:
			// pull again, as the Messages iterator would.
			p.log.Warn("fetch failed; pulling again", zap.Error(err))
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(p.rec.cfg.RetryInitial):
			}
		}
	}
}

// firstFetchWait is how long one request for the first message of a batch
// lasts: how soon a stop is noticed while the stream is idle. An idle
// table costs one request a second.
const firstFetchWait = time.Second

// terminal tells a fetch error after which the consumer cannot be used
// again from the others, the way JetStream's Messages iterator does.
func terminal(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
		errors.Is(err, jetstream.ErrBadRequest) || errors.Is(err, nats.ErrConnectionClosed)
}

// fetchedSize is a message's size as the server counts it against a
// fetch's max bytes: subject, reply subject, headers and data.
func fetchedSize(m jetstream.Msg) int {
	n := len(m.Subject()) + len(m.Reply()) + len(m.Data())
	for k, vs := range m.Headers() {
		for _, v := range vs {
			n += len(k) + len(v) + 4 // "k: v\r\n"
		}
	}
	return n
}

// decode decodes msg into a row of b, with the PII policy applied. A
// message that can never be inserted is dead-lettered (as received)
// instead.
func (p *pipeline[R]) decode(ctx context.Context, msg jetstream.Msg, b *rows[R]) {
	md, _ := msg.Metadata()
	if md != nil && md.NumDelivered > 1 {
		p.rec.metrics.redeliveries.WithLabelValues(p.t.name).Inc()
		if int(md.NumDelivered) > p.rec.cfg.MaxDeliveries {
			p.rec.deadLetter(ctx, p.t.name, msg, fmt.Errorf("delivered %d times without success", md.NumDelivered))
			return
		}
	}
	var (
		row R
		err error
	)
	if p.t.decodeMsg != nil {
		row, err = p.t.decodeMsg(msg)
	} else {
		row, err = p.t.decode(msg.Data())
	}
	if err != nil {
		p.rec.deadLetter(ctx, p.t.name, msg, fmt.Errorf("decode: %w", err))
		return
	}
	if p.t.protect != nil {
		row = p.t.protect(row)
	}
	b.msgs = append(b.msgs, msg)
	b.rows = append(b.rows, row)
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
	op := func() error {
		t0 := time.Now()
		err := p.t.insert(ctx, b)
		p.rec.metrics.insertSeconds.WithLabelValues(p.t.name).Observe(time.Since(t0).Seconds())
		return err
	}
	notify := func(err error, next time.Duration) {
		p.rec.metrics.insertRetries.WithLabelValues(p.t.name).Inc()
		// The batch's keeper keeps the messages ours meanwhile.
		p.log.Warn("insert failed, retrying", zap.Int("rows", b.len()), zap.Duration("backoff", next), zap.Error(err))
	}
	err := retry.Do(ctx, p.rec.backoff, op, notify)
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
	case retry.IsPermanent(err):
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
