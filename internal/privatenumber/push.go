package privatenumber

import (
	"encoding/json"
)

// Push is a decoded push body: either one call event or a list of fee
// records.
type Push struct {
	// EventType is the body's eventType: "fee" or a call event type.
	EventType string

	// Event is the call event, for a call event push.
	Event *CallEvent

	// Fees are the valid fee records of a fee push, in body order.
	Fees []FeeRecord

	// Rejected are the fee records that failed validation. The valid ones
	// are still usable: bad input must not block good input.
	Rejected []RejectedRecord
}

// RejectedRecord is a fee record that failed validation.
type RejectedRecord struct {
	Index int             // position in feeLst
	Raw   json.RawMessage // the record as received
	Err   FieldErrors
}

// Err returns the validation errors of the rejected records, or nil.
func (p *Push) Err() error {
	var errs FieldErrors
	for _, r := range p.Rejected {
		errs = append(errs, r.Err...)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// Kind selects which push bodies DecodePush accepts.
type Kind int

const (
	AnyPush   Kind = iota // a call event or a fee push, by eventType
	EventPush             // a call event only
	FeePush               // a fee push only
)

type pushBody struct {
	EventType  string            `json:"eventType"`
	StatusInfo *statusInfo       `json:"statusInfo"`
	FeeLst     []json.RawMessage `json:"feeLst"`
}

// DecodePush decodes and validates a push body of the given kind. It returns
// an error matching ErrInvalid when the body as a whole is unusable: not
// JSON, wrong or unknown eventType, missing statusInfo, feeLst missing, empty
// or longer than MaxFeeRecords, or an invalid call event. Invalid records of
// an otherwise sound fee push are not an error here; they are listed in
// Push.Rejected, and Push.Err reports them.
//
// A fee push is decoded in one pass over the body, each record's Raw being
// a slice of body (which must not be modified afterwards); anything the
// one-pass decoder does not take, encoding/json decodes, with the same
// results.
func DecodePush(body []byte, kind Kind) (*Push, error) {
	if p, ok := decodeFeePushFast(body, kind); ok {
		return p, nil
	}
	return decodePushJSON(body, kind)
}

// decodePushJSON is DecodePush with encoding/json.
func decodePushJSON(body []byte, kind Kind) (*Push, error) {
	var b pushBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, FieldErrors{jsonError("", err)}
	}
	isFee := b.EventType == EventTypeFee
	switch {
	case kind == FeePush && !isFee:
		return nil, FieldErrors{fieldErr("eventType", "got %q, want %q on this path", truncate(b.EventType, 64), EventTypeFee)}
	case kind == EventPush && isFee:
		return nil, FieldErrors{fieldErr("eventType", "fee pushes go to /v1/notifications/fees")}
	}
	if !isFee {
		ev := eventBody{EventType: b.EventType, StatusInfo: b.StatusInfo}
		e, err := ev.event(body)
		if err != nil {
			return nil, err
		}
		return &Push{EventType: e.EventType, Event: &e}, nil
	}
	switch n := len(b.FeeLst); {
	case b.FeeLst == nil:
		return nil, FieldErrors{fieldErr("feeLst", "required")}
	case n == 0:
		return nil, FieldErrors{fieldErr("feeLst", "empty; want 1 to %d records", MaxFeeRecords)}
	case n > MaxFeeRecords:
		return nil, FieldErrors{fieldErr("feeLst", "%d records; want 1 to %d", n, MaxFeeRecords)}
	}
	p := &Push{EventType: EventTypeFee, Fees: make([]FeeRecord, 0, len(b.FeeLst))}
	for i, raw := range b.FeeLst {
		r, err := decodeFeeRecord(feePath(i), raw)
		if err != nil {
			p.Rejected = append(p.Rejected, RejectedRecord{Index: i, Raw: raw, Err: asFieldErrors(err)})
			continue
		}
		p.Fees = append(p.Fees, r)
	}
	return p, nil
}

func asFieldErrors(err error) FieldErrors {
	switch e := err.(type) {
	case FieldErrors:
		return e
	case *FieldError:
		return FieldErrors{e}
	default:
		return FieldErrors{fieldErr("", "%v", err)}
	}
}
