package privatenumber

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeSeedFeePush(t *testing.T) {
	p, err := DecodePush(readTestdata(t, "seed-fee.json"), FeePush)
	if err != nil {
		t.Fatalf("DecodePush: %v", err)
	}
	if p.Err() != nil || len(p.Fees) != 1 {
		t.Fatalf("got %d fees, rejected %v", len(p.Fees), p.Err())
	}
	r := p.Fees[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"icid", r.ICID, "ba171f34e6953fcd751edc77127748f4.3757289590.338833305.5"},
		{"direction", r.Direction, Int(0)},
		{"bindNum", r.BindNum, "+86138****0022"},
		{"callInTime", r.CallInTime.Time, time.Date(2019, 1, 24, 3, 33, 10, 0, time.UTC)},
		{"callEndTime", r.CallEndTime.Time, time.Date(2019, 1, 24, 3, 33, 57, 0, time.UTC)},
		{"failTime absent", r.FailTime.IsZero(), true},
		{"recordFlag", r.RecordFlag, Int(1)},
		{"serviceType", r.ServiceType, "005"},
		{"extendNum from extendNumber", r.ExtendNum, "02"},
		{"msg id", r.MsgID(), "fee:ba171f34e6953fcd751edc77127748f4.3757289590.338833305.5"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !strings.HasPrefix(string(r.Raw), "{") || !strings.Contains(string(r.Raw), `"extendNumber": "02"`) {
		t.Errorf("Raw is not the record as received: %s", r.Raw)
	}
}

func TestDecodeSeedEvent(t *testing.T) {
	body := readTestdata(t, "seed-event.json")
	p, err := DecodePush(body, AnyPush)
	if err != nil {
		t.Fatalf("DecodePush: %v", err)
	}
	e := p.Event
	if e == nil || e.EventType != EventDisconnect || e.StateCode == nil || *e.StateCode != 0 || e.StateDesc != "The user releases the call." {
		t.Fatalf("event = %+v", e)
	}
	want := "event:1202_1051_4294967295_20190124070250@callenabler246.huaweicaas.com:disconnect:2019-01-24 07:03:28"
	if e.MsgID() != want {
		t.Errorf("MsgID = %q, want %q", e.MsgID(), want)
	}
	if string(e.Raw) != string(body) {
		t.Error("Raw is not the body as received")
	}
}

func feePush(records ...string) []byte {
	return []byte(`{"eventType":"fee","feeLst":[` + strings.Join(records, ",") + `]}`)
}

func feeRecord(extra string) string {
	r := `"icid":"i1","sessionId":"s1","callInTime":"2024-05-01 10:00:00"`
	if extra != "" {
		r += "," + extra
	}
	return "{" + r + "}"
}

func TestDecodeTolerance(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		check func(r FeeRecord) bool
	}{
		{"numbers as strings", `"direction":"1","ulFailReason":"8101","recordFlag":"0"`, func(r FeeRecord) bool { return r.Direction == 1 && r.ULFailReason == 8101 }},
		{"empty numeric string", `"sipStatusCode":""`, func(r FeeRecord) bool { return r.SIPStatusCode == 0 }},
		{"integral float", `"fwdUnaswRsn":17.0`, func(r FeeRecord) bool { return r.FwdUnaswRsn == 17 }},
		{"unknown keys", `"voiceCheckType":3,"nested":{"a":[1,2]}`, func(r FeeRecord) bool { return r.ICID == "i1" }},
		{"extendNum", `"extendNum":"1234"`, func(r FeeRecord) bool { return r.ExtendNum == "1234" }},
		{"extendNum wins over extendNumber", `"extendNum":"1","extendNumber":"2"`, func(r FeeRecord) bool { return r.ExtendNum == "1" }},
		{"empty subscriptionId and recordDomain", `"subscriptionId":"","recordDomain":""`, func(r FeeRecord) bool { return r.SubscriptionID == "" }},
		{"null time", `"failTime":null,"fwdAnswerTime":""`, func(r FeeRecord) bool { return r.FailTime.IsZero() && r.FwdAnswerTime.IsZero() }},
		{"RFC 3339 time", `"callEndTime":"2024-05-01T10:01:00Z"`, func(r FeeRecord) bool { return r.CallEndTime.Equal(time.Date(2024, 5, 1, 10, 1, 0, 0, time.UTC)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DecodePush(feePush(feeRecord(tt.extra)), AnyPush)
			if err != nil || p.Err() != nil {
				t.Fatalf("DecodePush: %v / %v", err, p.Err())
			}
			if !tt.check(p.Fees[0]) {
				t.Errorf("unexpected record %+v", p.Fees[0])
			}
		})
	}
}

func TestDecodeErrorsNameTheField(t *testing.T) {
	fifty := make([]string, 51)
	for i := range fifty {
		fifty[i] = feeRecord("")
	}
	tests := []struct {
		name  string
		body  string
		kind  Kind
		field string
	}{
		{"not JSON", `{"eventType":`, AnyPush, ""},
		{"empty body", ``, AnyPush, ""},
		{"array body", `[1,2]`, AnyPush, ""},
		{"eventType not a token", `{"eventType":"ring.ing","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"}}`, AnyPush, "eventType"},
		{"eventType not a string", `{"eventType":5,"statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"}}`, AnyPush, "eventType"},
		{"missing eventType", `{"statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"}}`, AnyPush, "eventType"},
		{"fee on events path", string(feePush(feeRecord(""))), EventPush, "eventType"},
		{"event on fees path", `{"eventType":"answer","statusInfo":{}}`, FeePush, "eventType"},
		{"missing statusInfo", `{"eventType":"answer"}`, AnyPush, "statusInfo"},
		{"statusInfo not object", `{"eventType":"answer","statusInfo":"x"}`, AnyPush, "statusInfo"},
		{"missing sessionId", `{"eventType":"answer","statusInfo":{"timestamp":"2024-01-01 00:00:00"}}`, AnyPush, "statusInfo.sessionId"},
		{"bad timestamp", `{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":"yesterday"}}`, AnyPush, "statusInfo.timestamp"},
		{"sessionId not a string", `{"eventType":"answer","statusInfo":{"sessionId":7,"timestamp":"2024-01-01 00:00:00"}}`, AnyPush, "statusInfo.sessionId"},
		{"timestamp not a string", `{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":1548313408}}`, AnyPush, "statusInfo.timestamp"},
		{"feeLst missing", `{"eventType":"fee"}`, AnyPush, "feeLst"},
		{"feeLst empty", `{"eventType":"fee","feeLst":[]}`, AnyPush, "feeLst"},
		{"feeLst not array", `{"eventType":"fee","feeLst":{}}`, AnyPush, "feeLst"},
		{"51 records", string(feePush(fifty...)), AnyPush, "feeLst"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodePush([]byte(tt.body), tt.kind)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			var fes FieldErrors
			if !errors.As(err, &fes) || len(fes) == 0 {
				t.Fatalf("err %v is not FieldErrors", err)
			}
			if fes[0].Field != tt.field {
				t.Errorf("field = %q, want %q (err %v)", fes[0].Field, tt.field, err)
			}
		})
	}
}

