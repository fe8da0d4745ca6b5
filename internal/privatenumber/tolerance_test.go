package privatenumber

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Tolerance (DESIGN.md): only a record's identity refuses it; every other
// field is stored as sent, and each value not as documented is an Anomaly
// of the record.

func at(s string) time.Time {
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestFeeAnomalies(t *testing.T) {
	const ids = `"icid":"i1","sessionId":"s1"`
	tests := []struct {
		name      string
		fields    string
		anomalies string // fmt of the record's Anomalies
		check     func(r FeeRecord) bool
	}{
		{"well typed", `"callInTime":"2024-05-01 10:00:00","direction":"1","ulFailReason":"8101","recordFlag":"0","sipStatusCode":"","fwdUnaswRsn":17.0,"failTime":null,"fwdAnswerTime":"","extendNumber":"02","callDuration":30,"areaCode":"0755"`, "[]",
			func(r FeeRecord) bool {
				return r.Direction == 1 && r.ULFailReason == 8101 && r.FwdUnaswRsn == 17 && r.ExtendNum == "02" && *r.CallDuration == 30 && r.AreaCode == "0755" && !r.CallInTimeDerived
			}},
		{"no callInTime: the earliest time", `"callEndTime":"2018-06-01 08:00:40","fwdStartTime":"2018-06-01 08:00:05","failTime":"2018-06-01 08:00:09"`, "[callInTime:missing]",
			func(r FeeRecord) bool { return r.CallInTimeDerived && r.CallInTime.Equal(at("2018-06-01 08:00:05")) }},
		{"no time at all: the epoch", `"callInTime":""`, "[callInTime:missing]",
			func(r FeeRecord) bool { return r.CallInTimeDerived && r.CallInTime.Unix() == 0 }},
		{"callInTime in no known format", `"callInTime":"24/01/2019 03:33","callEndTime":"2019-01-24 03:33:57"`, "[callInTime:format]",
			func(r FeeRecord) bool { return r.CallInTimeDerived && r.CallInTime.Equal(at("2019-01-24 03:33:57")) }},
		{"callInTime a number", `"callInTime":1548300790`, "[callInTime:type]",
			func(r FeeRecord) bool { return r.CallInTimeDerived && r.CallInTime.Unix() == 0 }},
		{"callInTime out of range", `"callInTime":"2200-01-01 00:00:00"`, "[callInTime:range]",
			func(r FeeRecord) bool { return r.CallInTimeDerived }},
		{"other times", `"callInTime":"2024-05-01 10:00:00","failTime":"yesterday","fwdAnswerTime":5,"recordStartTime":"1970-01-01 00:00:00"`,
			"[fwdAnswerTime:type failTime:format recordStartTime:range]",
			func(r FeeRecord) bool {
				return r.FailTime.IsZero() && r.FwdAnswerTime.IsZero() && r.RecordStartTime.IsZero()
			}},
		{"numbers where strings are documented", `"callInTime":"2024-05-01 10:00:00","serviceType":4,"mptyId":123456789012,"extendNum":2,"hostName":true,"appKey":{"a" : [1, 2]},"spId":[],"areaCode":755,"bindNum":-1.5e3`,
			"[spId:type appKey:type bindNum:type mptyId:type serviceType:type hostName:type extendNum:type areaCode:type]",
			func(r FeeRecord) bool {
				return r.ServiceType == "4" && r.MptyID == "123456789012" && r.ExtendNum == "2" && r.HostName == "true" &&
					r.AppKey == `{"a":[1,2]}` && r.SpID == "[]" && r.AreaCode == "755" && r.BindNum == "-1.5e3"
			}},
		{"extendNumber as a number", `"callInTime":"2024-05-01 10:00:00","extendNumber":2`, "[extendNumber:type]",
			func(r FeeRecord) bool { return r.ExtendNum == "2" }},
		{"enumerations out of range", `"callInTime":"2024-05-01 10:00:00","direction":7,"recordFlag":2`, "[direction:range recordFlag:range]",
			func(r FeeRecord) bool { return r.Direction == 7 && r.RecordFlag == 2 && !r.Recorded() }},
		{"enumerations beyond their column", `"callInTime":"2024-05-01 10:00:00","direction":300,"recordFlag":-1`, "[direction:range recordFlag:range]",
			func(r FeeRecord) bool { return r.Direction == 0 && r.RecordFlag == 0 }},
		{"integers that are none", `"callInTime":"2024-05-01 10:00:00","direction":"north","ulFailReason":1.5,"ttsPlayTimes":true,"callOutUnaswRsn":{},"sipStatusCode":"8 101"`,
			"[direction:type ulFailReason:type sipStatusCode:type callOutUnaswRsn:type ttsPlayTimes:type]",
			func(r FeeRecord) bool { return r.Direction == 0 && r.ULFailReason == 0 && r.TTSPlayTimes == 0 }},
		{"integers beyond 32 bits", `"callInTime":"2024-05-01 10:00:00","fwdUnaswRsn":2147483648,"sipStatusCode":"99999999999","ttsTransDuration":1e99,"direction":99999999999999999999`,
			"[direction:range fwdUnaswRsn:range sipStatusCode:range ttsTransDuration:range]",
			func(r FeeRecord) bool { return r.FwdUnaswRsn == 0 && r.SIPStatusCode == 0 }},
		{"integral spellings", `"callInTime":"2024-05-01 10:00:00","fwdUnaswRsn":"1e3","sipStatusCode":-2147483648,"ttsPlayTimes":"+7"`, "[]",
			func(r FeeRecord) bool {
				return r.FwdUnaswRsn == 1000 && r.SIPStatusCode == -2147483648 && r.TTSPlayTimes == 7
			}},
		{"callDuration", `"callInTime":"2024-05-01 10:00:00","callDuration":"42"`, "[]",
			func(r FeeRecord) bool { return r.CallDuration != nil && *r.CallDuration == 42 }},
		{"callDuration negative", `"callInTime":"2024-05-01 10:00:00","callDuration":-1`, "[callDuration:range]",
			func(r FeeRecord) bool { return *r.CallDuration == -1 }},
		{"callDuration no integer", `"callInTime":"2024-05-01 10:00:00","callDuration":"long"`, "[callDuration:type]",
			func(r FeeRecord) bool { return r.CallDuration == nil }},
		{"callDuration null", `"callInTime":"2024-05-01 10:00:00","callDuration":null`, "[]",
			func(r FeeRecord) bool { return r.CallDuration == nil }},
		{"the last of a duplicated key", `"callInTime":"2024-05-01 10:00:00","direction":"x","direction":1,"serviceType":5,"SERVICETYPE":"003"`, "[]",
			func(r FeeRecord) bool { return r.Direction == 1 && r.ServiceType == "003" }},
		{"unknown keys are no anomaly", `"callInTime":"2024-05-01 10:00:00","voiceCheckType":{"x":1},"callOutStartTime":5`, "[]",
			func(r FeeRecord) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte("{" + ids + "," + tt.fields + "}")
			sameRecordAsJSON(t, raw)
			sameAsJSON(t, feePush(string(raw)), FeePush)
			r, err := DecodeFeeRecord(raw)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if got := fmt.Sprint(r.Anomalies); got != tt.anomalies {
				t.Errorf("anomalies %s, want %s", got, tt.anomalies)
			}
			if !tt.check(r) {
				t.Errorf("unexpected record %+v", r)
			}
			if string(r.Raw) != string(raw) {
				t.Errorf("raw %s, want the record as received", r.Raw)
			}
		})
	}
}

