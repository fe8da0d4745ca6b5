// Package erasure erases one subscriber's data on request (a data
// subject's right to erasure): the CDRs and call events of every call the
// number took part in, the calls' recordings in S3 and their pn.recordings
// rows, except what is under legal hold, which is kept. It reports item by
// item what it found where, and what it removed or kept and why, including
// what pnstream keeps on purpose (the access log) or cannot erase (the
// JetStream streams, until their age limit).
//
// Numbers are found in their stored form (package pii): as sent under
// raw; under hmac by hashing the number with the same key; under masked a
// number cannot be found (the stored form keeps four digits, shared by
// many subscribers), and Erase refuses with ErrMasked instead of erasing
// other people's calls.
package erasure

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/pnstream/pnstream/internal/audit"
	"github.com/pnstream/pnstream/internal/holds"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/retention"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// ErrMasked: under PN_PII_MODE=masked a subscriber's rows cannot be told
// apart from others' sharing the country code and last four digits.
var ErrMasked = errors.New("PN_PII_MODE is masked: stored numbers keep only the country code and last four digits, so one subscriber's rows cannot be found (or erased) by number; erase by icid or sessionId instead")

// ErrNoNumber: the number is empty or too short to be a subscriber's.
var ErrNoNumber = errors.New("want a subscriber's phone number (7 digits at least)")

// Outcomes of an Item.
const (
	Removed     = "removed"
	WouldRemove = "would remove" // dry run
	Kept        = "kept"
	NotFound    = "not found"
)

// Item is one line of the report: what, where, and what became of it.
type Item struct {
	What    string // "CDR icid=…", "3 call events of session s", "recording icid=…"
	Where   string // table or bucket/key
	Outcome string // Removed, WouldRemove, Kept, NotFound
	Why     string
}

// Report is the result of one erasure.
type Report struct {
	// Number is the number as searched: its stored form under the PII
	// mode (hashed under hmac), never the number typed.
	Number   string
	Mode     string
	DryRun   bool
	Started  time.Time
	Finished time.Time
	Items    []Item
	// Counts of what was (or would be) removed and kept.
	CDRs, Events, Recordings, RecordingRows int
	KeptCalls                               int
}

// Eraser erases subscribers' data from the warehouse and the archive.
type Eraser struct {
	conn    driver.Conn
	db      string
	holds   *holds.Holds // nil: no archive configured
	policy  pii.Policy
	auditor Auditor
	// streams describes what the JetStream streams keep, for the report.
	streams string
	now     func() time.Time
}

// Auditor records an access (audit.Log).
type Auditor interface {
	Record(ctx context.Context, e audit.Entry) error
}

var _ Auditor = (*audit.Log)(nil)

// New returns the Eraser of wh's tables and h's archive (nil when S3 is
// not configured: recordings are then reported, not removed), finding
// numbers under policy. streamsNote says how long the JetStream streams
// keep the pushes (for the report). It does no I/O.
func New(wh *warehouse.Warehouse, h *holds.Holds, policy pii.Policy, a Auditor, streamsNote string) *Eraser {
	return &Eraser{conn: wh.Conn(), db: wh.Database(), holds: h, policy: policy, auditor: a, streams: streamsNote, now: time.Now}
}

// Forms returns the stored forms of number under policy: as given and
// with or without the leading "+" (the platform sends E.164 with "+", a
// request may come without), each transformed as the recorder stores it.
// It fails with ErrMasked under masked and ErrNoNumber for a number too
// short.
func Forms(policy pii.Policy, number string) ([]string, error) {
	number = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '(' || r == ')' {
			return -1
		}
		return r
	}, number)
	digits := strings.TrimPrefix(number, "+")
	if len(digits) < 7 || strings.Trim(digits, "0123456789") != "" {
		return nil, ErrNoNumber
	}
	if policy.Mode() == pii.ModeMasked {
		return nil, ErrMasked
	}
	return []string{policy.Number("+" + digits), policy.Number(digits)}, nil
}

