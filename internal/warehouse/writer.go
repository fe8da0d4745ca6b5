package warehouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	chproto "github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/retry"
)

// column is one column of an INSERT and how a record fills it. Keeping the
// name next to the value is what keeps the column list of the statement and
// the order of the values in step.
type column[T any] struct {
	name  string
	value func(r *T) any
}

// field is a column that can also be filled a whole block at a time
// (insertBlocks): typed slices appended to the driver's column, without
// the boxing and per-row type switches of Append, and without copying the
// raw JSON into a string first. Its column's value is the same function
// row by row: the fallback that names a row the driver refuses.
type field[T any] struct {
	column[T]
	fill func(col driver.BatchColumn, rows []T, s *scratch) error
}

// columnsOf returns the columns of fields, for insertRows.
func columnsOf[T any](fields []field[T]) []column[T] {
	cols := make([]column[T], len(fields))
	for i, f := range fields {
		cols[i] = f.column
	}
	return cols
}

// scratch holds one block's column slices while they are appended: the
// driver copies their values, so one slice of each type serves every
// column of that type, block after block.
type scratch struct {
	strs   []string
	u8s    []uint8
	i32s   []int32
	times  []time.Time
	tptrs  []*time.Time
	i32ptr []*int32
	u8ptr  []*uint8
}

// grow returns buf with length n, reusing its array when it is big enough.
func grow[E any](buf *[]E, n int) []E {
	if cap(*buf) < n {
		*buf = make([]E, n)
	}
	*buf = (*buf)[:n]
	return *buf
}

func stringField[T any](name string, f func(*T) string) field[T] {
	return field[T]{column[T]{name, func(r *T) any { return f(r) }}, func(col driver.BatchColumn, rows []T, s *scratch) error {
		vs := grow(&s.strs, len(rows))
		for i := range rows {
			vs[i] = f(&rows[i])
		}
		return col.Append(vs)
	}}
}

// rawField is the raw JSON column: appended from the bytes, so the JSON is
// copied once, into the block, and never into a string of its own.
func rawField[T any](name string, f func(*T) *json.RawMessage) field[T] {
	return field[T]{column[T]{name, func(r *T) any { return string(*f(r)) }}, func(col driver.BatchColumn, rows []T, _ *scratch) error {
		for i := range rows {
			if err := col.AppendRow(f(&rows[i])); err != nil {
				return err
			}
		}
		return nil
	}}
}

func uint8Field[T any](name string, f func(*T) uint8) field[T] {
	return field[T]{column[T]{name, func(r *T) any { return f(r) }}, func(col driver.BatchColumn, rows []T, s *scratch) error {
		vs := grow(&s.u8s, len(rows))
		for i := range rows {
			vs[i] = f(&rows[i])
		}
		return col.Append(vs)
	}}
}

func int32Field[T any](name string, f func(*T) int32) field[T] {
	return field[T]{column[T]{name, func(r *T) any { return f(r) }}, func(col driver.BatchColumn, rows []T, s *scratch) error {
		vs := grow(&s.i32s, len(rows))
		for i := range rows {
			vs[i] = f(&rows[i])
		}
		return col.Append(vs)
	}}
}

func timeField[T any](name string, f func(*T) time.Time) field[T] {
	return field[T]{column[T]{name, func(r *T) any { return f(r) }}, func(col driver.BatchColumn, rows []T, s *scratch) error {
		vs := grow(&s.times, len(rows))
		for i := range rows {
			vs[i] = f(&rows[i])
		}
		return col.Append(vs)
	}}
}

// nullableTimeField is a Nullable(DateTime) column: a zero Time is NULL.
func nullableTimeField[T any](name string, f func(*T) privatenumber.Time) field[T] {
	return nullableField(name, func(r *T) any { return f(r).Ptr() },
		func(r *T) (time.Time, bool) { t := f(r); return t.UTC(), !t.IsZero() },
		func(s *scratch) (*[]time.Time, *[]*time.Time) { return &s.times, &s.tptrs })
}