// The derived callInTime is a function of the record: the same record
// however spelt, pushed again or read by the recorder, has the same one.
func TestDerivedCallInTimeIsDeterministic(t *testing.T) {
	spellings := []string{
		`{"icid":"i1","sessionId":"s1","callEndTime":"2018-06-01 08:00:40","fwdStartTime":"2018-06-01 08:00:05"}`,
		`{ "fwdStartTime" : "2018-06-01 08:00:05", "callEndTime":"2018-06-01 08:00:40", "sessionId":"s1","icid":"i1","callInTime":null }`,
		`{"icid":"i1","sessionId":"s1","callInTime":"","fwdStartTime":"2018-06-01T08:00:05Z","callEndTime":"2018-06-01 08:00:40","x":[1]}`,
	}
	want := at("2018-06-01 08:00:05")
	for _, raw := range spellings {
		for range 2 {
			r, err := DecodeFeeRecord([]byte(raw))
			if err != nil || !r.CallInTimeDerived || !r.CallInTime.Equal(want) || r.CallInTime.Location() != time.UTC {
				t.Fatalf("%s: callInTime %v derived %v, %v; want %v", raw, r.CallInTime, r.CallInTimeDerived, err, want)
			}
		}
		p, err := DecodePush(feePush(raw), FeePush)
		if err != nil || len(p.Fees) != 1 || !p.Fees[0].CallInTime.Equal(want) {
			t.Fatalf("%s in a push: %+v, %v", raw, p, err)
		}
	}
	var none FeeRecord
	if got := none.DerivedCallInTime(); got.Unix() != 0 || got.IsZero() {
		t.Errorf("no time at all: %v, want the epoch", got)
	}
}

