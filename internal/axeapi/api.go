package axeapi

import (
	"bytes"
	"fmt"
	"net/url"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// API paths of the AXE mode (reference §2–§4).
const (
	// PathAXE serves bind (POST), unbind (DELETE), query (GET) and modify
	// (PUT) of AXE bindings.
	PathAXE = "/rest/caas/extendnumber/v1.0"
	// PathRecording answers a recording's download URL with HTTP 301.
	PathRecording = "/rest/provision/voice/record/v1.0"
	// ContentType is sent on every call, GET and DELETE included.
	ContentType = "application/json;charset=UTF-8"
)

// Values of the bind parameters that are enumerations.
const (
	TimeUnitHours   = "0"
	TimeUnitMinutes = "1"

	DisplayVirtualNum = "0" // A sees X as the caller ID (operators require it)
	DisplayCaller     = "1" // A sees the real caller (blocked by operators: 8024)

	AreaMatchStrict = "0" // fail when no X serves that area code
	AreaMatchLoose  = "1" // fall back to the province, then to any X of the app
)

// Flag is a boolean the API carries as the string "true" or "false"
// (recordFlag in bind, modify and query). It encodes as that string and
// decodes the string or a JSON boolean, since some integrations send one.
type Flag bool

// MarshalJSON encodes "true" or "false".
func (f Flag) MarshalJSON() ([]byte, error) {
	if f {
		return []byte(`"true"`), nil
	}
	return []byte(`"false"`), nil
}

// UnmarshalJSON accepts "true", "false", true, false and null (false).
func (f *Flag) UnmarshalJSON(b []byte) error {
	switch string(bytes.TrimSpace(b)) {
	case `"true"`, "true":
		*f = true
	case `"false"`, "false", "null":
		*f = false
	default:
		return fmt.Errorf("recordFlag: want \"true\" or \"false\", got %s", privatenumber.JSONKind(b))
	}
	return nil
}

// BindRequest is the body of CreateAXEBinding. Numbers are E.164 with the
// leading "+". Either VirtualNum or AreaCode is required (VirtualNum wins);
// BindNum is required. Empty optional fields are left out, so the
// platform's defaults apply: an allocated extension, displayNumMode "0",
// hours, a 168 h binding, the app's callback setting.
type BindRequest struct {
	VirtualNum     string `json:"virtualNum,omitempty"`
	AreaCode       string `json:"areaCode,omitempty"`      // e.g. "0755"
	AreaMatchMode  string `json:"areaMatchMode,omitempty"` // AreaMatchStrict or AreaMatchLoose
	BindNum        string `json:"bindNum"`
	ExtendNum      string `json:"extendNum,omitempty"` // 1–4 digits as configured for the app
	DisplayNumMode string `json:"displayNumMode,omitempty"`
	RecordFlag     Flag   `json:"recordFlag"`
	RecordHintTone string `json:"recordHintTone,omitempty"`
	// CallbackTone and CallbackNum are mutually exclusive (1010002 if both).
	CallbackTone string `json:"callbackTone,omitempty"`
	CallbackNum  string `json:"callbackNum,omitempty"`
	TimeUnit     string `json:"timeUnit,omitempty"` // TimeUnitHours (default) or TimeUnitMinutes
	// BindExpiredTime is the binding's lifetime in TimeUnit, 0 = never;
	// nil = the platform's default of 168 hours. At most 720 h / 43200 min.
	BindExpiredTime *int `json:"bindExpiredTime,omitempty"`
	// CallbackExpiredTime is the lifetime of callback records, at most
	// BindExpiredTime; nil = the platform's default.
	CallbackExpiredTime *int   `json:"callbackExpiredTime,omitempty"`
	UserData            string `json:"userData,omitempty"`
}

// BindResponse is the answer to a successful bind.
type BindResponse struct {
	SubscriptionID      string `json:"subscriptionId"`
	VirtualNum          string `json:"virtualNum"`
	ExtendNum           string `json:"extendNum"`
	BindExpiredTime     int    `json:"bindExpiredTime"`
	CallbackExpiredTime int    `json:"callbackExpiredTime"`
}

// BindingRef names one binding for unbind and query: by SubscriptionID,
// or by VirtualNum and ExtendNum together. SubscriptionID wins when both
// are given.
type BindingRef struct {
	SubscriptionID string
	VirtualNum     string
	ExtendNum      string
}

// query encodes the reference as a query string; url.Values sends "+" as
// %2B, as the platform requires.
func (r BindingRef) query() url.Values {
	v := url.Values{}
	if r.SubscriptionID != "" {
		v.Set("subscriptionId", r.SubscriptionID)
	}
	if r.VirtualNum != "" {
		v.Set("virtualNum", r.VirtualNum)
	}
	if r.ExtendNum != "" {
		v.Set("extendNum", r.ExtendNum)
	}
	return v
}

func (r BindingRef) String() string {
	if r.SubscriptionID != "" {
		return "subscriptionId " + r.SubscriptionID
	}
	return fmt.Sprintf("virtualNum %s extendNum %s", r.VirtualNum, r.ExtendNum)
}

// BindingInfo is the answer of query v1, flat as the platform sends it.
// When both the bind and a later modify set the lifetime, the platform
// reports the bind-time TimeUnit and BindExpiredTime.
type BindingInfo struct {
	SubscriptionID      string `json:"subscriptionId"`
	VirtualNum          string `json:"virtualNum"`
	ExtendNum           string `json:"extendNum"`
	BindNum             string `json:"bindNum"`
	DisplayNumMode      string `json:"displayNumMode"`
	RecordFlag          Flag   `json:"recordFlag"`
	RecordHintTone      string `json:"recordHintTone,omitempty"`
	CallbackTone        string `json:"callbackTone,omitempty"`
	CallbackNum         string `json:"callbackNum,omitempty"`
	TimeUnit            string `json:"timeUnit"`
	BindExpiredTime     int    `json:"bindExpiredTime"`
	CallbackExpiredTime int    `json:"callbackExpiredTime"`
	UserData            string `json:"userData,omitempty"`
}

// ModifyRequest changes a binding found by SubscriptionID, or by
// VirtualNum and ExtendNum. A nil field is left unchanged. Setting
// CallbackTone or CallbackNum (not both) replaces the other.
type ModifyRequest struct {
	SubscriptionID string `json:"subscriptionId,omitempty"`
	VirtualNum     string `json:"virtualNum,omitempty"`
	ExtendNum      string `json:"extendNum,omitempty"`

	DisplayNumMode      *string `json:"displayNumMode,omitempty"`
	RecordFlag          *Flag   `json:"recordFlag,omitempty"`
	RecordHintTone      *string `json:"recordHintTone,omitempty"`
	CallbackTone        *string `json:"callbackTone,omitempty"`
	CallbackNum         *string `json:"callbackNum,omitempty"`
	TimeUnit            *string `json:"timeUnit,omitempty"`
	BindExpiredTime     *int    `json:"bindExpiredTime,omitempty"`
	CallbackExpiredTime *int    `json:"callbackExpiredTime,omitempty"`
	UserData            *string `json:"userData,omitempty"`
}

// Ref is the binding the request modifies.
func (r *ModifyRequest) Ref() BindingRef {
	return BindingRef{SubscriptionID: r.SubscriptionID, VirtualNum: r.VirtualNum, ExtendNum: r.ExtendNum}
}