// nullableInt32Field is a Nullable(Int32) column: nil is NULL.
func nullableInt32Field[T any](name string, f func(*T) *privatenumber.Int) field[T] {
	return nullableField(name, func(r *T) any { return nullableInt[int32](f(r)) },
		func(r *T) (int32, bool) { return intValue[int32](f(r)) },
		func(s *scratch) (*[]int32, *[]*int32) { return &s.i32s, &s.i32ptr })
}

// nullableUInt8Field is a Nullable(UInt8) column: nil is NULL.
func nullableUInt8Field[T any](name string, f func(*T) *privatenumber.Int) field[T] {
	return nullableField(name, func(r *T) any { return nullableInt[uint8](f(r)) },
		func(r *T) (uint8, bool) { return intValue[uint8](f(r)) },
		func(s *scratch) (*[]uint8, *[]*uint8) { return &s.u8s, &s.u8ptr })
}

// nullableField is a Nullable column filled from value (false: NULL),
// through a values and a pointers buffer of the scratch.
func nullableField[T, V any](name string, row func(*T) any, value func(*T) (V, bool), bufs func(*scratch) (*[]V, *[]*V)) field[T] {
	return field[T]{column[T]{name, row}, func(col driver.BatchColumn, rows []T, s *scratch) error {
		vbuf, pbuf := bufs(s)
		vs, ps := grow(vbuf, len(rows)), grow(pbuf, len(rows))
		for i := range rows {
			ps[i] = nil
			if v, ok := value(&rows[i]); ok {
				vs[i] = v
				ps[i] = &vs[i]
			}
		}
		return col.Append(ps)
	}}
}

// intValue is *n converted, and false for nil (NULL).
func intValue[N int32 | uint8](n *privatenumber.Int) (N, bool) {
	if n == nil {
		return 0, false
	}
	return N(*n), true
}

// anomaliesField is an Array(String) column of "field:kind" each.
func anomaliesField[T any](name string, f func(*T) []privatenumber.Anomaly) field[T] {
	return field[T]{column[T]{name, func(r *T) any { return anomalies(f(r)) }}, func(col driver.BatchColumn, rows []T, _ *scratch) error {
		for i := range rows {
			if err := col.AppendRow(anomalies(f(&rows[i]))); err != nil {
				return err
			}
		}
		return nil
	}}
}

