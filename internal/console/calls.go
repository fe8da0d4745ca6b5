package console

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Query is a search of calls. Empty fields select everything.
type Query struct {
	// Number is a subscriber's number in its stored form (the PII
	// policy applied): caller, callee, forward display or destination.
	Number string
	X      string // the privacy number X (bind_num)
	// SessionID, ICID and SubscriptionID match exactly.
	SessionID, ICID, SubscriptionID string
	From, To                        time.Time // call_in_time range, To exclusive
	Outcome                         string    // answered, unanswered or failed
	Limit, Offset                   int
}

// Outcomes a search may ask for (view call_outcomes).
var Outcomes = []string{"answered", "unanswered", "failed"}

// CallRow is one call of a search's results.
type CallRow struct {
	ICID, SessionID, X string
	CallIn             time.Time
	Outcome            string
	Duration           int64 // seconds, 0 when not answered
	Recorded           bool
	RecordingStatus    string // archived, failed or empty (none yet)
}

// RecordingLabel is how the results show the recording.
func (c CallRow) RecordingLabel() string {
	switch {
	case !c.Recorded:
		return "not recorded"
	case c.RecordingStatus == "":
		return "pending"
	default:
		return c.RecordingStatus
	}
}

// Call is everything the call page shows.
type Call struct {
	ICID, SessionID, SubscriptionID, X string
	Caller, Callee, FwdDisplay, FwdDst string
	CallIn                             time.Time
	FwdStart, FwdAlerting, FwdAnswer   *time.Time
	CallEnd, Fail, RecordStart         *time.Time
	ULFailReason, FwdUnaswRsn          int32
	CallOutUnaswRsn, SIPStatus         int32
	Recorded                           bool
	Outcome                            string
	Duration                           int64
	// Reasons explain the failure codes (kind, code, meaning).
	Reasons []Reason
	Events  []Event
	// Recording is nil when the call has no pn.recordings row.
	Recording *Recording
}

// Reason is a failure code with its meaning from pn.failure_reasons.
type Reason struct {
	Field       string // ulFailReason, fwdUnaswRsn, ...
	Code        int32
	Category    string
	Description string // empty when the dictionary does not know the code
}

// Event is one call event of the call's timeline.
type Event struct {
	Type, Caller, Called, DigitInfo, StateDesc string
	At                                         time.Time
	StateCode                                  *int32
	StateMeaning                               string
}

// Recording is a call's pn.recordings row.
type Recording struct {
	Bucket, ObjectKey, SHA256, ContentType, Status, Error string
	Size                                                  uint64
	MirroredAt                                            time.Time
}

// calls reads calls from ClickHouse.
type calls struct {
	conn driver.Conn
	db   string
}

func (c *calls) table(name string) string { return c.db + "." + name }

// Search returns the calls q selects, newest first, at most q.Limit.
func (c *calls) Search(ctx context.Context, q Query) ([]CallRow, error) {
	var conds []string
	var args []any
	add := func(cond string, a ...any) { conds, args = append(conds, cond), append(args, a...) }
	if q.Number != "" {
		// GLOBAL: on a cluster the subquery runs once, not on every shard.
		add("icid GLOBAL IN (SELECT icid FROM "+c.table("fee_records")+
			" WHERE caller_num = ? OR callee_num = ? OR fwd_display_num = ? OR fwd_dst_num = ?)", q.Number, q.Number, q.Number, q.Number)
	}
	if q.X != "" {
		add("bind_num = ?", q.X)
	}
	if q.SessionID != "" {
		add("session_id = ?", q.SessionID)
	}
	if q.ICID != "" {
		add("icid = ?", q.ICID)
	}
	if q.SubscriptionID != "" {
		add("subscription_id = ?", q.SubscriptionID)
	}
	if !q.From.IsZero() {
		add("call_in_time >= ?", q.From.UTC())
	}
	if !q.To.IsZero() {
		add("call_in_time < ?", q.To.UTC())
	}
	if q.Outcome != "" {
		add("outcome = ?", q.Outcome)
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	query := fmt.Sprintf(`SELECT icid, session_id, bind_num, call_in_time, outcome, duration_seconds, record_flag, rec_status
		FROM %s
		ANY LEFT JOIN (SELECT icid, status AS rec_status FROM %s FINAL) USING icid
		%s ORDER BY call_in_time DESC, icid LIMIT %d, %d`,
		c.table("call_outcomes"), c.table("recordings"), where, max(q.Offset, 0), q.Limit)
	rows, err := c.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search calls: %w", err)
	}
	defer rows.Close()
	var out []CallRow
	for rows.Next() {
		var r CallRow
		var flag uint8
		if err := rows.Scan(&r.ICID, &r.SessionID, &r.X, &r.CallIn, &r.Outcome, &r.Duration, &flag, &r.RecordingStatus); err != nil {
			return nil, fmt.Errorf("scan call: %w", err)
		}
		r.CallIn, r.Recorded = r.CallIn.UTC(), flag == 1
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search calls: %w", err)
	}
	return out, nil
}

// errNoCall is Call's answer for an unknown icid.
var errNoCall = fmt.Errorf("no such call")

