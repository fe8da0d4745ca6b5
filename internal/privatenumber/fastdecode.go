package privatenumber

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pnstream/pnstream/internal/privatenumber/internal/jsonscan"
)

// The decoding fast path: fee pushes, call event pushes and fee records
// decoded in one pass
// over the body (jsonscan finds the values; feeKey says which field each
// key fills), each record decoded from its own bytes, which are kept as
// its Raw. Whenever anything is unusual (an error of any kind, top-level
// keys escaped, duplicated or matching a key only case-insensitively,
// nesting beyond jsonscan.MaxDepth) it reports failure and the caller
// decodes with encoding/json instead, so results and error messages are
// exactly those of encoding/json. A record's keys are matched as
// encoding/json matches them (feeKey).

// decodeFeePushFast decodes a fee push. It reports false when the body is
// not a plain, well-formed fee push that kind accepts, or has anything the
// fast path leaves to encoding/json; Decode then decodes it the slow way.
// It stops with an error as soon as a 51st record appears (as preScan
// would), and rejects the records over limit bytes.
//
// One pass over the body checks it and finds each record's field values
// without allocating (scanning it a second time, record by record, was a
// third of the decoding's cost); records are built only for a body the
// fast path takes, so a body left to encoding/json costs no decoding
// twice.
func decodeFeePushFast(body []byte, kind Kind, limit int) (p *Push, err error, ok bool) {
	if kind == EventPush {
		return nil, nil, false
	}
	s := jsonscan.New(body)
	var (
		eventType  jsonscan.String
		haveType   bool
		records    [MaxFeeRecords]span // where each element of feeLst is
		values     [MaxFeeRecords]feeValues
		n          int
		haveFeeLst bool
		tooMany    bool
	)
	ok = s.Members(false, func(key []byte) bool {
		switch string(key) {
		case "eventType":
			if haveType || s.Peek() != '"' {
				return false
			}
			haveType = true
			var ok bool
			eventType, ok = s.Str()
			return ok && !eventType.Escaped
		case "feeLst":
			if haveFeeLst || !s.Consume('[') {
				return false
			}
			haveFeeLst = true
			if s.Consume(']') {
				return true
			}
			for {
				if n == MaxFeeRecords {
					tooMany = true
					return false
				}
				if s.Peek() != '{' {
					return false
				}
				start := s.Pos()
				if !scanFeeValues(&s, &values[n]) {
					return false
				}
				records[n] = span{start, s.Pos()}
				n++
				if s.Consume(',') {
					continue
				}
				return s.Consume(']')
			}
		case "statusInfo":
			// Decoded into a struct by the slow path, where a wrong one
			// fails the whole body; only its absence is plain.
			k, _, ok := s.Value(1)
			return ok && k == jsonscan.KindNull
		default:
			if foldsToKnown(key, pushKeys) {
				return false
			}
			_, _, ok := s.Value(1)
			return ok
		}
	})
	if tooMany {
		return nil, errTooManyFees(), true
	}
	if !ok || !s.AtEnd() || !haveType || string(body[eventType.Start:eventType.End]) != EventTypeFee || n == 0 {
		return nil, nil, false
	}

	// One string for every field of every record: one allocation.
	text := string(body)
	p = &Push{EventType: EventTypeFee, Fees: make([]FeeRecord, 0, n)}
	for i, sp := range records[:n] {
		raw := body[sp.start:sp.end:sp.end]
		if len(raw) > limit {
			p.Rejected = append(p.Rejected, RejectedRecord{Index: i, Raw: raw, Err: FieldErrors{tooLarge(feePath(i), "record", len(raw), limit)}})
			continue
		}
		v := &values[i]
		v.b, v.text = body, text
		r, err := v.record(feePath(i), raw)
		if err != nil {
			p.Rejected = append(p.Rejected, RejectedRecord{Index: i, Raw: raw, Err: asFieldErrors(err)})
			continue
		}
		p.Fees = append(p.Fees, r)
	}
	return p, nil, true
}

// span is where a value is in a body.
type span struct{ start, end int }

// pushKeys are the top-level keys of a push that pnstream decodes.
var pushKeys = []string{"eventType", "statusInfo", "feeLst"}