// feeFields are fee_records' columns except ingested_at, which the batch
// sets. Values have the Go type clickhouse-go converts to the column type
// without reflection: int32 for Int32, uint8 for UInt8, time.Time for
// DateTime, pointers (nil = NULL) for Nullable columns and []string for
// Array(String). The integer narrowing is safe because fitFee brings every
// value within its column first.
var feeFields = []field[privatenumber.FeeRecord]{
	uint8Field("direction", func(r *privatenumber.FeeRecord) uint8 { return uint8(r.Direction) }),
	stringField("sp_id", func(r *privatenumber.FeeRecord) string { return r.SpID }),
	stringField("app_key", func(r *privatenumber.FeeRecord) string { return r.AppKey }),
	stringField("icid", func(r *privatenumber.FeeRecord) string { return r.ICID }),
	stringField("bind_num", func(r *privatenumber.FeeRecord) string { return r.BindNum }),
	stringField("session_id", func(r *privatenumber.FeeRecord) string { return r.SessionID }),
	stringField("subscription_id", func(r *privatenumber.FeeRecord) string { return r.SubscriptionID }),
	stringField("caller_num", func(r *privatenumber.FeeRecord) string { return r.CallerNum }),
	stringField("callee_num", func(r *privatenumber.FeeRecord) string { return r.CalleeNum }),
	stringField("fwd_display_num", func(r *privatenumber.FeeRecord) string { return r.FwdDisplayNum }),
	stringField("fwd_dst_num", func(r *privatenumber.FeeRecord) string { return r.FwdDstNum }),
	timeField("call_in_time", func(r *privatenumber.FeeRecord) time.Time { return r.CallInTime.UTC() }),
	nullableTimeField("fwd_start_time", func(r *privatenumber.FeeRecord) privatenumber.Time { return r.FwdStartTime }),
	nullableTimeField("fwd_alerting_time", func(r *privatenumber.FeeRecord) privatenumber.Time { return r.FwdAlertingTime }),
	nullableTimeField("fwd_answer_time", func(r *privatenumber.FeeRecord) privatenumber.Time { return r.FwdAnswerTime }),
	nullableTimeField("call_end_time", func(r *privatenumber.FeeRecord) privatenumber.Time { return r.CallEndTime }),
	nullableTimeField("fail_time", func(r *privatenumber.FeeRecord) privatenumber.Time { return r.FailTime }),
	nullableTimeField("record_start_time", func(r *privatenumber.FeeRecord) privatenumber.Time { return r.RecordStartTime }),
	int32Field("fwd_unasw_rsn", func(r *privatenumber.FeeRecord) int32 { return int32(r.FwdUnaswRsn) }),
	int32Field("ul_fail_reason", func(r *privatenumber.FeeRecord) int32 { return int32(r.ULFailReason) }),
	int32Field("sip_status_code", func(r *privatenumber.FeeRecord) int32 { return int32(r.SIPStatusCode) }),
	int32Field("call_out_unasw_rsn", func(r *privatenumber.FeeRecord) int32 { return int32(r.CallOutUnaswRsn) }),
	uint8Field("record_flag", func(r *privatenumber.FeeRecord) uint8 { return uint8(r.RecordFlag) }),
	stringField("record_domain", func(r *privatenumber.FeeRecord) string { return r.RecordDomain }),
	stringField("record_bucket_name", func(r *privatenumber.FeeRecord) string { return r.RecordBucketName }),
	stringField("record_object_name", func(r *privatenumber.FeeRecord) string { return r.RecordObjectName }),
	stringField("record_file_download_url", func(r *privatenumber.FeeRecord) string { return r.RecordFileDownloadURL }),
	int32Field("tts_play_times", func(r *privatenumber.FeeRecord) int32 { return int32(r.TTSPlayTimes) }),
	int32Field("tts_trans_duration", func(r *privatenumber.FeeRecord) int32 { return int32(r.TTSTransDuration) }),
	stringField("mpty_id", func(r *privatenumber.FeeRecord) string { return r.MptyID }),
	stringField("service_type", func(r *privatenumber.FeeRecord) string { return r.ServiceType }),
	stringField("host_name", func(r *privatenumber.FeeRecord) string { return r.HostName }),
	stringField("extend_num", extendNum),
	nullableInt32Field("call_duration", func(r *privatenumber.FeeRecord) *privatenumber.Int { return r.CallDuration }),
	stringField("area_code", func(r *privatenumber.FeeRecord) string { return r.AreaCode }),
	uint8Field("call_in_time_derived", func(r *privatenumber.FeeRecord) uint8 { return boolUInt8(r.CallInTimeDerived) }),
	anomaliesField("anomalies", func(r *privatenumber.FeeRecord) []privatenumber.Anomaly { return r.Anomalies }),
	rawField("raw", func(r *privatenumber.FeeRecord) *json.RawMessage { return &r.Raw }),
}

// eventFields are call_events' columns except ingested_at.
var eventFields = []field[privatenumber.CallEvent]{
	stringField("session_id", func(e *privatenumber.CallEvent) string { return e.SessionID }),
	stringField("event_type", func(e *privatenumber.CallEvent) string { return e.EventType }),
	timeField("event_time", func(e *privatenumber.CallEvent) time.Time { return e.Timestamp.UTC() }),
	stringField("caller", func(e *privatenumber.CallEvent) string { return e.Caller }),
	stringField("called", func(e *privatenumber.CallEvent) string { return e.Called }),
	stringField("subscription_id", func(e *privatenumber.CallEvent) string { return e.SubscriptionID }),
	stringField("digit_info", func(e *privatenumber.CallEvent) string { return e.DigitInfo }),
	nullableInt32Field("state_code", func(e *privatenumber.CallEvent) *privatenumber.Int { return e.StateCode }),
	stringField("state_desc", func(e *privatenumber.CallEvent) string { return e.StateDesc }),
	stringField("user_data", func(e *privatenumber.CallEvent) string { return e.UserData }),
	nullableUInt8Field("call_rel_direction", func(e *privatenumber.CallEvent) *privatenumber.Int { return e.CallRelDirection }),
	anomaliesField("anomalies", func(e *privatenumber.CallEvent) []privatenumber.Anomaly { return e.Anomalies }),
	rawField("raw", func(e *privatenumber.CallEvent) *json.RawMessage { return &e.Raw }),
}

