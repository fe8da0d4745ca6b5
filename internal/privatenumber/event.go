package privatenumber

import (
	"encoding/json"
	"slices"
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

// EventTypes lists the call event types pnstream accepts.
var EventTypes = []string{EventCallIn, EventCollectInfo, EventCallOut, EventAlerting, EventAnswer, EventDisconnect}

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

	// Raw is the push body exactly as received.
	Raw json.RawMessage
}

type statusInfo struct {
	Timestamp      Time   `json:"timestamp"`
	SessionID      string `json:"sessionId"`
	Caller         string `json:"caller"`
	Called         string `json:"called"`
	SubscriptionID string `json:"subscriptionId"`
	DigitInfo      string `json:"digitInfo"`
	StateCode      *Int   `json:"stateCode"`
	StateDesc      string `json:"stateDesc"`
	UserData       string `json:"userData"`
}

type eventBody struct {
	EventType  string      `json:"eventType"`
	StatusInfo *statusInfo `json:"statusInfo"`
}

// DecodeCallEvent decodes and validates a call event push, the message body
// of the PN_EVENTS stream. raw is kept, not copied.
func DecodeCallEvent(raw []byte) (CallEvent, error) {
	var b eventBody
	if err := json.Unmarshal(raw, &b); err != nil {
		return CallEvent{}, jsonError("", err)
	}
	return b.event(raw)
}

func (b *eventBody) event(raw []byte) (CallEvent, error) {
	var errs FieldErrors
	switch {
	case b.EventType == "":
		errs = append(errs, fieldErr("eventType", "required"))
	case b.EventType == EventTypeFee:
		errs = append(errs, fieldErr("eventType", "fee is not a call event"))
	case !slices.Contains(EventTypes, b.EventType):
		errs = append(errs, fieldErr("eventType", "unknown event type %q", truncate(b.EventType, 64)))
	}
	if b.StatusInfo == nil {
		errs = append(errs, fieldErr("statusInfo", "required"))
		return CallEvent{}, errs
	}
	s := b.StatusInfo
	checkID(&errs, "statusInfo.sessionId", s.SessionID, 256)
	if s.Timestamp.IsZero() {
		errs = append(errs, fieldErr("statusInfo.timestamp", "required"))
	}
	e := CallEvent{
		EventType:      b.EventType,
		Timestamp:      s.Timestamp,
		SessionID:      s.SessionID,
		Caller:         s.Caller,
		Called:         s.Called,
		SubscriptionID: s.SubscriptionID,
		DigitInfo:      s.DigitInfo,
		StateCode:      s.StateCode,
		StateDesc:      s.StateDesc,
		UserData:       s.UserData,
		Raw:            raw,
	}
	if len(errs) > 0 {
		return e, errs
	}
	return e, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
