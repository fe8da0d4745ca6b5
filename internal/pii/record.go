package pii

import (
	"strings"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// Fees returns recs with the policy applied: a new slice of changed copies,
// or recs itself when the policy is raw. recs is not modified: the recorder
// hands the same records to the recording jobs at the same time.
func (p Policy) Fees(recs []privatenumber.FeeRecord) []privatenumber.FeeRecord {
	if p.Raw() {
		return recs
	}
	out := make([]privatenumber.FeeRecord, len(recs))
	for i := range recs {
		r := recs[i]
		// The privacy number X also appears as calleeNum or fwdDisplayNum;
		// it is the tenant's, and kept wherever it occurs.
		rep := p.feeReplacer(&r)
		num := func(n string) string {
			if n == r.BindNum {
				return n
			}
			return rep.number(p, n)
		}
		r.CallerNum, r.CalleeNum = num(r.CallerNum), num(r.CalleeNum)
		r.FwdDisplayNum, r.FwdDstNum = num(r.FwdDisplayNum), num(r.FwdDstNum)
		r.SessionID = p.SessionID(r.SessionID)
		r.Raw = rep.Bytes(r.Raw)
		out[i] = r
	}
	return out
}

// FeeSessionID returns the sessionId of r as Fees stores it: for the
// recording rows, which carry no numbers of their own but must join the CDR.
func (p Policy) FeeSessionID(r *privatenumber.FeeRecord) string {
	return p.SessionID(r.SessionID)
}

// SessionID returns the stored form of a sessionId: every "_"-separated
// part that is a phone number (7 to 15 digits, with or without "+") goes
// through Number. It depends on the sessionId alone, not on the record it
// came with, so call events, CDRs and recordings of one call keep joining
// on session_id under every policy. X is rewritten here too: a sessionId
// does not say which of its numbers is X.
func (p Policy) SessionID(s string) string {
	if p.Raw() || !strings.Contains(s, "_") {
		return s
	}
	parts := strings.Split(s, "_")
	for i, part := range parts {
		if isPhoneNumber(part) {
			parts[i] = p.Number(part)
		}
	}
	return strings.Join(parts, "_")
}

func isPhoneNumber(s string) bool {
	digits := strings.TrimPrefix(s, "+")
	if len(digits) < 7 || len(digits) > 15 {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// feeReplacer replaces the personal numbers of r: all but X.
func (p Policy) feeReplacer(r *privatenumber.FeeRecord) *Replacer {
	var numbers []string
	for _, n := range []string{r.CallerNum, r.CalleeNum, r.FwdDisplayNum, r.FwdDstNum} {
		if n != r.BindNum {
			numbers = append(numbers, n)
		}
	}
	return p.Replacer(numbers...)
}

// Events returns events with the policy applied, as Fees does.
func (p Policy) Events(events []privatenumber.CallEvent) []privatenumber.CallEvent {
	if p.Raw() {
		return events
	}
	out := make([]privatenumber.CallEvent, len(events))
	for i := range events {
		e := events[i]
		rep := p.Replacer(e.Caller, e.Called)
		e.Caller, e.Called = rep.number(p, e.Caller), rep.number(p, e.Called)
		e.SessionID = p.SessionID(e.SessionID)
		e.Raw = rep.Bytes(e.Raw)
		out[i] = e
	}
	return out
}