// feeColumns and eventColumns are the same columns row by row.
var (
	feeColumns   = columnsOf(feeFields)
	eventColumns = columnsOf(eventFields)
)

// extendNum is the extension whichever way the platform spelled it. A
// decoded record has it in ExtendNum already; a record built by hand may
// carry only ExtendNumber.
func extendNum(r *privatenumber.FeeRecord) string {
	if r.ExtendNum != "" {
		return r.ExtendNum
	}
	return r.ExtendNumber
}

func feeID(r *privatenumber.FeeRecord) string { return r.ICID }

// feeSize and eventSize are about what a row takes in a block: its raw
// JSON, and the values taken from it once more.
func feeSize(r *privatenumber.FeeRecord) int { return 2 * len(r.Raw) }

func eventSize(e *privatenumber.CallEvent) int { return 2 * len(e.Raw) }

// nullableInt is *n converted, or nil.
func nullableInt[N int32 | uint8](n *privatenumber.Int) *N {
	v, ok := intValue[N](n)
	if !ok {
		return nil
	}
	return &v
}

func boolUInt8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// anomalies is the anomalies column: "field:kind" each.
func anomalies(as []privatenumber.Anomaly) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// InsertFees stores fee records in fee_records, one row per record, in one
// INSERT (or one per 100 months of callInTime; see partitionChunks), all
// with the same ingested_at, the current time in UTC. The records are
// stored as given: the phone-number policy (package pii) is the caller's
// step, the recorder's, before anything stores them.
//
// Re-inserting a record is harmless: rows of one icid collapse to the latest
// under FINAL. So after any error the caller may retry the whole slice, even
// if part of it was stored.
//
// Only a record without an icid cannot be stored: it is reported before
// anything is sent, as a *RowError, joined and marked permanent; BadRows
// lists them. A value outside its column's range is made to fit (see
// fitFee) and noted as an anomaly of the row, never refused. Server and
// network failures are transient unless the server blames the data (see
// classify).
func (w *Warehouse) InsertFees(ctx context.Context, recs []privatenumber.FeeRecord) error {
	if len(recs) == 0 {
		return nil
	}
	recs = fitRows(recs, fitFee)
	if err := checkRows(recs, checkFee, feeID); err != nil {
		return fmt.Errorf("insert fee batch: %w", err)
	}
	query := insertQuery(w.table("fee_records"), feeColumns, "ingested_at")
	ingestedAt := time.Now().UTC().Truncate(time.Second)
	month := func(i int) int { return yyyymm(recs[i].CallInTime.Time) }
	for _, c := range partitionChunks(len(recs), month, maxPartitionsPerInsert) {
		err := insertBlocks(ctx, w, query, recs, c, feeFields, feeID, feeSize, ingestedAt)
		if err != nil {
			return fmt.Errorf("insert fee batch: %w", err)
		}
	}
	return nil
}

// InsertEvents stores call events in call_events, one row per event, with
// the same guarantees and error reporting as InsertFees; an event is
// refused only for its identity (no sessionId or eventType, a timestamp a
// DateTime cannot hold). Rows of one (session_id, event_type, event_time)
// collapse under FINAL.
func (w *Warehouse) InsertEvents(ctx context.Context, events []privatenumber.CallEvent) error {
	if len(events) == 0 {
		return nil
	}
	events = fitRows(events, fitEvent)
	if err := checkRows(events, checkEvent, (*privatenumber.CallEvent).MsgID); err != nil {
		return fmt.Errorf("insert event batch: %w", err)
	}
	query := insertQuery(w.table("call_events"), eventColumns, "ingested_at")
	ingestedAt := time.Now().UTC().Truncate(time.Second)
	month := func(i int) int { return yyyymm(events[i].Timestamp.Time) }
	for _, c := range partitionChunks(len(events), month, maxPartitionsPerInsert) {
		err := insertBlocks(ctx, w, query, events, c, eventFields, (*privatenumber.CallEvent).MsgID, eventSize, ingestedAt)
		if err != nil {
			return fmt.Errorf("insert event batch: %w", err)
		}
	}
	return nil
}

