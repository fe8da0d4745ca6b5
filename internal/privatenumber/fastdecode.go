package privatenumber

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
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
		r, err, decoded := rs.feeRecord(text, limit)
		switch {
		case !decoded || rs.i != sp.end:
			r, err = decodeFeeRecordJSON(feePath(i), raw)
		case err != nil:
			r, err = FeeRecord{}, jsonError(feePath(i), err)
		default:
			r, err = r.checked(feePath(i), raw)
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

// feeKeys are the JSON names of FeeRecord's fields.
var feeKeys = []string{
	"direction", "spId", "appKey", "icid", "bindNum", "sessionId", "subscriptionId", "callerNum", "calleeNum",
	"fwdDisplayNum", "fwdDstNum", "callInTime", "fwdStartTime", "fwdAlertingTime", "fwdAnswerTime", "callEndTime",
	"failTime", "recordStartTime", "fwdUnaswRsn", "ulFailReason", "sipStatusCode", "callOutUnaswRsn", "recordFlag",
	"recordDomain", "recordBucketName", "recordObjectName", "recordFileDownloadUrl", "ttsPlayTimes",
	"ttsTransDuration", "mptyId", "serviceType", "hostName", "extendNum", "extendNumber",
}

// decodeFeeFast decodes one fee record from raw, which must be exactly one
// JSON object, as encoding/json would into a FeeRecord: the record, or the
// error encoding/json would return. It reports false for anything it
// leaves to encoding/json (malformed JSON). With share, the record's
// strings share one copy of raw (one allocation); without, each is copied
// on its own (no more than the string fields).
func decodeFeeFast(raw []byte, share bool) (FeeRecord, error, bool) {
	s := scanner{b: raw}
	s.ws()
	var text string
	if share {
		text = string(raw)
	}
	r, err, ok := s.feeRecord(text, math.MaxInt)
	s.ws()
	return r, err, ok && s.i == len(raw)
}

// feeRecord decodes the object at s.i as encoding/json would into a
// FeeRecord; text is s.b as a string, which the record's strings are cut
// from, or "" for strings copied one by one. It returns the error encoding/json would (the first value of the
// wrong type for a string field, which does not stop decoding, or the
// first error of an Int or Time field, which does), and reports false when
// the object is malformed, for encoding/json to say how. Once the record
// is longer than limit bytes it only scans the rest: the record is refused
// for its size, and decoding it would be wasted work.
func (s *scanner) feeRecord(text string, limit int) (r FeeRecord, err error, ok bool) {
	raw := s.b
	recStart := s.i
	var (
		typed *json.UnmarshalTypeError // the first string field of another type
		stop  error                    // the error of an Int or Time field
	)
	ok = s.members(true, func(key []byte) bool {
		kind, start, ok := s.value(1)
		if !ok {
			return false
		}
		if stop != nil || s.i-recStart > limit {
			return true // only checking the rest is well-formed, as encoding/json does first
		}
		name, known := feeKey(key)
		if !known {
			return true
		}
		val := raw[start:s.i]
		if field := r.stringField(name); field != nil {
			var t string
			if text != "" {
				t = text[start:s.i]
			}
			if !setString(field, kind, val, t) && typed == nil {
				typed = &json.UnmarshalTypeError{Value: kindName(kind), Type: stringType, Field: name}
			}
			return true
		}
		if err := r.setOther(name, val); err != nil {
			// encoding/json names the field in its errors.
			if te, ok := err.(*json.UnmarshalTypeError); ok && te.Field == "" {
				te.Field = name
			}
			stop = err
		}
		return true
	})
	switch {
	case !ok:
		return FeeRecord{}, nil, false
	case stop != nil:
		return FeeRecord{}, stop, true
	case typed != nil:
		return FeeRecord{}, typed, true
	}
	return r, nil, true
}

var stringType = reflect.TypeFor[string]()

// kindName is how encoding/json names a JSON kind in its type errors.
func kindName(kind byte) string {
	switch kind {
	case kindNumber:
		return "number"
	case kindTrue, kindFalse:
		return "bool"
	case kindObject:
		return "object"
	case kindArray:
		return "array"
	}
	return "string"
}

// feeKey returns the name of the field encoding/json stores key in: the
// key itself, or the name it folds to (encoding/json matches names
// case-insensitively, with Unicode simple folding, as bytes.EqualFold).
func feeKey(key []byte) (string, bool) {
	if name, ok := feeKeyExact(key); ok {
		return name, true
	}
	for _, n := range feeKeys {
		if bytes.EqualFold(key, []byte(n)) {
			return n, true
		}
	}
	return "", false
}

// feeKeyExact returns the feeKeys name spelt as key (a switch: faster
// than a map for these few).
func feeKeyExact(key []byte) (string, bool) {
	switch string(key) {
	case "direction":
		return "direction", true
	case "spId":
		return "spId", true
	case "appKey":
		return "appKey", true
	case "icid":
		return "icid", true
	case "bindNum":
		return "bindNum", true
	case "sessionId":
		return "sessionId", true
	case "subscriptionId":
		return "subscriptionId", true
	case "callerNum":
		return "callerNum", true
	case "calleeNum":
		return "calleeNum", true
	case "fwdDisplayNum":
		return "fwdDisplayNum", true
	case "fwdDstNum":
		return "fwdDstNum", true
	case "callInTime":
		return "callInTime", true
	case "fwdStartTime":
		return "fwdStartTime", true
	case "fwdAlertingTime":
		return "fwdAlertingTime", true
	case "fwdAnswerTime":
		return "fwdAnswerTime", true
	case "callEndTime":
		return "callEndTime", true
	case "failTime":
		return "failTime", true
	case "recordStartTime":
		return "recordStartTime", true
	case "fwdUnaswRsn":
		return "fwdUnaswRsn", true
	case "ulFailReason":
		return "ulFailReason", true
	case "sipStatusCode":
		return "sipStatusCode", true
	case "callOutUnaswRsn":
		return "callOutUnaswRsn", true
	case "recordFlag":
		return "recordFlag", true
	case "recordDomain":
		return "recordDomain", true
	case "recordBucketName":
		return "recordBucketName", true
	case "recordObjectName":
		return "recordObjectName", true
	case "recordFileDownloadUrl":
		return "recordFileDownloadUrl", true
	case "ttsPlayTimes":
		return "ttsPlayTimes", true
	case "ttsTransDuration":
		return "ttsTransDuration", true
	case "mptyId":
		return "mptyId", true
	case "serviceType":
		return "serviceType", true
	case "hostName":
		return "hostName", true
	case "extendNum":
		return "extendNum", true
	case "extendNumber":
		return "extendNumber", true
	}
	return "", false
}

// setOther decodes val into the Int or Time field name.
func (r *FeeRecord) setOther(name string, val []byte) error {
	switch name {
	case "direction":
		return r.Direction.UnmarshalJSON(val)
	case "fwdUnaswRsn":
		return r.FwdUnaswRsn.UnmarshalJSON(val)
	case "ulFailReason":
		return r.ULFailReason.UnmarshalJSON(val)
	case "sipStatusCode":
		return r.SIPStatusCode.UnmarshalJSON(val)
	case "callOutUnaswRsn":
		return r.CallOutUnaswRsn.UnmarshalJSON(val)
	case "recordFlag":
		return r.RecordFlag.UnmarshalJSON(val)
	case "ttsPlayTimes":
		return r.TTSPlayTimes.UnmarshalJSON(val)
	case "ttsTransDuration":
		return r.TTSTransDuration.UnmarshalJSON(val)
	case "callInTime":
		return r.CallInTime.UnmarshalJSON(val)
	case "fwdStartTime":
		return r.FwdStartTime.UnmarshalJSON(val)
	case "fwdAlertingTime":
		return r.FwdAlertingTime.UnmarshalJSON(val)
	case "fwdAnswerTime":
		return r.FwdAnswerTime.UnmarshalJSON(val)
	case "callEndTime":
		return r.CallEndTime.UnmarshalJSON(val)
	case "failTime":
		return r.FailTime.UnmarshalJSON(val)
	case "recordStartTime":
		return r.RecordStartTime.UnmarshalJSON(val)
	}
	return nil
}

// stringField returns the string field named key, or nil.
func (r *FeeRecord) stringField(key string) *string {
	switch key {
	case "spId":
		return &r.SpID
	case "appKey":
		return &r.AppKey
	case "icid":
		return &r.ICID
	case "bindNum":
		return &r.BindNum
	case "sessionId":
		return &r.SessionID
	case "subscriptionId":
		return &r.SubscriptionID
	case "callerNum":
		return &r.CallerNum
	case "calleeNum":
		return &r.CalleeNum
	case "fwdDisplayNum":
		return &r.FwdDisplayNum
	case "fwdDstNum":
		return &r.FwdDstNum
	case "recordDomain":
		return &r.RecordDomain
	case "recordBucketName":
		return &r.RecordBucketName
	case "recordObjectName":
		return &r.RecordObjectName
	case "recordFileDownloadUrl":
		return &r.RecordFileDownloadURL
	case "mptyId":
		return &r.MptyID
	case "serviceType":
		return &r.ServiceType
	case "hostName":
		return &r.HostName
	case "extendNum":
		return &r.ExtendNum
	case "extendNumber":
		return &r.ExtendNumber
	}
	return nil
}

// setString stores a JSON value in a string field as encoding/json does:
// a string is its decoded content, null leaves the field as it is, any
// other kind is an error (reported as false). val is the value's bytes,
// text the same as a string, or "" to copy the content.
func setString(field *string, kind byte, val []byte, text string) bool {
	switch kind {
	case kindNull:
		return true
	case kindString:
	default:
		return false
	}
	content := val[1 : len(val)-1]
	if bytes.IndexByte(content, '\\') < 0 && (!hasHigh(content) || utf8.Valid(content)) {
		if text == "" {
			*field = string(content)
		} else {
			*field = text[1 : len(text)-1]
		}
		return true
	}
	// Escapes or invalid UTF-8: encoding/json's unquoting.
	*field = unquote(content)
	return true
}

func hasHigh(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}
