package archive

import (
	"context"
	"time"

	"github.com/pnstream/pnstream/internal/recording"
)

// rowGroupMax is the most pn.recordings rows in one INSERT, and the most
// archived jobs waiting for theirs. rowLinger is how long the first row of
// a group waits for others while workers are still mirroring: an INSERT
// costs ClickHouse 18.16 about 7 ms whatever its size (with 50 ms, groups
// of 4-5 small recordings cost ClickHouse 0.7-1.1 ms per recording, a
// sixth of the machine; with 500 ms, 2,000 recordings of 200 KB still cost
// it 110 µs each, 50 µs with 2 s), and a recording's ack may well wait that
// long (AckWait is a minute). When no worker is mirroring no row is coming,
// and the group goes at once.
const (
	rowGroupMax = 512
	rowLinger   = 2 * time.Second
)

// rowWriter stores the pn.recordings rows of the mirror workers and then
// settles their jobs, so that a worker goes on with its next recording
// while the row of the last one is written. Rows are inserted in groups:
// those that come within rowLinger of the first, or while the INSERT
// before runs, go together (a group commit). Many small recordings then
// cost one INSERT per group instead of one each, which ClickHouse, built
// for few large inserts, needs.
type rowWriter struct {
	rows Rows
	reqs chan rowRequest
	// idle is signalled when no worker is mirroring: the group in hand
	// would wait for nothing.
	idle chan struct{}
}

// rowRequest is an archived recording whose job is settled by done once
// its row is stored (nil) or could not be (the error).
type rowRequest struct {
	row  recording.Row
	done func(error)
}

func newRowWriter(rows Rows) *rowWriter {
	return &rowWriter{rows: rows, reqs: make(chan rowRequest, rowGroupMax), idle: make(chan struct{}, 1)}
}

// workersIdle tells the writer that no worker is mirroring, so that it
// stores the rows in hand without lingering.
func (w *rowWriter) workersIdle() {
	select {
	case w.idle <- struct{}{}:
	default: // signalled already
	}
}

// submit hands a row to the writer; done runs once it is stored or not.
// Once ctx is done, and the queue full, done runs at once with ctx's error.
func (w *rowWriter) submit(ctx context.Context, row recording.Row, done func(error)) {
	select {
	case w.reqs <- rowRequest{row: row, done: done}:
	case <-ctx.Done():
		done(ctx.Err())
	}
}

// run stores the submitted rows until close, then returns once every one
// is settled. Inserts use ctx: once it is done they fail at once, and the
// jobs are handed back. busy reports whether a worker is mirroring; an idle
// signal it no longer confirms (one that came before the rows in hand) is
// ignored.
func (w *rowWriter) run(ctx context.Context, busy func() bool) {
	linger := time.NewTimer(rowLinger)
	defer linger.Stop()
	for first := range w.reqs {
		group := []rowRequest{first}
		linger.Reset(rowLinger)
	more:
		for len(group) < rowGroupMax {
			select {
			case r, ok := <-w.reqs:
				if !ok {
					break more
				}
				group = append(group, r)
			case <-w.idle:
				if !busy() {
					group = w.drain(group)
					break more
				}
			case <-linger.C:
				break more
			}
		}
		w.store(ctx, group)
	}
}

// drain adds the rows already submitted to group, up to rowGroupMax.
func (w *rowWriter) drain(group []rowRequest) []rowRequest {
	for len(group) < rowGroupMax {
		select {
		case r, ok := <-w.reqs:
			if !ok {
				return group
			}
			group = append(group, r)
		default:
			return group
		}
	}
	return group
}

// close ends run once the rows submitted so far are settled; submit must
// not be called afterwards.
func (w *rowWriter) close() { close(w.reqs) }

// store inserts a group's rows and settles the group. When the group fails
// as a whole each row is tried alone, so that one row's error is only its
// own.
func (w *rowWriter) store(ctx context.Context, group []rowRequest) {
	rows := make([]recording.Row, len(group))
	for i, r := range group {
		rows[i] = r.row
	}
	err := w.rows.InsertRecordings(ctx, rows)
	if err != nil && len(group) > 1 && ctx.Err() == nil {
		for _, r := range group {
			r.done(w.rows.InsertRecordings(ctx, []recording.Row{r.row}))
		}
		return
	}
	for _, r := range group {
		r.done(err)
	}
}