// insertQuery names every column, cols and then extra: ClickHouse 18.16
// answers a bare "INSERT INTO t" batch from clickhouse-go with "expected 0
// arguments".
func insertQuery[T any](table string, cols []column[T], extra ...string) string {
	names := make([]string, 0, len(cols)+len(extra))
	for _, c := range cols {
		names = append(names, c.name)
	}
	names = append(names, extra...)
	return "INSERT INTO " + table + " (" + strings.Join(names, ", ") + ")"
}

// blockRows and blockBytes bound one block of an INSERT (insertBlocks):
// the driver holds one block's columns, then its encoded and compressed
// copy, so they bound its memory (a few times blockBytes) whatever the
// size of the batch. The server gathers the blocks of one INSERT into one
// part (min_insert_block_size_rows and _bytes: about a million rows or
// 256 MiB), so a large batch still costs ClickHouse a single part.
const (
	blockRows  = 4096
	blockBytes = 4 << 20
)

// insertBlocks sends rows[c.lo:c.hi] as one INSERT, in blocks of at most
// blockRows rows and about blockBytes of size (the rows' sizes as size
// tells: their raw JSON), filled a column at a time, each row followed by
// the batch-wide values of tail (the extra columns of insertQuery,
// time.Time each). If the driver refuses a column of a block (a value it
// cannot convert: a defect, as every field has its column's Go type), the
// chunk goes again row by row (insertRows), which names the row at fault
// before sending anything. The blocks sent before may be stored:
// harmless, as for the chunks of InsertFees, since rows of one identity
// collapse under FINAL.
func insertBlocks[T any](ctx context.Context, w *Warehouse, query string, rows []T, c chunk, fields []field[T], id func(*T) string, size func(*T) int, tail ...time.Time) error {
	b, err := w.conn.PrepareBatch(ctx, query)
	if err != nil {
		return fmt.Errorf("prepare: %w", classify(err))
	}
	var s scratch
	for lo := c.lo; lo < c.hi; {
		hi, bytes := lo, 0
		for hi < c.hi && hi-lo < blockRows && (hi == lo || bytes < blockBytes) {
			bytes += size(&rows[hi])
			hi++
		}
		if err := fillBlock(b, rows[lo:hi], fields, &s, tail); err != nil {
			// The driver has released the batch's connection already,
			// closed with the error; Abort only marks the batch done.
			_ = b.Abort()
			tailAny := make([]any, len(tail))
			for i, t := range tail {
				tailAny[i] = t
			}
			return insertRows(ctx, w, query, rows, c, columnsOf(fields), id, tailAny...)
		}
		if hi == c.hi {
			break
		}
		// The block goes now; the server keeps it until the INSERT ends.
		if err := b.Flush(); err != nil {
			return errors.Join(fmt.Errorf("send block of %d rows: %w", hi-lo, classify(err)), b.Abort())
		}
		lo = hi
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("send %d rows: %w", c.hi-c.lo, classify(err))
	}
	return nil
}

// fillBlock appends rows to the batch's current block, column by column.
func fillBlock[T any](b driver.Batch, rows []T, fields []field[T], s *scratch, tail []time.Time) error {
	for j, f := range fields {
		if err := f.fill(b.Column(j), rows, s); err != nil {
			return fmt.Errorf("column %s: %w", f.name, err)
		}
	}
	for k, t := range tail {
		vs := grow(&s.times, len(rows))
		for i := range vs {
			vs[i] = t
		}
		if err := b.Column(len(fields) + k).Append(vs); err != nil {
			return fmt.Errorf("column %d: %w", len(fields)+k, err)
		}
	}
	return nil
}

