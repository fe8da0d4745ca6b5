package warehouse

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

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

// feeColumns are fee_records' columns except ingested_at, which the batch
// sets. Values have the Go type clickhouse-go converts to the column type
// without reflection: int32 for Int32, uint8 for UInt8, time.Time for
// DateTime, pointers (nil = NULL) for Nullable columns and []string for
// Array(String). The integer narrowing is safe because fitFee brings every
// value within its column first.
var feeColumns = []column[privatenumber.FeeRecord]{
	{"direction", func(r *privatenumber.FeeRecord) any { return uint8(r.Direction) }},
	{"sp_id", func(r *privatenumber.FeeRecord) any { return r.SpID }},
	{"app_key", func(r *privatenumber.FeeRecord) any { return r.AppKey }},
	{"icid", func(r *privatenumber.FeeRecord) any { return r.ICID }},
	{"bind_num", func(r *privatenumber.FeeRecord) any { return r.BindNum }},
	{"session_id", func(r *privatenumber.FeeRecord) any { return r.SessionID }},
	{"subscription_id", func(r *privatenumber.FeeRecord) any { return r.SubscriptionID }},
	{"caller_num", func(r *privatenumber.FeeRecord) any { return r.CallerNum }},
	{"callee_num", func(r *privatenumber.FeeRecord) any { return r.CalleeNum }},
	{"fwd_display_num", func(r *privatenumber.FeeRecord) any { return r.FwdDisplayNum }},
	{"fwd_dst_num", func(r *privatenumber.FeeRecord) any { return r.FwdDstNum }},
	{"call_in_time", func(r *privatenumber.FeeRecord) any { return r.CallInTime.UTC() }},
	{"fwd_start_time", func(r *privatenumber.FeeRecord) any { return r.FwdStartTime.Ptr() }},
	{"fwd_alerting_time", func(r *privatenumber.FeeRecord) any { return r.FwdAlertingTime.Ptr() }},
	{"fwd_answer_time", func(r *privatenumber.FeeRecord) any { return r.FwdAnswerTime.Ptr() }},
	{"call_end_time", func(r *privatenumber.FeeRecord) any { return r.CallEndTime.Ptr() }},
	{"fail_time", func(r *privatenumber.FeeRecord) any { return r.FailTime.Ptr() }},
	{"record_start_time", func(r *privatenumber.FeeRecord) any { return r.RecordStartTime.Ptr() }},
	{"fwd_unasw_rsn", func(r *privatenumber.FeeRecord) any { return int32(r.FwdUnaswRsn) }},
	{"ul_fail_reason", func(r *privatenumber.FeeRecord) any { return int32(r.ULFailReason) }},
	{"sip_status_code", func(r *privatenumber.FeeRecord) any { return int32(r.SIPStatusCode) }},
	{"call_out_unasw_rsn", func(r *privatenumber.FeeRecord) any { return int32(r.CallOutUnaswRsn) }},
	{"record_flag", func(r *privatenumber.FeeRecord) any { return uint8(r.RecordFlag) }},
	{"record_domain", func(r *privatenumber.FeeRecord) any { return r.RecordDomain }},
	{"record_bucket_name", func(r *privatenumber.FeeRecord) any { return r.RecordBucketName }},
	{"record_object_name", func(r *privatenumber.FeeRecord) any { return r.RecordObjectName }},
	{"record_file_download_url", func(r *privatenumber.FeeRecord) any { return r.RecordFileDownloadURL }},
	{"tts_play_times", func(r *privatenumber.FeeRecord) any { return int32(r.TTSPlayTimes) }},
	{"tts_trans_duration", func(r *privatenumber.FeeRecord) any { return int32(r.TTSTransDuration) }},
	{"mpty_id", func(r *privatenumber.FeeRecord) any { return r.MptyID }},
	{"service_type", func(r *privatenumber.FeeRecord) any { return r.ServiceType }},
	{"host_name", func(r *privatenumber.FeeRecord) any { return r.HostName }},
	{"extend_num", func(r *privatenumber.FeeRecord) any { return extendNum(r) }},
	{"call_duration", func(r *privatenumber.FeeRecord) any { return nullableInt32(r.CallDuration) }},
	{"area_code", func(r *privatenumber.FeeRecord) any { return r.AreaCode }},
	{"call_in_time_derived", func(r *privatenumber.FeeRecord) any { return boolUInt8(r.CallInTimeDerived) }},
	{"anomalies", func(r *privatenumber.FeeRecord) any { return anomalies(r.Anomalies) }},
	{"raw", func(r *privatenumber.FeeRecord) any { return string(r.Raw) }},
}

// eventColumns are call_events' columns except ingested_at.
var eventColumns = []column[privatenumber.CallEvent]{
	{"session_id", func(e *privatenumber.CallEvent) any { return e.SessionID }},
	{"event_type", func(e *privatenumber.CallEvent) any { return e.EventType }},
	{"event_time", func(e *privatenumber.CallEvent) any { return e.Timestamp.UTC() }},
	{"caller", func(e *privatenumber.CallEvent) any { return e.Caller }},
	{"called", func(e *privatenumber.CallEvent) any { return e.Called }},
	{"subscription_id", func(e *privatenumber.CallEvent) any { return e.SubscriptionID }},
	{"digit_info", func(e *privatenumber.CallEvent) any { return e.DigitInfo }},
	{"state_code", func(e *privatenumber.CallEvent) any { return stateCode(e) }},
	{"state_desc", func(e *privatenumber.CallEvent) any { return e.StateDesc }},
	{"user_data", func(e *privatenumber.CallEvent) any { return e.UserData }},
	{"call_rel_direction", func(e *privatenumber.CallEvent) any { return nullableUInt8(e.CallRelDirection) }},
	{"anomalies", func(e *privatenumber.CallEvent) any { return anomalies(e.Anomalies) }},
	{"raw", func(e *privatenumber.CallEvent) any { return string(e.Raw) }},
}

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

func stateCode(e *privatenumber.CallEvent) *int32 { return nullableInt32(e.StateCode) }

func nullableInt32(n *privatenumber.Int) *int32 {
	if n == nil {
		return nil
	}
	v := int32(*n)
	return &v
}

func nullableUInt8(n *privatenumber.Int) *uint8 {
	if n == nil {
		return nil
	}
	v := uint8(*n)
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
		err := insertRows(ctx, w, query, recs, c, feeColumns, feeID, ingestedAt)
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
		err := insertRows(ctx, w, query, events, c, eventColumns, (*privatenumber.CallEvent).MsgID, ingestedAt)
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
