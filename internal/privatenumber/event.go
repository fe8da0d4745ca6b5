package privatenumber

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"

	"github.com/pnstream/pnstream/internal/privatenumber/internal/jsonscan"
	"github.com/pnstream/pnstream/internal/redact"
)

// Call event types of AXE mode, in the order a call goes through them.
const (
	EventCallIn      = "callin"      // the call reached X; no subscriptionId yet in AXE
	EventCollectInfo = "collectInfo" // the caller keyed the extension E
	EventCallOut     = "callout"     // the platform dials the far leg
	EventAlerting    = "alerting"    // the far leg rings
	EventAnswer      = "answer"      // the far leg answered
	EventDisconnect  = "disconnect"  // hang-up, with stateCode and stateDesc
)

// EventTypeFee is the eventType of a fee push.
const EventTypeFee = "fee"

// EventTypes lists the documented call event types. An event of another
// type is accepted when its type is a safe token (eventTypeToken) and
// noted as an AnomalyUnknown.
var EventTypes = []string{EventCallIn, EventCollectInfo, EventCallOut, EventAlerting, EventAnswer, EventDisconnect}

// Who hung up, as statusInfo.callRelDirection gives it.
const (
	RelCaller = 1 // the caller hung up
	RelCallee = 2 // the callee hung up
)

// CallEvent is one call event push (呼叫事件通知): the eventType and the
// fields of its statusInfo.
type CallEvent struct {
	EventType      string
	Timestamp      Time // UTC, although the platform calls it a UNIX timestamp
	SessionID      string
	Caller         string
	Called         string
	SubscriptionID string // absent on AXE callin
	DigitInfo      string // collectInfo only
	StateCode      *Int   // disconnect only; nil when absent
	StateDesc      string // disconnect only
	UserData       string

	// CallRelDirection says who hung up (RelCaller, RelCallee); optional:
	// sent only when the app asks the platform for it. nil when absent.
	CallRelDirection *Int

	// Anomalies are the fields stored as sent but not as documented.
	Anomalies []Anomaly `json:"-"`

	// Raw is the push body exactly as received.
	Raw json.RawMessage
}

// eventBody is a call event push as encoding/json finds it; statusInfo's
// members are read leniently (statusJSON).
type eventBody struct {
	EventType  string          `json:"eventType"`
	StatusInfo json.RawMessage `json:"statusInfo"`
}

// statusJSON holds the JSON of each documented member of statusInfo.
type statusJSON struct {
	Timestamp        json.RawMessage `json:"timestamp"`
	SessionID        json.RawMessage `json:"sessionId"`
	Caller           json.RawMessage `json:"caller"`
	Called           json.RawMessage `json:"called"`
	SubscriptionID   json.RawMessage `json:"subscriptionId"`
	DigitInfo        json.RawMessage `json:"digitInfo"`
	StateCode        json.RawMessage `json:"stateCode"`
	StateDesc        json.RawMessage `json:"stateDesc"`
	UserData         json.RawMessage `json:"userData"`
	CallRelDirection json.RawMessage `json:"callRelDirection"`
}

// DecodeCallEvent decodes and validates a call event push, the message body
// of the PN_EVENTS stream. raw is kept, not copied. Only an identity
// (eventType, statusInfo.sessionId, statusInfo.timestamp) that is absent or
// invalid, or raw not being a JSON object, is an error; every other field
// is read leniently, its anomalies noted on the event.
func DecodeCallEvent(raw []byte) (CallEvent, error) {
	var b eventBody
	if err := json.Unmarshal(raw, &b); err != nil {
		return CallEvent{}, jsonError("", err)
	}
	return b.event(raw)
}

// eventTypeToken is what an eventType must be to be taken: it becomes a
// token of the subject pn.events.<eventType>, part of the message id and
// a label value.
var eventTypeToken = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// event checks the eventType and reads statusInfo.
func (b *eventBody) event(raw []byte) (CallEvent, error) {
	e, errs := newCallEvent(b.EventType, raw)
	var s statusJSON
	switch si := bytes.TrimSpace(b.StatusInfo); {
	case len(si) == 0 || si[0] == jsonscan.KindNull:
		return CallEvent{}, append(errs, fieldErr("statusInfo", "required"))
	case si[0] != jsonscan.KindObject:
		return CallEvent{}, append(errs, fieldErr("statusInfo", "got %s, want an object", JSONKind(si)))
	default:
		if err := json.Unmarshal(si, &s); err != nil {
			return CallEvent{}, append(errs, jsonError("statusInfo", err))
		}
	}
	return e.withStatus(&s, errs)
}