// Only identity refuses a record, and a refused record does not block
// the others of its push; a record with anomalies is kept. (Before tolerance,
// a bad direction, recordFlag or callInTime refused the record too.)
func TestInvalidRecordsDoNotBlockValidOnes(t *testing.T) {
	body := feePush(
		feeRecord(""),
		`{"sessionId":"s2","callInTime":"2024-05-01 10:00:00"}`,
		feeRecord(`"direction":"north"`),
		`{"icid":"i4","sessionId":"s4","callInTime":"2024-13-01 10:00:00"}`,
		`{"icid":"i5","sessionId":"s5","callInTime":"2024-05-01 10:00:00","recordFlag":7}`,
		`{"icid":"has space","sessionId":"s6","callInTime":"2024-05-01 10:00:00"}`,
		`{"icid":"i7","sessionId":"s7","callInTime":"2200-01-01 00:00:00"}`,
		`{"icid":"i8","sessionId":"s8","callInTime":"2024-05-01 10:00:00","direction":99999999999999999999}`,
		`{"icid":9,"sessionId":"s9","callInTime":"2024-05-01 10:00:00"}`,
		`{"icid":"i10","callInTime":"2024-05-01 10:00:00"}`,
	)
	p, err := DecodePush(body, FeePush)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, r := range p.Fees {
		kept = append(kept, r.ICID+"="+fmt.Sprint(r.Anomalies))
	}
	wantKept := []string{"i1=[]", "i1=[direction:type]", "i4=[callInTime:format]", "i5=[recordFlag:range]", "i7=[callInTime:range]", "i8=[direction:range]"}
	if fmt.Sprint(kept) != fmt.Sprint(wantKept) {
		t.Errorf("kept %v, want %v", kept, wantKept)
	}
	want := []struct {
		index int
		field string
	}{{1, "feeLst[1].icid"}, {5, "feeLst[5].icid"}, {8, "feeLst[8].icid"}, {9, "feeLst[9].sessionId"}}
	if len(p.Rejected) != len(want) {
		t.Fatalf("rejected %d records, want %d: %v", len(p.Rejected), len(want), p.Err())
	}
	for i, r := range p.Rejected {
		if r.Err[0].Field != want[i].field {
			t.Errorf("rejected[%d] field = %q, want %q (%v)", i, r.Err[0].Field, want[i].field, r.Err)
		}
		if r.Index != want[i].index || len(r.Raw) == 0 {
			t.Errorf("rejected[%d] index %d raw %q", i, r.Index, r.Raw)
		}
	}
	if !errors.Is(p.Err(), ErrInvalid) {
		t.Error("Push.Err does not match ErrInvalid")
	}
}

func TestFiftyRecordsAccepted(t *testing.T) {
	recs := make([]string, MaxFeeRecords)
	for i := range recs {
		recs[i] = fmt.Sprintf(`{"icid":"i%d","sessionId":"s","callInTime":"2024-05-01 10:00:00"}`, i)
	}
	p, err := DecodePush(feePush(recs...), FeePush)
	if err != nil || len(p.Fees) != MaxFeeRecords {
		t.Fatalf("err %v, %d fees", err, len(p.Fees))
	}
}
