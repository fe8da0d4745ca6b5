package privatenumber

import (
	"bytes"
	"encoding/json"
	"math/bits"
	"time"

	"github.com/pnstream/pnstream/internal/privatenumber/internal/jsonscan"
)

// The documented fields of a CDR, numbered in the order of feeKeys: both
// decoders find each field's value (feeValues), and one function turns the
// values into the record (feeValues.record), so that both give the same
// record, anomalies included.
const (
	feeDirection = iota
	feeSpID
	feeAppKey
	feeICID
	feeBindNum
	feeSessionID
	feeSubscriptionID
	feeCallerNum
	feeCalleeNum
	feeFwdDisplayNum
	feeFwdDstNum
	feeCallInTime
	feeFwdStartTime
	feeFwdAlertingTime
	feeFwdAnswerTime
	feeCallEndTime
	feeFailTime
	feeRecordStartTime
	feeFwdUnaswRsn
	feeULFailReason
	feeSIPStatusCode
	feeCallOutUnaswRsn
	feeRecordFlag
	feeRecordDomain
	feeRecordBucketName
	feeRecordObjectName
	feeRecordFileDownloadURL
	feeTTSPlayTimes
	feeTTSTransDuration
	feeMptyID
	feeServiceType
	feeHostName
	feeExtendNum
	feeExtendNumber
	feeCallDuration
	feeAreaCode
	numFeeFields // at most 64: feeValues.present has a bit a field
)

// feeKeys are the JSON names of FeeRecord's fields, indexed by the fee*
// constants.
var feeKeys = [numFeeFields]string{
	"direction", "spId", "appKey", "icid", "bindNum", "sessionId", "subscriptionId", "callerNum", "calleeNum",
	"fwdDisplayNum", "fwdDstNum", "callInTime", "fwdStartTime", "fwdAlertingTime", "fwdAnswerTime", "callEndTime",
	"failTime", "recordStartTime", "fwdUnaswRsn", "ulFailReason", "sipStatusCode", "callOutUnaswRsn", "recordFlag",
	"recordDomain", "recordBucketName", "recordObjectName", "recordFileDownloadUrl", "ttsPlayTimes",
	"ttsTransDuration", "mptyId", "serviceType", "hostName", "extendNum", "extendNumber", "callDuration", "areaCode",
}

// feeValues are the values a decoder found for a record's documented
// fields: at[f] is where field f's value is in b, when bit f of present
// is set.
type feeValues struct {
	b       []byte
	text    string // b as a string for the record's strings to share, or ""
	present uint64
	at      [numFeeFields]span
}

// set notes that field f's value is b[start:end].
func (v *feeValues) set(f, start, end int) {
	v.present |= 1 << f
	v.at[f] = span{start, end}
}

// value returns field f's value, which must be present.
func (v *feeValues) value(f int) jsonValue {
	sp := v.at[f]
	val := jsonValue{b: v.b[sp.start:sp.end]}
	if v.text != "" {
		val.text = v.text[sp.start:sp.end]
	}
	return val
}