// Identity still refuses, naming the field.
func TestFeeIdentityRefuses(t *testing.T) {
	for _, tt := range []struct{ raw, field, reason string }{
		{`{"sessionId":"s","callInTime":"2024-05-01 10:00:00"}`, "icid", "required"},
		{`{"icid":"","sessionId":"s"}`, "icid", "required"},
		{`{"icid":12345,"sessionId":"s"}`, "icid", "got number 12345, want a string"},
		{`{"icid":"a b","sessionId":"s"}`, "icid", "space"},
		{`{"icid":"` + strings.Repeat("i", 65) + `","sessionId":"s"}`, "icid", "longer than 64"},
		{`{"icid":"i"}`, "sessionId", "required"},
		{`{"icid":"i","sessionId":{"id":"s"}}`, "sessionId", "got object, want a string"},
		{`{"icid":"i","sessionId":null}`, "sessionId", "required"},
	} {
		sameRecordAsJSON(t, []byte(tt.raw))
		_, err := DecodeFeeRecord([]byte(tt.raw))
		var fes FieldErrors
		if !errors.As(err, &fes) || fes[0].Field != tt.field || !strings.Contains(fes[0].Reason, tt.reason) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want %s: %s", tt.raw, err, tt.field, tt.reason)
		}
	}
}