// newCallEvent is the event of eventType and raw, with the eventType's
// errors.
func newCallEvent(eventType string, raw []byte) (CallEvent, FieldErrors) {
	var (
		e    = CallEvent{EventType: eventType, Raw: raw}
		errs FieldErrors
	)
	switch {
	case eventType == "":
		errs = append(errs, fieldErr("eventType", "required"))
	case eventType == EventTypeFee:
		errs = append(errs, fieldErr("eventType", "fee is not a call event"))
	case slices.Contains(EventTypes, eventType):
	case eventTypeToken.MatchString(eventType):
		e.Anomalies = append(e.Anomalies, Anomaly{Field: "eventType", Kind: AnomalyUnknown})
	default:
		errs = append(errs, fieldErr("eventType", "unknown event type %q is not a token of letters, digits and _ of at most 64", redact.Truncate(eventType, 64)))
	}
	return e, errs
}

// withStatus sets the event's fields from statusInfo's members s and
// returns it, or the errors of errs and of its identity.
func (e CallEvent) withStatus(s *statusJSON, errs FieldErrors) (CallEvent, error) {
	e.read(s, &errs)
	if len(errs) > 0 {
		return e, errs
	}
	return e, nil
}

// read sets the event's fields from statusInfo's members, appending the
// identity errors to errs.
func (e *CallEvent) read(s *statusJSON, errs *FieldErrors) {
	if v, ok := present(s.SessionID); !ok || v[0] == jsonscan.KindString || v[0] == jsonscan.KindNull {
		if ok {
			e.SessionID, _ = lenientString(jsonValue{b: v})
		}
		checkID(errs, "statusInfo.sessionId", e.SessionID, 256)
	} else {
		*errs = append(*errs, fieldErr("statusInfo.sessionId", "got %s, want a string", JSONKind(v)))
	}
	noted := false
	if v, ok := present(s.Timestamp); ok {
		var kind string
		if e.Timestamp, kind = lenientTime(v); kind != "" {
			*errs = append(*errs, fieldErr("statusInfo.timestamp", "got %s, want a time \"yyyy-MM-dd HH:mm:ss\" (UTC) between 1970-01-02 and 2105-12-31", JSONKind(v)))
			noted = true
		}
	}
	if e.Timestamp.IsZero() && !noted {
		*errs = append(*errs, fieldErr("statusInfo.timestamp", "required"))
	}
	for _, f := range [...]struct {
		name string
		v    json.RawMessage
		to   *string
	}{
		{"statusInfo.caller", s.Caller, &e.Caller},
		{"statusInfo.called", s.Called, &e.Called},
		{"statusInfo.subscriptionId", s.SubscriptionID, &e.SubscriptionID},
		{"statusInfo.digitInfo", s.DigitInfo, &e.DigitInfo},
		{"statusInfo.stateDesc", s.StateDesc, &e.StateDesc},
		{"statusInfo.userData", s.UserData, &e.UserData},
	} {
		if v, ok := present(f.v); ok {
			var kind string
			*f.to, kind = lenientString(jsonValue{b: v})
			e.note(f.name, kind)
		}
	}
	e.StateCode = e.optionalInt("statusInfo.stateCode", s.StateCode, nil)
	e.CallRelDirection = e.optionalInt("statusInfo.callRelDirection", s.CallRelDirection, func(n Int) bool {
		return n == RelCaller || n == RelCallee
	})
}

// optionalInt reads a nullable integer member: nil when absent or not an
// integer, noted as an anomaly in the latter case; a value outside what
// documented reports (when not nil) is kept if a UInt8 column holds it.
func (e *CallEvent) optionalInt(name string, raw json.RawMessage, documented func(Int) bool) *Int {
	v, ok := present(raw)
	if !ok {
		return nil
	}
	n, present, kind := lenientInt(v)
	if present && documented != nil && !documented(n) {
		kind = AnomalyRange
		present = n == inUint8(n)
	}
	e.note(name, kind)
	if !present {
		return nil
	}
	return &n
}

func (e *CallEvent) note(field, kind string) {
	if kind != "" {
		e.Anomalies = append(e.Anomalies, Anomaly{Field: field, Kind: kind})
	}
}

// present returns a member's JSON, or false when statusInfo lacks it.
func present(raw json.RawMessage) ([]byte, bool) {
	v := bytes.TrimSpace(raw)
	return v, len(v) > 0
}
