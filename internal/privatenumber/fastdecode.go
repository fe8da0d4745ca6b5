package privatenumber

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The decoding fast path (see scan.go): fee pushes and fee records,
// falling back to encoding/json whenever anything is unusual.

// decodeFeePushFast decodes a fee push. It reports false when the body is
// not a plain, well-formed fee push that kind accepts, or has anything the
// fast path leaves to encoding/json; Decode then decodes it the slow way.
// Records the fast path cannot decode are decoded the slow way one by one,
// so their errors are encoding/json's. It stops with an error as soon as a
// 51st record appears (as preScan would), and rejects the records over
// limit bytes.
//
// A first pass over the body checks it and finds the records without
// allocating; only a body the fast path takes is decoded, so a body left
// to encoding/json costs no decoding twice.
func decodeFeePushFast(body []byte, kind Kind, limit int) (p *Push, err error, ok bool) {
	if kind == EventPush {
		return nil, nil, false
	}
	s := scanner{b: body}
	var (
		eventType  jsonString
		haveType   bool
		records    [MaxFeeRecords]span // where each element of feeLst is
		n          int
		haveFeeLst bool
		tooMany    bool
	)
	ok = s.members(false, func(key []byte) bool {
		switch string(key) {
		case "eventType":
			if haveType || s.peek() != '"' {
				return false
			}
			haveType = true
			var ok bool
			eventType, ok = s.str()
			return ok && !eventType.escaped
		case "feeLst":
			if haveFeeLst || !s.consume('[') {
				return false
			}
			haveFeeLst = true
			if s.consume(']') {
				return true
			}
			for {
				if n == MaxFeeRecords {
					tooMany = true
					return false
				}
				if s.peek() != '{' {
					return false
				}
				start := s.i
				if !s.object(2) {
					return false
				}
				records[n] = span{start, s.i}
				n++
				if s.consume(',') {
					continue
				}
				return s.consume(']')
			}
		case "statusInfo":
			// Decoded into a struct by the slow path, where a wrong one
			// fails the whole body; only its absence is plain.
			k, _, ok := s.value(1)
			return ok && k == kindNull
		default:
			if foldsToKnown(key, pushKeys) {
				return false
			}
			_, _, ok := s.value(1)
			return ok
		}
	})
	if tooMany {
		return nil, errTooManyFees(), true
	}
	s.ws()
	if !ok || s.i != len(body) || !haveType || string(body[eventType.start:eventType.end]) != EventTypeFee || n == 0 {
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
		rs := scanner{b: body, i: sp.start}
		v := feeValues{b: body, text: text}
		var r FeeRecord
		if rs.feeValues(&v) && rs.i == sp.end {
			r, err = v.record(feePath(i), raw)
		} else {
			r, err = decodeFeeRecordJSON(feePath(i), raw)
		}
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
	s := scanner{b: raw}
	v := feeValues{b: raw}
	if share {
		v.text = string(raw)
	}
	ok := s.feeValues(&v)
	s.ws()
	if !ok || s.i != len(raw) {
		return FeeRecord{}, nil, false
	}
	r, err := v.record(path, raw)
	return r, err, true
}

// feeValues finds the values of the documented fields of the object at
// s.i (after optional whitespace), as encoding/json would match its keys
// (feeKey), the last member of a field winning. It reports false when the
// object is malformed, for encoding/json to say how.
func (s *scanner) feeValues(v *feeValues) bool {
	return s.members(true, func(key []byte) bool {
		_, start, ok := s.value(1)
		if !ok {
			return false
		}
		if f, known := feeKey(key); known {
			v.set(f, start, s.i)
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

func hasHigh(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}