// insertRows sends rows[c.lo:c.hi] as one INSERT, each row followed by the
// values of tail (the batch-wide columns of insertQuery's extra). Nothing
// reaches the server before Send, so a failed Append leaves no partial
// insert behind.
func insertRows[T any](ctx context.Context, w *Warehouse, query string, rows []T, c chunk, cols []column[T], id func(*T) string, tail ...any) error {
	b, err := w.conn.PrepareBatch(ctx, query)
	if err != nil {
		return fmt.Errorf("prepare: %w", classify(err))
	}
	vals := make([]any, len(cols), len(cols)+len(tail))
	vals = append(vals, tail...)
	for i := c.lo; i < c.hi; i++ {
		r := &rows[i]
		for j, col := range cols {
			vals[j] = col.value(r)
		}
		if err := b.Append(vals...); err != nil {
			// The driver has already released the batch's connection;
			// Abort only marks the batch done.
			if be, ok := errors.AsType[*chproto.BlockError](err); ok && be.Op == "AppendRow" {
				// A value its column cannot take: this row is bad.
				return errors.Join(&RowError{Index: i, ID: id(r), Err: err}, b.Abort())
			}
			// The block and the statement disagree (a wrong number of
			// values): a defect of this package, not of the row.
			return errors.Join(fmt.Errorf("append row %d: %w", i, err), b.Abort())
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("send %d rows: %w", c.hi-c.lo, classify(err))
	}
	return nil
}

// checkRows runs check on every row and joins the failures as RowErrors.
func checkRows[T any](rows []T, check func(*T) error, id func(*T) string) error {
	var errs []error
	for i := range rows {
		if err := check(&rows[i]); err != nil {
			errs = append(errs, &RowError{Index: i, ID: id(&rows[i]), Err: err})
		}
	}
	return retry.Permanent(errors.Join(errs...))
}

// checkFee refuses what fee_records cannot store: a row without its
// identity.
func checkFee(r *privatenumber.FeeRecord) error {
	if r.ICID == "" {
		return errors.New("icid: empty")
	}
	return nil
}

// checkEvent refuses what call_events cannot store: an event without its
// identity, whose timestamp is part of it.
func checkEvent(e *privatenumber.CallEvent) error {
	var errs []error
	if e.SessionID == "" {
		errs = append(errs, errors.New("sessionId: empty"))
	}
	if e.EventType == "" {
		errs = append(errs, errors.New("eventType: empty"))
	}
	if e.Timestamp.IsZero() {
		errs = append(errs, errors.New("timestamp: absent"))
	} else if !fitsDateTime(e.Timestamp) {
		errs = append(errs, fmt.Errorf("timestamp %s: outside DateTime's range %s..%s", e.Timestamp.UTC().Format(time.DateTime), minDateTime.Format(time.DateTime), maxDateTime.Format(time.DateTime)))
	}
	return errors.Join(errs...)
}

// DateTime is seconds since the epoch as UInt32.
var (
	minDateTime = time.Unix(0, 0).UTC()
	maxDateTime = time.Unix(math.MaxUint32, 0).UTC()
)

// fitsDateTime reports whether a DateTime holds t.
func fitsDateTime(t privatenumber.Time) bool { return !t.Before(minDateTime) && !t.After(maxDateTime) }

// maxPartitionsPerInsert keeps every INSERT within the
// max_partitions_per_insert_block limit of current ClickHouse releases
// (default 100). Above it the server answers TOO_MANY_PARTS, which is
// otherwise transient, so a batch spanning more months (a replay of old
// CDRs) would be retried forever. ClickHouse 18.16 has no such limit.
const maxPartitionsPerInsert = 100

// chunk is the half-open range [lo, hi) of a batch's rows.
type chunk struct{ lo, hi int }

// partitionChunks splits rows 0..n-1, in order, into consecutive chunks
// that each touch at most limit distinct partitions, partition(i) being row
// i's partition. A batch of live traffic is a single chunk.
func partitionChunks(n int, partition func(i int) int, limit int) []chunk {
	var (
		chunks []chunk
		lo     int
		seen   = make(map[int]struct{})
	)
	for i := range n {
		p := partition(i)
		if _, ok := seen[p]; ok {
			continue
		}
		if len(seen) == limit {
			chunks = append(chunks, chunk{lo, i})
			lo = i
			clear(seen)
		}
		seen[p] = struct{}{}
	}
	if n > lo {
		chunks = append(chunks, chunk{lo, n})
	}
	return chunks
}

// yyyymm is the partition of a row, toYYYYMM of its DateTime in UTC.
func yyyymm(t time.Time) int {
	t = t.UTC()
	return t.Year()*100 + int(t.Month())
}
