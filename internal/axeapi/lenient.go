package axeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// API answers are decoded leniently: the platform documents bindExpiredTime
// and callbackExpiredTime as integers and the numbers and IDs as strings,
// but a quoted integer, or a bare number where a string is documented, must
// not turn a successful call into an error (a retried bind binds twice).

// text is a string field that also accepts a JSON number, kept as its text.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return fmt.Errorf("empty value")
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	case string(b) == "null":
		*t = ""
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*t = text(n.String())
	default:
		return &json.UnmarshalTypeError{Value: privatenumber.JSONKind(b), Type: typeOfText}
	}
	return nil
}

// UnmarshalJSON decodes a bind answer leniently (see text and privatenumber.Int).
func (r *BindResponse) UnmarshalJSON(b []byte) error {
	var w struct {
		SubscriptionID      text              `json:"subscriptionId"`
		VirtualNum          text              `json:"virtualNum"`
		ExtendNum           text              `json:"extendNum"`
		BindExpiredTime     privatenumber.Int `json:"bindExpiredTime"`
		CallbackExpiredTime privatenumber.Int `json:"callbackExpiredTime"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("bind answer: %w", err)
	}
	*r = BindResponse{
		SubscriptionID: string(w.SubscriptionID), VirtualNum: string(w.VirtualNum), ExtendNum: string(w.ExtendNum),
		BindExpiredTime: int(w.BindExpiredTime), CallbackExpiredTime: int(w.CallbackExpiredTime),
	}
	return nil
}

// UnmarshalJSON decodes a binding of query v1 or v2 leniently (see text
// and privatenumber.Int).
func (r *BindingInfo) UnmarshalJSON(b []byte) error {
	var w struct {
		SubscriptionID      text              `json:"subscriptionId"`
		VirtualNum          text              `json:"virtualNum"`
		ExtendNum           text              `json:"extendNum"`
		BindNum             text              `json:"bindNum"`
		DisplayNumMode      text              `json:"displayNumMode"`
		RecordFlag          Flag              `json:"recordFlag"`
		RecordHintTone      text              `json:"recordHintTone"`
		CallbackTone        text              `json:"callbackTone"`
		CallbackNum         text              `json:"callbackNum"`
		TimeUnit            text              `json:"timeUnit"`
		BindExpiredTime     privatenumber.Int `json:"bindExpiredTime"`
		CallbackExpiredTime privatenumber.Int `json:"callbackExpiredTime"`
		UserData            text              `json:"userData"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("binding: %w", err)
	}
	*r = BindingInfo{
		SubscriptionID: string(w.SubscriptionID), VirtualNum: string(w.VirtualNum), ExtendNum: string(w.ExtendNum),
		BindNum: string(w.BindNum), DisplayNumMode: string(w.DisplayNumMode), RecordFlag: w.RecordFlag,
		RecordHintTone: string(w.RecordHintTone), CallbackTone: string(w.CallbackTone), CallbackNum: string(w.CallbackNum),
		TimeUnit: string(w.TimeUnit), BindExpiredTime: int(w.BindExpiredTime), CallbackExpiredTime: int(w.CallbackExpiredTime),
		UserData: string(w.UserData),
	}
	return nil
}

var typeOfText = reflect.TypeFor[text]()
