package privatenumber

import (
	"encoding/json"
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

	// Raw is the record's JSON exactly as received.
	Raw json.RawMessage `json:"-"`
}

// Recorded reports whether the platform recorded the call.
func (r *FeeRecord) Recorded() bool { return r.RecordFlag == 1 }

// DecodeFeeRecord decodes and validates one CDR, the message body of the
// PN_FEES stream. raw is kept, not copied: the caller must not reuse it.
func DecodeFeeRecord(raw []byte) (FeeRecord, error) {
	return decodeFeeRecord("", raw, true)
}

// decodeFeeRecord decodes raw; share is decodeFeeFast's.
func decodeFeeRecord(path string, raw []byte, share bool) (FeeRecord, error) {
	if r, err, ok := decodeFeeFast(raw, share); ok {
		if err != nil {
			return FeeRecord{}, jsonError(path, err)
		}
		return r.checked(path, raw)
	}
	// Anything unusual, errors included, the way encoding/json does it.
	return decodeFeeRecordJSON(path, raw)
}

// decodeFeeRecordJSON is decodeFeeRecord with encoding/json.
func decodeFeeRecordJSON(path string, raw []byte) (FeeRecord, error) {
	var r FeeRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return FeeRecord{}, jsonError(path, err)
	}
	return r.checked(path, raw)
}

// checked finishes a decoded record: it folds extendNumber into
// ExtendNum, keeps raw and validates.
func (r FeeRecord) checked(path string, raw []byte) (FeeRecord, error) {
	if r.ExtendNum == "" {
		r.ExtendNum = r.ExtendNumber
	}
	r.ExtendNumber = ""
	r.Raw = raw
	if errs := r.validate(path); len(errs) > 0 {
		return r, errs
	}
	return r, nil
}

// validate checks what pnstream relies on: identity, the time that places
// the record, and enumerations that drive behaviour.
func (r *FeeRecord) validate(path string) FieldErrors {
	var errs FieldErrors
	checkID(&errs, joinPath(path, "icid"), r.ICID, 64)
	checkID(&errs, joinPath(path, "sessionId"), r.SessionID, 256)
	if r.CallInTime.IsZero() {
		errs = append(errs, fieldErr(joinPath(path, "callInTime"), "required"))
	}
	if r.Direction < 0 || r.Direction > 2 {
		errs = append(errs, fieldErr(joinPath(path, "direction"), "got %d, want 0, 1 or 2", r.Direction))
	}
	if r.RecordFlag != 0 && r.RecordFlag != 1 {
		errs = append(errs, fieldErr(joinPath(path, "recordFlag"), "got %d, want 0 or 1", r.RecordFlag))
	}
	return errs
}

// checkID checks a field that becomes part of a message id, a row key or an
// object key: present, bounded, printable.
func checkID(errs *FieldErrors, field, v string, maxLen int) {
	switch {
	case v == "":
		*errs = append(*errs, fieldErr(field, "required"))
	case len(v) > maxLen:
		*errs = append(*errs, fieldErr(field, "longer than %d bytes", maxLen))
	case !utf8.ValidString(v):
		*errs = append(*errs, fieldErr(field, "not valid UTF-8"))
	default:
		for _, c := range v {
			switch {
			case c < 0x21 || c == 0x7f:
				*errs = append(*errs, fieldErr(field, "contains a space or control character"))
				return
			case c == utf8.RuneError:
				// encoding/json decodes invalid UTF-8 and lone surrogates
				// to U+FFFD: distinct identities would become one.
				*errs = append(*errs, fieldErr(field, "not valid UTF-8 (or contains U+FFFD)"))
				return
			}
		}
	}
}