// Erase erases the data of number (or, with dryRun, only reports what it
// would erase) and records the erasure in the access log as who, from
// where, before returning. The report lists every item; an error after
// some removals leaves them done and reported.
func (e *Eraser) Erase(ctx context.Context, number string, dryRun bool, who, from string) (Report, error) {
	rep := Report{Mode: e.policy.Mode(), DryRun: dryRun, Started: e.now().UTC()}
	forms, err := Forms(e.policy, number)
	if err != nil {
		return rep, fmt.Errorf("erase: %w", err)
	}
	rep.Number = forms[0]
	err = e.erase(ctx, &rep, forms)
	rep.Finished = e.now().UTC()
	if e.auditor != nil {
		detail := rep.Summary()
		if err != nil {
			detail += "; failed: " + err.Error()
		}
		action := audit.ActionErase
		if dryRun {
			action += " (dry run)"
		}
		if aerr := e.auditor.Record(ctx, audit.Entry{At: rep.Finished, Who: who, Role: "operator", Action: action, Target: rep.Number, From: from, Detail: detail}); aerr != nil {
			err = errors.Join(err, fmt.Errorf("erase: audit record: %w", aerr))
		}
	}
	return rep, err
}

// call is one call the number took part in.
type call struct {
	icid, session string
}

func (e *Eraser) erase(ctx context.Context, rep *Report, forms []string) error {
	calls, sessions, err := e.find(ctx, forms)
	if err != nil {
		return err
	}
	heldICIDs, heldSessions, err := e.heldCalls(ctx)
	if err != nil {
		return err
	}
	var eraseICIDs, eraseSessions []string
	for _, c := range calls {
		if slices.Contains(heldICIDs, c.icid) || slices.Contains(heldSessions, c.session) {
			rep.KeptCalls++
			rep.Items = append(rep.Items, Item{What: "call icid=" + c.icid + " (CDR, events, recording)", Where: "fee_records, call_events, recordings", Outcome: Kept, Why: "under legal hold"})
			continue
		}
		eraseICIDs = append(eraseICIDs, c.icid)
	}
	for _, s := range sessions {
		if !slices.Contains(heldSessions, s) {
			eraseSessions = append(eraseSessions, s)
		}
	}
	if len(calls) == 0 && len(sessions) == 0 {
		rep.Items = append(rep.Items, Item{What: "calls of the number", Where: "fee_records, call_events", Outcome: NotFound})
	}
	removed := Removed
	if rep.DryRun {
		removed = WouldRemove
	}

	// Recordings first: a row is removed only once its object is.
	recs, err := e.recordings(ctx, eraseICIDs)
	if err != nil {
		return err
	}
	var rowICIDs []string
	for _, r := range recs {
		item := Item{What: "recording icid=" + r.ICID, Where: r.Bucket + "/" + r.ObjectKey}
		switch {
		case r.Status != recording.Archived:
			item.What, item.Where, item.Outcome, item.Why = "recording row icid="+r.ICID, "recordings", removed, "mirroring "+r.Status+": no object"
			rowICIDs = append(rowICIDs, r.ICID)
		case e.holds == nil:
			item.Outcome, item.Why = Kept, "S3 is not configured here (PN_S3_ENDPOINT): the object and its row are left; run again with the archive's settings"
		case rep.DryRun:
			held, err := e.holds.HeldIn(ctx, r.Bucket, r.ObjectKey)
			if err != nil {
				return fmt.Errorf("erase: %w", err)
			}
			item.Outcome = removed
			if held {
				item.Outcome, item.Why = Kept, "under legal hold in S3"
			} else {
				rowICIDs = append(rowICIDs, r.ICID)
			}
		default:
			rm, err := e.holds.Remove(ctx, r.Bucket, r.ObjectKey)
			if err != nil {
				return fmt.Errorf("erase: recording %s: %w", r.ICID, err)
			}
			switch rm.Outcome {
			case holds.Removed, holds.Absent:
				item.Outcome = removed
				if rm.Outcome == holds.Absent {
					item.Why = "object already gone"
				} else {
					item.Why = fmt.Sprintf("%d versions deleted", rm.Versions)
				}
				rowICIDs = append(rowICIDs, r.ICID)
			case holds.Kept:
				item.Outcome, item.Why = Kept, "under legal hold in S3"
			case holds.Locked:
				item.Outcome, item.Why = Kept, "S3 object-lock retention refused the delete: "+rm.Detail
			}
		}
		if item.Outcome == removed && r.Status == recording.Archived {
			rep.Recordings++
		}
		rep.Items = append(rep.Items, item)
	}
	rep.RecordingRows = len(rowICIDs)

	// Then the rows.
	for _, t := range []struct {
		table, col, what string
		keys             []string
		count            *int
	}{
		{"fee_records", "icid", "CDR", eraseICIDs, &rep.CDRs},
		{"call_events", "session_id", "call events", eraseSessions, &rep.Events},
		{"recordings", "icid", "recording rows", rowICIDs, nil},
	} {
		if len(t.keys) == 0 {
			continue
		}
		where := t.col + " IN (" + retention.Placeholders(len(t.keys)) + ")"
		var n uint64
		if rep.DryRun {
			err = e.conn.QueryRow(ctx, "SELECT count() FROM "+e.db+"."+t.table+" WHERE "+where, retention.Args(t.keys)...).Scan(&n)
		} else {
			n, err = retention.Delete(ctx, e.conn, e.db, t.table, where, retention.Args(t.keys)...)
		}
		if err != nil {
			return fmt.Errorf("erase: %s: %w", t.table, err)
		}
		if t.count != nil {
			*t.count = int(n)
		}
		rep.Items = append(rep.Items, Item{What: fmt.Sprintf("%d %s (stored copies) of %d %s", n, t.what, len(t.keys), t.col+"s"), Where: t.table, Outcome: removed})
	}
	return e.kept(ctx, rep, forms)
}

