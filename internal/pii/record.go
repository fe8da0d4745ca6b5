package pii

import (
	"github.com/pnstream/pnstream/internal/privatenumber"
)

// Fee returns r with the policy applied: the numbers in their fields, the
// sessionId and the raw JSON. r's raw JSON is not modified (a changed one is
// a new slice): the decoder may share it with the message, which a dead
// letter keeps as received. The icid is never changed, in its field or in
// the raw JSON; the raw JSON's sessionId becomes the stored one, so a record
// read back from the warehouse carries the sessionId of its row.
func (p Policy) Fee(r privatenumber.FeeRecord) privatenumber.FeeRecord {
	if p.Raw() {
		return r
	}
	// The privacy number X also appears as calleeNum or fwdDisplayNum; it
	// is the tenant's, and kept wherever it occurs.
	rep := p.feeReplacer(&r)
	sent, stored := r.SessionID, p.FeeSessionID(&r)
	num := func(n string) string {
		if n == r.BindNum {
			return n
		}
		return rep.number(p, n)
	}
	r.CallerNum, r.CalleeNum = num(r.CallerNum), num(r.CalleeNum)
	r.FwdDisplayNum, r.FwdDstNum = num(r.FwdDisplayNum), num(r.FwdDstNum)
	r.SessionID = stored
	r.Raw = rewriteRaw(r.Raw, sent, stored, rep)
	return r
}

// FeeSessionID returns the sessionId of r as Fee stores it, which the
// recording job and row built from the stored record carry too: they have
// no numbers of their own but must join the CDR.
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

// Event returns e with the policy applied, as Fee does.
func (p Policy) Event(e privatenumber.CallEvent) privatenumber.CallEvent {
	if p.Raw() {
		return e
	}
	rep := p.Replacer(e.Caller, e.Called)
	sent, stored := e.SessionID, p.EventSessionID(&e)
	e.Caller, e.Called = rep.number(p, e.Caller), rep.number(p, e.Called)
	e.SessionID = stored
	e.Raw = rewriteRaw(e.Raw, sent, stored, rep)
	return e
}

// EventSessionID returns the sessionId of e as Event stores it.
func (p Policy) EventSessionID(e *privatenumber.CallEvent) string {
	return p.SessionID(e.SessionID, e.Caller, e.Called)
}
