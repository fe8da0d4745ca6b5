package privatenumber

import (
	"encoding/json"

	"github.com/pnstream/pnstream/internal/privatenumber/internal/jsonscan"
	"github.com/pnstream/pnstream/internal/redact"
)

// Push is a decoded push body: one call event, a list of fee records or
// a list of X-number states.
type Push struct {
	// EventType is the body's eventType: "fee" or a call event type (one
	// of EventTypes, or another safe token).
	EventType string

	// Event is the call event, for a call event push.
	Event *CallEvent

	// Fees are the valid fee records of a fee push, in body order.
	Fees []FeeRecord

	// Numbers are the valid numInfo items of an X-number status push, in
	// body order.
	Numbers []NumberStatus

	// Rejected are the fee records (or numInfo items) that failed
	// validation. The valid ones are still usable: bad input must not block
	// good input.
	Rejected []RejectedRecord
}

// RejectedRecord is a fee record or numInfo item whose identity is absent
// or invalid.
type RejectedRecord struct {
	Index int             // position in feeLst or numInfo
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

// Kind selects which push bodies Decode accepts.
type Kind int

const (
	AnyPush       Kind = iota // a call event, a fee push or a numStatus push, by eventType
	EventPush                 // a call event or a numStatus push (the platform sends both to the call-status URL)
	FeePush                   // a fee push only
	NumStatusPush             // an X-number status push only
)

type pushBody struct {
	EventType  string            `json:"eventType"`
	StatusInfo json.RawMessage   `json:"statusInfo"`
	FeeLst     []json.RawMessage `json:"feeLst"`
}

// DefaultMaxRecordBytes is the record limit of a zero Decoder: a real CDR
// is about 1.5 KB.
const DefaultMaxRecordBytes = 64 << 10

// Decoder decodes push bodies with bounded work: a fee push is refused as
// soon as its 51st record appears, and no record may exceed MaxRecordBytes.
// Decoding a body allocates a small multiple of its size. The zero Decoder
// uses the defaults.
type Decoder struct {
	// MaxRecordBytes is the largest fee record (its JSON) or call event
	// body taken; 0 or less means DefaultMaxRecordBytes.
	MaxRecordBytes int
}

func (d Decoder) maxRecordBytes() int {
	if d.MaxRecordBytes <= 0 {
		return DefaultMaxRecordBytes
	}
	return d.MaxRecordBytes
}

// Decode decodes and validates a push body of the given kind. It returns
// an error matching ErrInvalid when the body as a whole is unusable: not
// JSON, an eventType absent, not a safe token or wrong for kind, a missing
// statusInfo, feeLst missing, empty or longer than MaxFeeRecords, a call
// event whose identity is absent or invalid, or a call event body over
// MaxRecordBytes (that error matches ErrRecordTooLarge too). Records of an
// otherwise sound fee push whose identity is invalid are not an error here;
// they are listed in Push.Rejected, and Push.Err reports them; a fee record
// over MaxRecordBytes is one of them, its error matching ErrRecordTooLarge.
// Any other field not as documented is an Anomaly of its record, which is
// kept.
//
// A fee push is decoded in one pass over the body, each record's Raw being
// a slice of body (which must not be modified afterwards); anything the
// one-pass decoder does not take, encoding/json decodes, with the same
// results.
//
// An X-number status push (kinds AnyPush, EventPush and NumStatusPush) is
// decoded like a fee push: its items are its records, 1 to
// MaxNumInfoItems, each at most MaxRecordBytes, each Raw a slice of body;
// see decodeNumStatusPush.
func (d Decoder) Decode(body []byte, kind Kind) (*Push, error) {
	limit := d.maxRecordBytes()
	if kind == NumStatusPush {
		p, err, _ := decodeNumStatusPush(body, kind, limit)
		return p, err
	}
	if p, err, ok := decodeFeePushFast(body, kind, limit); ok {
		return p, err
	}
	if p, err, ok := decodeEventPushFast(body, kind, limit); ok {
		return p, err
	}
	if p, err, ok := decodeNumStatusPush(body, kind, limit); ok {
		return p, err
	}
	return decodePushJSON(body, kind, limit)
}

// DecodePush is Decoder{}.Decode: the default record limit.
func DecodePush(body []byte, kind Kind) (*Push, error) {
	return Decoder{}.Decode(body, kind)
}

// decodePushJSON is Decode with encoding/json, once the limits are
// checked without allocating.
func decodePushJSON(body []byte, kind Kind, limit int) (*Push, error) {
	return decodePushWith(body, kind, limit, decodeFeeRecord)
}

// recordDecoder decodes one fee record: decodeFeeRecord, or in tests
// the encoding/json way alone.
type recordDecoder func(path string, raw []byte, share bool) (FeeRecord, error)

// decodePushWith is decodePushJSON decoding each record with decodeRecord.
func decodePushWith(body []byte, kind Kind, limit int, decodeRecord recordDecoder) (*Push, error) {
	if kind == EventPush && len(body) > limit {
		// A call event is one record: no need to read it.
		return nil, FieldErrors{tooLarge("", "call event", len(body), limit)}
	}
	tooMany, maybeFee := preScan(body)
	if tooMany {
		return nil, errTooManyFees()
	}
	if len(body) > limit && !maybeFee {
		// Not a fee push, so one record: no need to read it either.
		return nil, FieldErrors{tooLarge("", "non-fee push", len(body), limit)}
	}
	var b pushBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, FieldErrors{jsonError("", err)}
	}
	// The one place a body's eventType decides what it is.
	switch b.EventType {
	case EventTypeFee:
		if kind == EventPush {
			return nil, FieldErrors{fieldErr("eventType", "fee pushes go to /v1/notifications/fees")}
		}
		return decodeFees(b.FeeLst, limit, decodeRecord)
	case EventTypeNumStatus:
		// Valid JSON that decodeNumStatusPush could not follow.
		return nil, FieldErrors{fieldErr("", "numStatus push nested deeper than %d levels", jsonscan.MaxDepth)}
	default:
		if kind == FeePush {
			return nil, FieldErrors{fieldErr("eventType", "got %q, want %q on this path", redact.Truncate(b.EventType, 64), EventTypeFee)}
		}
		if len(body) > limit {
			return nil, FieldErrors{tooLarge("", "call event", len(body), limit)}
		}
		ev := eventBody{EventType: b.EventType, StatusInfo: b.StatusInfo}
		e, err := ev.event(body)
		if err != nil {
			return nil, err
		}
		return &Push{EventType: e.EventType, Event: &e}, nil
	}
}

// decodeFees decodes the records of a fee push, keeping the valid ones and
// listing the others as Rejected.
func decodeFees(feeLst []json.RawMessage, limit int, decodeRecord recordDecoder) (*Push, error) {
	switch n := len(feeLst); {
	case feeLst == nil:
		return nil, FieldErrors{fieldErr("feeLst", "required")}
	case n == 0:
		return nil, FieldErrors{fieldErr("feeLst", "empty; want 1 to %d records", MaxFeeRecords)}
	case n > MaxFeeRecords:
		return nil, errTooManyFees() // preScan counts every array json may take as feeLst
	}
	p := &Push{EventType: EventTypeFee, Fees: make([]FeeRecord, 0, len(feeLst))}
	for i, raw := range feeLst {
		if len(raw) > limit {
			p.Rejected = append(p.Rejected, RejectedRecord{Index: i, Raw: raw, Err: FieldErrors{tooLarge(feePath(i), "record", len(raw), limit)}})
			continue
		}
		// raw is encoding/json's copy: copying it once more for the
		// strings to share would cost more than the string fields.
		r, err := decodeRecord(feePath(i), raw, false)
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