// feePaths are the paths of feeLst's elements, made once.
var feePaths = func() []string {
	p := make([]string, MaxFeeRecords)
	for i := range p {
		p[i] = "feeLst[" + strconv.Itoa(i) + "]"
	}
	return p
}()

// feePath returns "feeLst[i]".
func feePath(i int) string {
	if i < len(feePaths) {
		return feePaths[i]
	}
	return "feeLst[" + strconv.Itoa(i) + "]"
}

// foldsToKnown reports whether key is not one of names but encoding/json
// would still match it to one of them (it matches names case-insensitively,
// with Unicode folding for non-ASCII keys).
func foldsToKnown(key []byte, names []string) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return true // left to encoding/json's folding
		}
	}
	for _, n := range names {
		if len(n) == len(key) && strings.EqualFold(n, string(key)) {
			return true
		}
	}
	return false
}

// decodeFeeFast decodes one fee record from raw, which must be exactly one
// JSON object: the record, or its identity errors. It reports false for
// anything it leaves to encoding/json (malformed JSON). With share, the
// record's strings share one copy of raw (one allocation); without, each
// is copied on its own (no more than the string fields).
func decodeFeeFast(path string, raw []byte, share bool) (FeeRecord, error, bool) {
	s := jsonscan.New(raw)
	v := feeValues{b: raw}
	if share {
		v.text = string(raw)
	}
	if !scanFeeValues(&s, &v) || !s.AtEnd() {
		return FeeRecord{}, nil, false
	}
	r, err := v.record(path, raw)
	return r, err, true
}

// scanFeeValues finds the values of the documented fields of the object
// at s (after optional whitespace), as encoding/json would match its keys
// (feeKey), the last member of a field winning. It reports false when the
// object is malformed, for encoding/json to say how.
func scanFeeValues(s *jsonscan.Scanner, v *feeValues) bool {
	return s.Members(true, func(key []byte) bool {
		_, start, ok := s.Value(1)
		if !ok {
			return false
		}
		if f, known := feeKey(key); known {
			v.set(f, start, s.Pos())
		}
		return true
	})
}

// feeKey returns the field encoding/json stores key in: the field spelt
// as key, or the one it folds to (encoding/json matches names
// case-insensitively, with Unicode simple folding, as bytes.EqualFold).
func feeKey(key []byte) (int, bool) {
	if f, ok := feeKeyExact(key); ok {
		return f, true
	}
	for f, n := range feeKeys {
		if bytes.EqualFold(key, []byte(n)) {
			return f, true
		}
	}
	return 0, false
}

// feeKeyExact returns the field spelt as key (a switch: faster than a map
// for these few).
func feeKeyExact(key []byte) (int, bool) {
	switch string(key) {
	case "direction":
		return feeDirection, true
	case "spId":
		return feeSpID, true
	case "appKey":
		return feeAppKey, true
	case "icid":
		return feeICID, true
	case "bindNum":
		return feeBindNum, true
	case "sessionId":
		return feeSessionID, true
	case "subscriptionId":
		return feeSubscriptionID, true
	case "callerNum":
		return feeCallerNum, true
	case "calleeNum":
		return feeCalleeNum, true
	case "fwdDisplayNum":
		return feeFwdDisplayNum, true
	case "fwdDstNum":
		return feeFwdDstNum, true
	case "callInTime":
		return feeCallInTime, true
	case "fwdStartTime":
		return feeFwdStartTime, true
	case "fwdAlertingTime":
		return feeFwdAlertingTime, true
	case "fwdAnswerTime":
		return feeFwdAnswerTime, true
	case "callEndTime":
		return feeCallEndTime, true
	case "failTime":
		return feeFailTime, true
	case "recordStartTime":
		return feeRecordStartTime, true
	case "fwdUnaswRsn":
		return feeFwdUnaswRsn, true
	case "ulFailReason":
		return feeULFailReason, true
	case "sipStatusCode":
		return feeSIPStatusCode, true
	case "callOutUnaswRsn":
		return feeCallOutUnaswRsn, true
	case "recordFlag":
		return feeRecordFlag, true
	case "recordDomain":
		return feeRecordDomain, true
	case "recordBucketName":
		return feeRecordBucketName, true
	case "recordObjectName":
		return feeRecordObjectName, true
	case "recordFileDownloadUrl":
		return feeRecordFileDownloadURL, true
	case "ttsPlayTimes":
		return feeTTSPlayTimes, true
	case "ttsTransDuration":
		return feeTTSTransDuration, true
	case "mptyId":
		return feeMptyID, true
	case "serviceType":
		return feeServiceType, true
	case "hostName":
		return feeHostName, true
	case "extendNum":
		return feeExtendNum, true
	case "extendNumber":
		return feeExtendNumber, true
	case "callDuration":
		return feeCallDuration, true
	case "areaCode":
		return feeAreaCode, true
	}
	return 0, false
}