// find returns the calls whose CDR holds one of forms, in a number column
// or inside its sessionId, and the sessions whose events do, with the
// sessions of those calls.
func (e *Eraser) find(ctx context.Context, forms []string) ([]call, []string, error) {
	args := retention.Args(forms)
	in := " IN (" + retention.Placeholders(len(forms)) + ")"
	// A sessionId the platform built from the numbers holds them as
	// "_"-separated parts, stored with a "~digest" suffix under masked and
	// hmac (pii.Policy.SessionID).
	inSession := "hasAny(splitByChar('_', replaceRegexpOne(session_id, '~[0-9a-f]{24}$', '')), [" + retention.Placeholders(len(forms)) + "])"
	feeWhere := "caller_num" + in + " OR callee_num" + in + " OR fwd_display_num" + in + " OR fwd_dst_num" + in + " OR " + inSession
	rows, err := e.conn.Query(ctx, "SELECT DISTINCT icid, session_id FROM "+e.db+".fee_records WHERE "+feeWhere+" ORDER BY icid",
		slices.Concat(args, args, args, args, args)...)
	if err != nil {
		return nil, nil, fmt.Errorf("erase: find CDRs: %w", err)
	}
	var calls []call
	sessions := map[string]bool{}
	for rows.Next() {
		var c call
		if err := rows.Scan(&c.icid, &c.session); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("erase: find CDRs: %w", err)
		}
		calls = append(calls, c)
		sessions[c.session] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("erase: find CDRs: %w", err)
	}
	evWhere := "caller" + in + " OR called" + in + " OR " + inSession
	rows, err = e.conn.Query(ctx, "SELECT DISTINCT session_id FROM "+e.db+".call_events WHERE "+evWhere, slices.Concat(args, args, args)...)
	if err != nil {
		return nil, nil, fmt.Errorf("erase: find call events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, nil, fmt.Errorf("erase: find call events: %w", err)
		}
		sessions[s] = true
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("erase: find call events: %w", err)
	}
	// The CDRs of the sessions found by their events only.
	var extra []string
	for s := range sessions {
		if !slices.ContainsFunc(calls, func(c call) bool { return c.session == s }) {
			extra = append(extra, s)
		}
	}
	if len(extra) > 0 {
		rows, err := e.conn.Query(ctx, "SELECT DISTINCT icid, session_id FROM "+e.db+".fee_records WHERE session_id IN ("+retention.Placeholders(len(extra))+")", retention.Args(extra)...)
		if err != nil {
			return nil, nil, fmt.Errorf("erase: find CDRs of sessions: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var c call
			if err := rows.Scan(&c.icid, &c.session); err != nil {
				return nil, nil, fmt.Errorf("erase: find CDRs of sessions: %w", err)
			}
			calls = append(calls, c)
		}
		if err := rows.Err(); err != nil {
			return nil, nil, fmt.Errorf("erase: find CDRs of sessions: %w", err)
		}
	}
	return calls, slices.Sorted(func(yield func(string) bool) {
		for s := range sessions {
			if !yield(s) {
				return
			}
		}
	}), nil
}