func TestEventAnomalies(t *testing.T) {
	const head = `"sessionId":"s1","timestamp":"2024-05-01 10:00:00"`
	tests := []struct {
		name, eventType, fields string
		anomalies               string
		check                   func(e *CallEvent) bool
	}{
		{"well typed", "disconnect", `"stateCode":"8101","stateDesc":"x","callRelDirection":"2","userData":null`, "[]",
			func(e *CallEvent) bool { return *e.StateCode == 8101 && *e.CallRelDirection == RelCallee }},
		{"unknown event type", "ringing", ``, "[eventType:unknown]",
			func(e *CallEvent) bool { return e.MsgID() == "event:s1:ringing:2024-05-01 10:00:00" }},
		{"stateCode no integer", "disconnect", `"stateCode":"abc"`, "[statusInfo.stateCode:type]",
			func(e *CallEvent) bool { return e.StateCode == nil }},
		{"stateCode a fraction", "disconnect", `"stateCode":1.5`, "[statusInfo.stateCode:type]",
			func(e *CallEvent) bool { return e.StateCode == nil }},
		{"stateCode beyond 32 bits", "disconnect", `"stateCode":99999999999`, "[statusInfo.stateCode:range]",
			func(e *CallEvent) bool { return e.StateCode == nil }},
		{"stateCode empty", "disconnect", `"stateCode":""`, "[]",
			func(e *CallEvent) bool { return e.StateCode == nil }},
		{"numbers where strings are documented", "callin", `"caller":8613800000000,"called":true,"subscriptionId":{"a":1},"digitInfo":2,"stateDesc":[1],"userData":0.5`,
			"[statusInfo.caller:type statusInfo.called:type statusInfo.subscriptionId:type statusInfo.digitInfo:type statusInfo.stateDesc:type statusInfo.userData:type]",
			func(e *CallEvent) bool {
				return e.Caller == "8613800000000" && e.Called == "true" && e.SubscriptionID == `{"a":1}` && e.DigitInfo == "2" && e.UserData == "0.5"
			}},
		{"callRelDirection out of range", "disconnect", `"callRelDirection":3`, "[statusInfo.callRelDirection:range]",
			func(e *CallEvent) bool { return *e.CallRelDirection == 3 }},
		{"callRelDirection beyond its column", "disconnect", `"callRelDirection":"300"`, "[statusInfo.callRelDirection:range]",
			func(e *CallEvent) bool { return e.CallRelDirection == nil }},
		{"callRelDirection no integer", "disconnect", `"callRelDirection":"callee"`, "[statusInfo.callRelDirection:type]",
			func(e *CallEvent) bool { return e.CallRelDirection == nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := head
			if tt.fields != "" {
				fields += "," + tt.fields
			}
			body := []byte(`{"eventType":"` + tt.eventType + `","statusInfo":{` + fields + `}}`)
			sameAsJSON(t, body, EventPush)
			e, err := DecodeCallEvent(body)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			p, err := DecodePush(body, EventPush)
			if err != nil || fmt.Sprint(p.Event.Anomalies) != fmt.Sprint(e.Anomalies) {
				t.Fatalf("DecodePush: %+v, %v; DecodeCallEvent: %+v", p, err, e)
			}
			if got := fmt.Sprint(e.Anomalies); got != tt.anomalies {
				t.Errorf("anomalies %s, want %s", got, tt.anomalies)
			}
			if !tt.check(&e) {
				t.Errorf("unexpected event %+v", e)
			}
		})
	}
}

// An event's identity still refuses it, and so does an eventType that
// cannot be a subject token; fee stays off the events path.
func TestEventIdentityRefuses(t *testing.T) {
	const si = `{"sessionId":"s","timestamp":"2024-05-01 10:00:00"}`
	for _, tt := range []struct {
		body  string
		kind  Kind
		field string
	}{
		{`{"statusInfo":` + si + `}`, AnyPush, "eventType"},
		{`{"eventType":"pn.events.>","statusInfo":` + si + `}`, AnyPush, "eventType"},
		{`{"eventType":"1callin","statusInfo":` + si + `}`, AnyPush, "eventType"},
		{`{"eventType":"ring ing","statusInfo":` + si + `}`, AnyPush, "eventType"},
		{`{"eventType":"` + strings.Repeat("a", 65) + `","statusInfo":` + si + `}`, AnyPush, "eventType"},
		{`{"eventType":"fee","statusInfo":` + si + `}`, EventPush, "eventType"},
		{`{"eventType":"answer","statusInfo":` + si + `}`, FeePush, "eventType"},
		{`{"eventType":"answer"}`, AnyPush, "statusInfo"},
		{`{"eventType":"answer","statusInfo":[1]}`, AnyPush, "statusInfo"},
		{`{"eventType":"answer","statusInfo":{"timestamp":"2024-05-01 10:00:00"}}`, AnyPush, "statusInfo.sessionId"},
		{`{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":"2024-05-01 10:00"}}`, AnyPush, "statusInfo.timestamp"},
		{`{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":""}}`, AnyPush, "statusInfo.timestamp"},
	} {
		sameAsJSON(t, []byte(tt.body), tt.kind)
		_, err := DecodePush([]byte(tt.body), tt.kind)
		var fes FieldErrors
		if !errors.As(err, &fes) || fes[0].Field != tt.field {
			t.Errorf("%s: %v, want an error on %s", tt.body, err, tt.field)
		}
		if tt.kind == AnyPush {
			if _, err := DecodeCallEvent([]byte(tt.body)); !errors.Is(err, ErrInvalid) {
				t.Errorf("DecodeCallEvent %s: %v", tt.body, err)
			}
		}
	}
}