// decodeEventPushFast decodes a call event push: eventType and the members
// of statusInfo found in one pass (statusKey says which field each key
// fills), then read as the slow path reads them. It reports false when
// the body is not a plain, well-formed event push that kind accepts, or
// has anything the fast path leaves to encoding/json (escaped, duplicated
// or case-folded keys, a non-string eventType, statusInfo not an object,
// a body over limit); Decode then decodes it the slow way.
func decodeEventPushFast(body []byte, kind Kind, limit int) (p *Push, err error, ok bool) {
	if kind == FeePush || kind == NumStatusPush || len(body) > limit {
		return nil, nil, false
	}
	s := jsonscan.New(body)
	var (
		eventType            jsonscan.String
		haveType, haveStatus bool
		status               statusJSON
	)
	ok = s.Members(false, func(key []byte) bool {
		switch string(key) {
		case "eventType":
			if haveType || s.Peek() != '"' {
				return false
			}
			haveType = true
			var ok bool
			eventType, ok = s.Str()
			return ok && !eventType.Escaped && !eventType.High
		case "statusInfo":
			if haveStatus || s.Peek() != '{' {
				return false
			}
			haveStatus = true
			return scanStatus(&s, body, &status)
		default:
			if foldsToKnown(key, pushKeys) {
				return false
			}
			_, _, ok := s.Value(1)
			return ok
		}
	})
	if !ok || !s.AtEnd() || !haveType || !haveStatus {
		return nil, nil, false
	}
	t := string(body[eventType.Start:eventType.End])
	if t == EventTypeFee || t == EventTypeNumStatus {
		return nil, nil, false
	}
	e, errs := newCallEvent(t, body)
	if e, err = e.withStatus(&status, errs); err != nil {
		return nil, err, true
	}
	return &Push{EventType: e.EventType, Event: &e}, nil, true
}

// statusKeys are statusJSON's keys.
var statusKeys = []string{"timestamp", "sessionId", "caller", "called", "subscriptionId", "digitInfo",
	"stateCode", "stateDesc", "userData", "callRelDirection"}

// scanStatus fills st with the values of the statusInfo object at the
// scanner, as encoding/json would (each value's bytes), or reports false
// for what it leaves to encoding/json.
func scanStatus(s *jsonscan.Scanner, body []byte, st *statusJSON) bool {
	return s.Members(false, func(key []byte) bool {
		f := st.field(key)
		if f == nil {
			if foldsToKnown(key, statusKeys) {
				return false
			}
			_, _, ok := s.Value(2)
			return ok
		}
		if *f != nil {
			return false // encoding/json keeps the last; left to it
		}
		_, start, ok := s.Value(2)
		*f = body[start:s.Pos():s.Pos()]
		return ok
	})
}

// field is the member of st that key names exactly, or nil.
func (st *statusJSON) field(key []byte) *json.RawMessage {
	switch string(key) {
	case "timestamp":
		return &st.Timestamp
	case "sessionId":
		return &st.SessionID
	case "caller":
		return &st.Caller
	case "called":
		return &st.Called
	case "subscriptionId":
		return &st.SubscriptionID
	case "digitInfo":
		return &st.DigitInfo
	case "stateCode":
		return &st.StateCode
	case "stateDesc":
		return &st.StateDesc
	case "userData":
		return &st.UserData
	case "callRelDirection":
		return &st.CallRelDirection
	}
	return nil
}