func (e *Eraser) heldCalls(ctx context.Context) (icids, sessions []string, err error) {
	rows, err := e.conn.Query(ctx, `SELECT icid, argMax(session_id, version), argMax(action, version) AS last
		FROM `+e.db+`.`+holds.Table+` GROUP BY icid HAVING last = ?`, holds.ActionPut)
	if err != nil {
		return nil, nil, fmt.Errorf("erase: held calls: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var icid, session, last string
		if err := rows.Scan(&icid, &session, &last); err != nil {
			return nil, nil, fmt.Errorf("erase: held calls: %w", err)
		}
		icids = append(icids, icid)
		if session != "" {
			sessions = append(sessions, session)
		}
	}
	return icids, sessions, rows.Err()
}

// recordings returns the latest pn.recordings row of each of icids.
func (e *Eraser) recordings(ctx context.Context, icids []string) ([]recording.Row, error) {
	if len(icids) == 0 {
		return nil, nil
	}
	rows, err := e.conn.Query(ctx, `SELECT icid, bucket, object_key, status FROM `+e.db+`.recordings FINAL WHERE icid IN (`+
		retention.Placeholders(len(icids))+`) ORDER BY icid`, retention.Args(icids)...)
	if err != nil {
		return nil, fmt.Errorf("erase: recordings: %w", err)
	}
	defer rows.Close()
	var out []recording.Row
	for rows.Next() {
		var r recording.Row
		if err := rows.Scan(&r.ICID, &r.Bucket, &r.ObjectKey, &r.Status); err != nil {
			return nil, fmt.Errorf("erase: recordings: %w", err)
		}
		if r.Bucket == "" && e.holds != nil {
			r.Bucket = e.holds.Bucket()
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// kept reports what pnstream keeps on purpose or cannot erase here.
func (e *Eraser) kept(ctx context.Context, rep *Report, forms []string) error {
	var n uint64
	q := "SELECT count() FROM " + e.db + "." + audit.Table + " WHERE " + strings.TrimSuffix(strings.Repeat("position(target, ?) > 0 OR position(detail, ?) > 0 OR ", len(forms)), " OR ")
	var args []any
	for _, f := range forms {
		args = append(args, f, f)
	}
	if err := e.conn.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return fmt.Errorf("erase: access log: %w", err)
	}
	rep.Items = append(rep.Items,
		Item{What: fmt.Sprintf("%d access log entries naming the number", n), Where: audit.Table, Outcome: Kept,
			Why: "the access log is append-only evidence of who accessed what; nothing in pnstream deletes from it"},
		Item{What: "legal hold history", Where: holds.Table, Outcome: Kept, Why: "holds name calls by icid, not by number; a held call is kept whole"},
		Item{What: "X-number states", Where: "number_status", Outcome: Kept, Why: "holds the tenant's own privacy numbers (X), not subscribers'"},
		Item{What: "pushes as received", Where: "JetStream PN_FEES, PN_EVENTS, PN_REJECTED, PN_DEAD", Outcome: Kept, Why: "not erased by pnstream: " + e.streams},
	)
	return nil
}

// Summary renders the report's counts on one line.
func (r Report) Summary() string {
	verb := "removed"
	if r.DryRun {
		verb = "would remove"
	}
	return fmt.Sprintf("number %s (pii %s): %s %d CDRs, %d call events, %d recordings, %d recording rows; %d calls kept under legal hold",
		r.Number, r.Mode, verb, r.CDRs, r.Events, r.Recordings, r.RecordingRows, r.KeptCalls)
}
