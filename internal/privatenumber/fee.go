package privatenumber

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// MaxFeeRecords is the most CDRs the platform merges into one fee push.
const MaxFeeRecords = 50

// Direction of a call, as the fee record's direction field gives it.
const (
	DirectionACalled  = 0 // someone dialled X and reached A
	DirectionCallback = 1 // A dialled X and called back
	DirectionAbnormal = 2 // no binding or another abnormal case
)

// FeeRecord is one CDR of a fee push (话单), with every documented field.
// Times are UTC; a zero Time means the step never happened.
type FeeRecord struct {
	Direction      Int    `json:"direction"`
	SpID           string `json:"spId"`
	AppKey         string `json:"appKey"`
	ICID           string `json:"icid"`
	BindNum        string `json:"bindNum"` // the privacy number X, not A
	SessionID      string `json:"sessionId"`
	SubscriptionID string `json:"subscriptionId"` // empty when there was no binding
	CallerNum      string `json:"callerNum"`
	CalleeNum      string `json:"calleeNum"`
	FwdDisplayNum  string `json:"fwdDisplayNum"`
	FwdDstNum      string `json:"fwdDstNum"`

	CallInTime      Time `json:"callInTime"`
	FwdStartTime    Time `json:"fwdStartTime"`
	FwdAlertingTime Time `json:"fwdAlertingTime"`
	FwdAnswerTime   Time `json:"fwdAnswerTime"`
	CallEndTime     Time `json:"callEndTime"`
	FailTime        Time `json:"failTime"`
	RecordStartTime Time `json:"recordStartTime"`

	FwdUnaswRsn     Int `json:"fwdUnaswRsn"`     // Q.850 cause of the forward failure, 0 = n/a
	ULFailReason    Int `json:"ulFailReason"`    // teardown point, 0 = normal
	SIPStatusCode   Int `json:"sipStatusCode"`   // 0 when none
	CallOutUnaswRsn Int `json:"callOutUnaswRsn"` // Q.850 cause of the outbound-leg failure

	RecordFlag            Int    `json:"recordFlag"` // 1 = recorded
	RecordDomain          string `json:"recordDomain"`
	RecordBucketName      string `json:"recordBucketName"`
	RecordObjectName      string `json:"recordObjectName"`
	RecordFileDownloadURL string `json:"recordFileDownloadUrl"` // used when RecordDomain is empty

	TTSPlayTimes     Int    `json:"ttsPlayTimes"`
	TTSTransDuration Int    `json:"ttsTransDuration"`
	MptyID           string `json:"mptyId"`
	ServiceType      string `json:"serviceType"`
	HostName         string `json:"hostName"`

	// ExtendNum is the extension E. The platform's field list names it
	// extendNum and its AXE sample sends extendNumber; decoding folds the
	// latter into ExtendNum.
	ExtendNum    string `json:"extendNum"`
	ExtendNumber string `json:"extendNumber"`

	// CallDuration is the call's length in whole seconds, and AreaCode the
	// area code; both optional: sent only when the app asks the platform
	// for them. CallDuration is nil when absent.
	CallDuration *Int   `json:"callDuration"`
	AreaCode     string `json:"areaCode"`

	// CallInTimeDerived says the record had no usable callInTime: CallInTime
	// is then DerivedCallInTime.
	CallInTimeDerived bool `json:"-"`

	// Anomalies are the fields stored as sent but not as documented, in
	// field order.
	Anomalies []Anomaly `json:"-"`

	// Raw is the record's JSON exactly as received.
	Raw json.RawMessage `json:"-"`
}

// Recorded reports whether the platform recorded the call: only a
// recordFlag of 1 says so.
func (r *FeeRecord) Recorded() bool { return r.RecordFlag == 1 }

// DecodeFeeRecord decodes and validates one CDR, the message body of the
// PN_FEES stream. raw is kept, not copied: the caller must not reuse it.
// Only an identity (icid, sessionId) that is absent or invalid, or raw not
// being one JSON object, is an error; every other field is read
// leniently, its anomalies noted on the record.
func DecodeFeeRecord(raw []byte) (FeeRecord, error) {
	return decodeFeeRecord("", raw, true)
}

// decodeFeeRecord decodes raw; share is decodeFeeFast's.
func decodeFeeRecord(path string, raw []byte, share bool) (FeeRecord, error) {
	if r, err, ok := decodeFeeFast(path, raw, share); ok {
		return r, err
	}
	// Anything unusual, errors included, the way encoding/json does it.
	return decodeFeeRecordJSON(path, raw)
}

// decodeFeeRecordJSON is decodeFeeRecord with encoding/json finding the
// values.
func decodeFeeRecordJSON(path string, raw []byte) (FeeRecord, error) {
	var j feeJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return FeeRecord{}, jsonError(path, err)
	}
	v := j.values()
	return v.record(path, raw)
}

// checkID checks a field that becomes part of a message id, a row key or an
// object key: present, bounded, printable.
func checkID(errs *FieldErrors, field, v string, maxLen int) {
	if problem := idProblem(v, maxLen); problem != "" {
		*errs = append(*errs, fieldErr(field, "%s", problem))
	}
}

// idProblem is what checkID finds wrong with v, or "".
func idProblem(v string, maxLen int) string {
	switch {
	case v == "":
		return "required"
	case len(v) > maxLen:
		return "longer than " + strconv.Itoa(maxLen) + " bytes"
	case !utf8.ValidString(v):
		return "not valid UTF-8"
	}
	for _, c := range v {
		switch {
		case c < 0x21 || c == 0x7f:
			return "contains a space or control character"
		case c == utf8.RuneError:
			// encoding/json decodes invalid UTF-8 and lone surrogates
			// to U+FFFD: distinct identities would become one.
			return "not valid UTF-8 (or contains U+FFFD)"
		}
	}
	return ""
}
