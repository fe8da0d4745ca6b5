package pii

import (
	"github.com/pnstream/pnstream/internal/privatenumber"
)

// Fees returns recs with the policy applied: a new slice of changed copies,
// or recs itself when the policy is raw. recs is not modified: the recorder
// hands the same records to the recording jobs at the same time. The icid
// is never changed, in its column or in the raw JSON; the raw JSON's
// sessionId becomes the stored one, so a record read back from the
// warehouse carries the sessionId of its row.
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
		r.SessionID = p.FeeSessionID(&recs[i])
		r.Raw = rewriteRaw(r.Raw, recs[i].SessionID, r.SessionID, rep)
		out[i] = r
	}
	return out
}

// FeeSessionID returns the sessionId of r as Fees stores it: for the
// recording jobs and rows, which carry no numbers of their own but must
// join the CDR.
func (p Policy) FeeSessionID(r *privatenumber.FeeRecord) string {
	return p.SessionID(r.SessionID, feeNumbers(r)...)
}

// feeNumbers are the numbers a CDR carries, X included: the gate of
// SessionID must not depend on which of them is X.
func feeNumbers(r *privatenumber.FeeRecord) []string {
	return []string{r.CallerNum, r.CalleeNum, r.FwdDisplayNum, r.FwdDstNum, r.BindNum}
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
		e.SessionID = p.EventSessionID(&events[i])
		e.Raw = rewriteRaw(e.Raw, events[i].SessionID, e.SessionID, rep)
		out[i] = e
	}
	return out
}

// EventSessionID returns the sessionId of e as Events stores it.
func (p Policy) EventSessionID(e *privatenumber.CallEvent) string {
	return p.SessionID(e.SessionID, e.Caller, e.Called)
}
