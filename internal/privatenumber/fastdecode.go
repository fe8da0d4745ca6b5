package privatenumber

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The decoding fast path (see scan.go): fee pushes and fee records in one
// pass, falling back to encoding/json whenever anything is unusual.

// decodeFeePushFast decodes a fee push in one pass. It reports false when
// the body is not a plain, well-formed fee push that kind accepts, or has
// anything the fast path leaves to encoding/json; Decode then decodes it
// the slow way. Records the fast path cannot decode are decoded the slow
// way one by one, so their errors are encoding/json's. It stops with an
// error as soon as a 51st record appears (as tooManyFees would), and
// rejects the records over limit bytes.
func decodeFeePushFast(body []byte, kind Kind, limit int) (p *Push, err error, ok bool) {
	if kind == EventPush {
		return nil, nil, false
	}
	s := scanner{b: body}
	// One string for every field of every record: one allocation.
	text := string(body)
	var (
		eventType  jsonString
		haveType   bool
		fees       []FeeRecord  // decoded, or zero where left to encoding/json
		records    []fastRecord // where each element of feeLst is
		haveFeeLst bool
		tooMany    bool
	)
	ok = s.members(func(key []byte) bool {
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
			fees = make([]FeeRecord, 0, MaxFeeRecords)
			records = make([]fastRecord, 0, MaxFeeRecords)
			if s.consume(']') {
				return true
			}
			for {
				if len(records) == MaxFeeRecords {
					tooMany = true
					return false
				}
				if s.peek() != '{' {
					return false
				}
				start := s.i
				r, decoded := s.feeRecord(text, limit)
				if !decoded {
					// Left to encoding/json, but the body must still be
					// well-formed JSON.
					s.i = start
					if !s.object(2) {
						return false
					}
				}
				fees = append(fees, r)
				records = append(records, fastRecord{decoded: decoded, start: start, end: s.i})
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
	if !ok || s.i != len(body) || !haveType || string(body[eventType.start:eventType.end]) != EventTypeFee ||
		len(records) == 0 {
		return nil, nil, false
	}
	// The valid records move to the front of fees, in order, in place.
	p = &Push{EventType: EventTypeFee, Fees: fees[:0]}
	for i := range records {
		fr := &records[i]
		raw := body[fr.start:fr.end:fr.end]
		var r FeeRecord
		if len(raw) > limit {
			p.Rejected = append(p.Rejected, RejectedRecord{Index: i, Raw: raw, Err: FieldErrors{tooLarge(feePath(i), "record", len(raw), limit)}})
			continue
		}
		if fr.decoded {
			r, err = fees[i].checked(feePath(i), raw)
		} else {
			r, err = decodeFeeRecord(feePath(i), raw)
		}
		if err != nil {
			p.Rejected = append(p.Rejected, RejectedRecord{Index: i, Raw: raw, Err: asFieldErrors(err)})
			continue
		}
		p.Fees = append(p.Fees, r)
	}
	clear(fees[len(p.Fees):]) // no strings kept alive past the valid ones
	return p, nil, true
}

// fastRecord is an element of feeLst: its span in the body, and whether
// the fast path decoded it.
type fastRecord struct {
	decoded    bool
	start, end int
}

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
// JSON object, as encoding/json would into a FeeRecord. It reports false
// for anything it leaves to encoding/json, errors included.
func decodeFeeFast(raw []byte) (FeeRecord, bool) {
	s := scanner{b: raw}
	s.ws()
	r, ok := s.feeRecord(string(raw), math.MaxInt)
	s.ws()
	return r, ok && s.i == len(raw)
}

// feeRecord decodes the object at s.i as a FeeRecord; text is s.b as a
// string, which the record's strings are cut from. Once the record is
// longer than limit bytes it only scans the rest: the record is refused
// for its size, and decoding it would be wasted work.
func (s *scanner) feeRecord(text string, limit int) (FeeRecord, bool) {
	var r FeeRecord
	raw := s.b
	recStart := s.i
	ok := s.members(func(key []byte) bool {
		kind, start, ok := s.value(1)
		if !ok {
			return false
		}
		if s.i-recStart > limit {
			return true
		}
		val := raw[start:s.i]
		if field := r.stringField(key); field != nil {
			return setString(field, kind, val, text[start:s.i])
		}
		switch string(key) {
		case "direction":
			return r.Direction.UnmarshalJSON(val) == nil
		case "fwdUnaswRsn":
			return r.FwdUnaswRsn.UnmarshalJSON(val) == nil
		case "ulFailReason":
			return r.ULFailReason.UnmarshalJSON(val) == nil
		case "sipStatusCode":
			return r.SIPStatusCode.UnmarshalJSON(val) == nil
		case "callOutUnaswRsn":
			return r.CallOutUnaswRsn.UnmarshalJSON(val) == nil
		case "recordFlag":
			return r.RecordFlag.UnmarshalJSON(val) == nil
		case "ttsPlayTimes":
			return r.TTSPlayTimes.UnmarshalJSON(val) == nil
		case "ttsTransDuration":
			return r.TTSTransDuration.UnmarshalJSON(val) == nil
		case "callInTime":
			return r.CallInTime.UnmarshalJSON(val) == nil
		case "fwdStartTime":
			return r.FwdStartTime.UnmarshalJSON(val) == nil
		case "fwdAlertingTime":
			return r.FwdAlertingTime.UnmarshalJSON(val) == nil
		case "fwdAnswerTime":
			return r.FwdAnswerTime.UnmarshalJSON(val) == nil
		case "callEndTime":
			return r.CallEndTime.UnmarshalJSON(val) == nil
		case "failTime":
			return r.FailTime.UnmarshalJSON(val) == nil
		case "recordStartTime":
			return r.RecordStartTime.UnmarshalJSON(val) == nil
		}
		return !foldsToKnown(key, feeKeys)
	})
	return r, ok
}

// stringField returns the string field named key, or nil.
func (r *FeeRecord) stringField(key []byte) *string {
	switch string(key) {
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
// text the same as a string.
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
		*field = text[1 : len(text)-1]
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