// record builds the record from the values, raw being its JSON: every
// field read leniently (values.go), each value not as documented noted in
// Anomalies, callInTime derived when the record has no usable one. Only
// an identity that is absent, not a string or not a valid id is an error.
func (v *feeValues) record(path string, raw []byte) (FeeRecord, error) {
	var (
		r         FeeRecord
		notString [2]bool // icid, sessionId given as another JSON type
		callInAt  bool    // callInTime was given, and noted if unusable
	)
	b, text := v.b, v.text // locals: the compiler keeps them in registers
	for present := v.present; present != 0; present &= present - 1 {
		f := bits.TrailingZeros64(present)
		sp := v.at[f]
		val := jsonValue{b: b[sp.start:sp.end]}
		if text != "" {
			val.text = text[sp.start:sp.end]
		}
		switch f {
		case feeICID, feeSessionID:
			if val.b[0] != jsonscan.KindString && val.b[0] != jsonscan.KindNull {
				notString[btoi(f == feeSessionID)] = true
				continue
			}
			*r.stringField(f), _ = lenientString(val)
		case feeCallInTime, feeFwdStartTime, feeFwdAlertingTime, feeFwdAnswerTime, feeCallEndTime, feeFailTime, feeRecordStartTime:
			t, kind := lenientTime(val.b)
			*r.timeField(f) = t
			r.note(f, kind)
			callInAt = callInAt || (f == feeCallInTime && kind != "")
		case feeDirection, feeRecordFlag, feeFwdUnaswRsn, feeULFailReason, feeSIPStatusCode, feeCallOutUnaswRsn,
			feeTTSPlayTimes, feeTTSTransDuration:
			n, _, kind := lenientInt(val.b)
			if kind == "" && !documentedInt(f, n) {
				kind, n = AnomalyRange, inUint8(n) // both enumerations are UInt8 columns
			}
			*r.intField(f) = n
			r.note(f, kind)
		case feeCallDuration:
			n, present, kind := lenientInt(val.b)
			if present {
				if n < 0 {
					kind = AnomalyRange
				}
				r.CallDuration = &n
			}
			r.note(f, kind)
		default:
			s, kind := lenientString(val)
			*r.stringField(f) = s
			r.note(f, kind)
		}
	}

	var errs FieldErrors
	for i, f := range [...]int{feeICID, feeSessionID} {
		// The field's path only once it is needed: making it costs an
		// allocation a record.
		if notString[i] {
			val := v.value(f)
			errs = append(errs, fieldErr(joinPath(path, feeKeys[f]), "got %s, want a string", JSONKind(val.b)))
		} else if problem := idProblem(*r.stringField(f), idMaxLen[i]); problem != "" {
			errs = append(errs, fieldErr(joinPath(path, feeKeys[f]), "%s", problem))
		}
	}

	if r.CallInTime.IsZero() {
		if !callInAt {
			r.note(feeCallInTime, AnomalyMissing)
		}
		r.CallInTime, r.CallInTimeDerived = r.DerivedCallInTime(), true
	}
	if r.ExtendNum == "" {
		r.ExtendNum = r.ExtendNumber
	}
	r.ExtendNumber = ""
	r.Raw = raw
	if len(errs) > 0 {
		return r, errs
	}
	return r, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// idMaxLen are the longest icid and sessionId taken, in bytes.
var idMaxLen = [2]int{64, 256}

// note records an anomaly of field f, if kind is one.
func (r *FeeRecord) note(f int, kind string) {
	if kind != "" {
		r.Anomalies = append(r.Anomalies, Anomaly{Field: feeKeys[f], Kind: kind})
	}
}

// documentedInt reports whether n is in field f's documented range.
func documentedInt(f int, n Int) bool {
	switch f {
	case feeDirection:
		return n >= DirectionACalled && n <= DirectionAbnormal
	case feeRecordFlag:
		return n == 0 || n == 1
	}
	return true
}

// epoch is the callInTime of a record that has no time at all.
var epoch = Time{time.Unix(0, 0).UTC()}

// DerivedCallInTime is the callInTime of a record that has no usable one:
// the earliest of its other documented times (fwdStartTime,
// fwdAlertingTime, fwdAnswerTime, callEndTime, failTime, recordStartTime),
// or 1970-01-01 00:00:00 UTC when it has none. It is a function of the
// record alone: callInTime is the partition key of fee_records and the date
// of the recording's object key, and every re-push must land on the same
// ones.
func (r *FeeRecord) DerivedCallInTime() Time {
	var earliest Time
	for _, t := range [...]Time{r.FwdStartTime, r.FwdAlertingTime, r.FwdAnswerTime, r.CallEndTime, r.FailTime, r.RecordStartTime} {
		if !t.IsZero() && (earliest.IsZero() || t.Before(earliest.Time)) {
			earliest = t
		}
	}
	if earliest.IsZero() {
		return epoch
	}
	return earliest
}

// stringField returns the string field f.
func (r *FeeRecord) stringField(f int) *string {
	switch f {
	case feeSpID:
		return &r.SpID
	case feeAppKey:
		return &r.AppKey
	case feeICID:
		return &r.ICID
	case feeBindNum:
		return &r.BindNum
	case feeSessionID:
		return &r.SessionID
	case feeSubscriptionID:
		return &r.SubscriptionID
	case feeCallerNum:
		return &r.CallerNum
	case feeCalleeNum:
		return &r.CalleeNum
	case feeFwdDisplayNum:
		return &r.FwdDisplayNum
	case feeFwdDstNum:
		return &r.FwdDstNum
	case feeRecordDomain:
		return &r.RecordDomain
	case feeRecordBucketName:
		return &r.RecordBucketName
	case feeRecordObjectName:
		return &r.RecordObjectName
	case feeRecordFileDownloadURL:
		return &r.RecordFileDownloadURL
	case feeMptyID:
		return &r.MptyID
	case feeServiceType:
		return &r.ServiceType
	case feeHostName:
		return &r.HostName
	case feeExtendNum:
		return &r.ExtendNum
	case feeExtendNumber:
		return &r.ExtendNumber
	case feeAreaCode:
		return &r.AreaCode
	}
	panic("privatenumber: not a string field") // a defect of record's switch
}

// timeField returns the time field f.
func (r *FeeRecord) timeField(f int) *Time {
	switch f {
	case feeCallInTime:
		return &r.CallInTime
	case feeFwdStartTime:
		return &r.FwdStartTime
	case feeFwdAlertingTime:
		return &r.FwdAlertingTime
	case feeFwdAnswerTime:
		return &r.FwdAnswerTime
	case feeCallEndTime:
		return &r.CallEndTime
	case feeFailTime:
		return &r.FailTime
	case feeRecordStartTime:
		return &r.RecordStartTime
	}
	panic("privatenumber: not a time field")
}

// intField returns the integer field f.
func (r *FeeRecord) intField(f int) *Int {
	switch f {
	case feeDirection:
		return &r.Direction
	case feeFwdUnaswRsn:
		return &r.FwdUnaswRsn
	case feeULFailReason:
		return &r.ULFailReason
	case feeSIPStatusCode:
		return &r.SIPStatusCode
	case feeCallOutUnaswRsn:
		return &r.CallOutUnaswRsn
	case feeRecordFlag:
		return &r.RecordFlag
	case feeTTSPlayTimes:
		return &r.TTSPlayTimes
	case feeTTSTransDuration:
		return &r.TTSTransDuration
	}
	panic("privatenumber: not an integer field")
}

// feeJSON is how encoding/json finds the values of a record's fields: it
// matches keys as the one-pass decoder does (case-insensitively, the last
// member of a key winning) and keeps each value's JSON, null included.
type feeJSON struct {
	Direction             json.RawMessage `json:"direction"`
	SpID                  json.RawMessage `json:"spId"`
	AppKey                json.RawMessage `json:"appKey"`
	ICID                  json.RawMessage `json:"icid"`
	BindNum               json.RawMessage `json:"bindNum"`
	SessionID             json.RawMessage `json:"sessionId"`
	SubscriptionID        json.RawMessage `json:"subscriptionId"`
	CallerNum             json.RawMessage `json:"callerNum"`
	CalleeNum             json.RawMessage `json:"calleeNum"`
	FwdDisplayNum         json.RawMessage `json:"fwdDisplayNum"`
	FwdDstNum             json.RawMessage `json:"fwdDstNum"`
	CallInTime            json.RawMessage `json:"callInTime"`
	FwdStartTime          json.RawMessage `json:"fwdStartTime"`
	FwdAlertingTime       json.RawMessage `json:"fwdAlertingTime"`
	FwdAnswerTime         json.RawMessage `json:"fwdAnswerTime"`
	CallEndTime           json.RawMessage `json:"callEndTime"`
	FailTime              json.RawMessage `json:"failTime"`
	RecordStartTime       json.RawMessage `json:"recordStartTime"`
	FwdUnaswRsn           json.RawMessage `json:"fwdUnaswRsn"`
	ULFailReason          json.RawMessage `json:"ulFailReason"`
	SIPStatusCode         json.RawMessage `json:"sipStatusCode"`
	CallOutUnaswRsn       json.RawMessage `json:"callOutUnaswRsn"`
	RecordFlag            json.RawMessage `json:"recordFlag"`
	RecordDomain          json.RawMessage `json:"recordDomain"`
	RecordBucketName      json.RawMessage `json:"recordBucketName"`
	RecordObjectName      json.RawMessage `json:"recordObjectName"`
	RecordFileDownloadURL json.RawMessage `json:"recordFileDownloadUrl"`
	TTSPlayTimes          json.RawMessage `json:"ttsPlayTimes"`
	TTSTransDuration      json.RawMessage `json:"ttsTransDuration"`
	MptyID                json.RawMessage `json:"mptyId"`
	ServiceType           json.RawMessage `json:"serviceType"`
	HostName              json.RawMessage `json:"hostName"`
	ExtendNum             json.RawMessage `json:"extendNum"`
	ExtendNumber          json.RawMessage `json:"extendNumber"`
	CallDuration          json.RawMessage `json:"callDuration"`
	AreaCode              json.RawMessage `json:"areaCode"`
}

// values lays the values found end to end in one buffer, for record.
func (j *feeJSON) values() feeValues {
	all := [numFeeFields]json.RawMessage{
		j.Direction, j.SpID, j.AppKey, j.ICID, j.BindNum, j.SessionID, j.SubscriptionID, j.CallerNum, j.CalleeNum,
		j.FwdDisplayNum, j.FwdDstNum, j.CallInTime, j.FwdStartTime, j.FwdAlertingTime, j.FwdAnswerTime, j.CallEndTime,
		j.FailTime, j.RecordStartTime, j.FwdUnaswRsn, j.ULFailReason, j.SIPStatusCode, j.CallOutUnaswRsn, j.RecordFlag,
		j.RecordDomain, j.RecordBucketName, j.RecordObjectName, j.RecordFileDownloadURL, j.TTSPlayTimes,
		j.TTSTransDuration, j.MptyID, j.ServiceType, j.HostName, j.ExtendNum, j.ExtendNumber, j.CallDuration, j.AreaCode,
	}
	var v feeValues
	for f, m := range all {
		if m = bytes.TrimSpace(m); len(m) > 0 {
			start := len(v.b)
			v.b = append(v.b, m...)
			v.set(f, start, len(v.b))
		}
	}
	return v
}