// Call returns the call of icid with its events, reasons and recording, or
// errNoCall.
func (c *calls) Call(ctx context.Context, icid string) (*Call, error) {
	var k Call
	var flag uint8
	rows, err := c.conn.Query(ctx, `SELECT icid, session_id, subscription_id, bind_num, caller_num, callee_num, fwd_display_num, fwd_dst_num,
			call_in_time, fwd_start_time, fwd_alerting_time, fwd_answer_time, call_end_time, fail_time, record_start_time,
			ul_fail_reason, fwd_unasw_rsn, call_out_unasw_rsn, sip_status_code, record_flag
		FROM `+c.table("fee_records")+` FINAL WHERE icid = ? LIMIT 1`, icid)
	if err != nil {
		return nil, fmt.Errorf("read call %s: %w", icid, err)
	}
	found := rows.Next()
	if found {
		err = rows.Scan(&k.ICID, &k.SessionID, &k.SubscriptionID, &k.X, &k.Caller, &k.Callee, &k.FwdDisplay, &k.FwdDst,
			&k.CallIn, &k.FwdStart, &k.FwdAlerting, &k.FwdAnswer, &k.CallEnd, &k.Fail, &k.RecordStart,
			&k.ULFailReason, &k.FwdUnaswRsn, &k.CallOutUnaswRsn, &k.SIPStatus, &flag)
	}
	err = firstErr(err, rows.Err(), rows.Close())
	if err != nil {
		return nil, fmt.Errorf("read call %s: %w", icid, err)
	}
	if !found {
		return nil, errNoCall
	}
	k.Recorded = flag == 1
	k.CallIn = k.CallIn.UTC()
	for _, t := range []**time.Time{&k.FwdStart, &k.FwdAlerting, &k.FwdAnswer, &k.CallEnd, &k.Fail, &k.RecordStart} {
		if *t != nil {
			u := (*t).UTC()
			*t = &u
		}
	}
	if err := c.conn.QueryRow(ctx, "SELECT outcome, duration_seconds FROM "+c.table("call_outcomes")+" WHERE icid = ? LIMIT 1", icid).
		Scan(&k.Outcome, &k.Duration); err != nil {
		return nil, fmt.Errorf("read outcome of %s: %w", icid, err)
	}
	meanings, err := c.reasons(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range []struct {
		field, kind string
		code        int32
	}{
		{"ulFailReason", "ulFailReason", k.ULFailReason},
		{"fwdUnaswRsn", "q850", k.FwdUnaswRsn},
		{"callOutUnaswRsn", "q850", k.CallOutUnaswRsn},
	} {
		if r.code == 0 && r.field != "ulFailReason" {
			continue
		}
		m := meanings[reasonKey{r.kind, r.code}]
		k.Reasons = append(k.Reasons, Reason{Field: r.field, Code: r.code, Category: m.Category, Description: m.Description})
	}
	if k.SIPStatus != 0 {
		k.Reasons = append(k.Reasons, Reason{Field: "sipStatusCode", Code: k.SIPStatus, Category: "sip", Description: "SIP status of the failure"})
	}
	if k.Events, err = c.events(ctx, k.SessionID, meanings); err != nil {
		return nil, err
	}
	if k.Recording, err = c.recording(ctx, icid); err != nil {
		return nil, err
	}
	return &k, nil
}

type reasonKey struct {
	kind string
	code int32
}

// reasons reads the failure-reason dictionary (about 150 rows).
func (c *calls) reasons(ctx context.Context) (map[reasonKey]Reason, error) {
	rows, err := c.conn.Query(ctx, "SELECT kind, code, category, description FROM "+c.table("failure_reasons"))
	if err != nil {
		return nil, fmt.Errorf("read failure reasons: %w", err)
	}
	defer rows.Close()
	out := map[reasonKey]Reason{}
	for rows.Next() {
		var kind string
		var r Reason
		if err := rows.Scan(&kind, &r.Code, &r.Category, &r.Description); err != nil {
			return nil, fmt.Errorf("scan failure reason: %w", err)
		}
		out[reasonKey{kind, r.Code}] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read failure reasons: %w", err)
	}
	return out, nil
}

// events returns the call events of session, in time order.
func (c *calls) events(ctx context.Context, session string, meanings map[reasonKey]Reason) ([]Event, error) {
	rows, err := c.conn.Query(ctx, `SELECT event_type, event_time, caller, called, digit_info, state_code, state_desc
		FROM `+c.table("call_events")+` FINAL WHERE session_id = ? ORDER BY event_time, event_type`, session)
	if err != nil {
		return nil, fmt.Errorf("read events of %s: %w", session, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		if err := rows.Scan(&e.Type, &e.At, &e.Caller, &e.Called, &e.DigitInfo, &e.StateCode, &e.StateDesc); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		e.At = e.At.UTC()
		if e.StateCode != nil {
			e.StateMeaning = meanings[reasonKey{"stateCode", *e.StateCode}].Description
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events of %s: %w", session, err)
	}
	return out, nil
}

// recording returns icid's latest pn.recordings row, nil when none.
func (c *calls) recording(ctx context.Context, icid string) (*Recording, error) {
	rows, err := c.conn.Query(ctx, `SELECT bucket, object_key, sha256, content_type, status, error, size_bytes, mirrored_at
		FROM `+c.table("recordings")+` FINAL WHERE icid = ? LIMIT 1`, icid)
	if err != nil {
		return nil, fmt.Errorf("read recording of %s: %w", icid, err)
	}
	var r *Recording
	if rows.Next() {
		r = &Recording{}
		err = rows.Scan(&r.Bucket, &r.ObjectKey, &r.SHA256, &r.ContentType, &r.Status, &r.Error, &r.Size, &r.MirroredAt)
		r.MirroredAt = r.MirroredAt.UTC()
	}
	if err = firstErr(err, rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read recording of %s: %w", icid, err)
	}
	return r, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
