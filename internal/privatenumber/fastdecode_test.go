package privatenumber

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// The one-pass decoder must give exactly what the encoding/json way gives:
// the same records (anomalies included), the same rejections and the same
// errors, for every body.

// slowRecord decodes a record the encoding/json way only.
func slowRecord(path string, raw []byte, _ bool) (FeeRecord, error) {
	return decodeFeeRecordJSON(path, raw)
}

// sameAsJSON checks Decode against encoding/json on body: the push decoded
// by encoding/json with each record decoded the usual way (one-pass first)
// and the encoding/json way only, with the default record limit and with
// one small enough to refuse most records.
func sameAsJSON(t *testing.T, body []byte, kind Kind) {
	t.Helper()
	for _, limit := range []int{DefaultMaxRecordBytes, 64} {
		got, gotErr := Decoder{MaxRecordBytes: limit}.Decode(body, kind)
		for _, decodeRecord := range []recordDecoder{decodeFeeRecord, slowRecord} {
			want, wantErr := decodePushWith(body, kind, limit, decodeRecord)
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
				t.Fatalf("body %q kind %d limit %d: error %v, encoding/json says %v", body, kind, limit, gotErr, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("body %q kind %d limit %d:\n got %+v\nwant %+v", body, kind, limit, got, want)
			}
		}
		if gotErr != nil && !errors.Is(gotErr, ErrInvalid) {
			t.Fatalf("body %q kind %d: error %v does not match ErrInvalid", body, kind, gotErr)
		}
	}
}

var fastDecodeBodies = []string{
	string(feePush(feeRecord(""))),
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","direction":1,"recordFlag":"1","ulFailReason":"","fwdUnaswRsn":17.0,"sipStatusCode":null,"failTime":null,"fwdAnswerTime":"","extendNumber":"02"}]}`,
	" \n{ \"feeLst\" : [ {\"icid\" : \"a\" , \"sessionId\":\"s\",\"callInTime\":\"2024-05-01 10:00:00\"} ] , \"eventType\" : \"fee\" } \r\n\t",
	`{"eventType":"fee","feeLst":[{"icid":"a\u0041\n","sessionId":"s\"q","callInTime":"2024-05-01 10:00:00","recordFileDownloadUrl":"https://h/x?a=1\u0026b=2"}]}`,
	"{\"eventType\":\"fee\",\"feeLst\":[{\"icid\":\"a\",\"sessionId\":\"s\xff\xfe\",\"callInTime\":\"2024-05-01 10:00:00\",\"hostName\":\"ホスト\"}]}",
	`{"eventType":"fee","feeLst":[{"ICID":"a","sessionid":"s","callInTime":"2024-05-01 10:00:00"}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","icid":"b","spId":"x","spId":null,"sessionId":"s","callInTime":"2024-05-01 10:00:00"}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","voiceCheckType":3,"nested":{"a":[1,2,{"b":null}],"c":true,"d":false,"e":-1.5e+3}}]}`,
	`{"eventType":"fee","EventType":"answer","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00"}]}`,
	`{"eventType":"fee","eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00"}]}`,
	`{"eventType":"fee","statusInfo":null,"feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00"}]}`,
	`{"eventType":"fee","statusInfo":"x","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00"}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00"}]} x`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00"},]}`,
	`{"eventType":"fee","feeLst":[5,"x",null,{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00"}]}`,
	`{"eventType":"fee","feeLst":[{"icid":1,"sessionId":"s","callInTime":"2024-05-01 10:00:00"}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-02-30 10:00:00","direction":"x"}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01T10:00:00Z","direction":01}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","direction":-0,"recordFlag":1e0}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","spId":"\x01"}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","spId":"\u12"}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","x":[tru]}]}`,
	`{"eventType":"fee","feeLst":[]}`,
	`{"eventType":"fee","feeLst":{}}`,
	`{"eventType":"fee"}`,
	`{"eventType":"fe\u0065","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00"}]}`,
	`{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"}}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","fwdStartTime":"2024-05-01 24:00:00","callEndTime":" 2024-05-01 10:00:00"}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"1970-01-01 00:00:00"}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","direction":2147483648,"ttsPlayTimes":"-2147483648"}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","ſpId":"long s","appKey":"K"}]}`,
	`[]`, ``, `null`, `{}`, `{"eventType":null,"feeLst":null}`,
	// Keys encoding/json folds to a field, escaped keys, and values of the
	// wrong type, which the one-pass decoder reports as encoding/json does.
	`{"eventType":"fee","feeLst":[{"ICID":"a","SessionId":"s","CALLINTIME":"2024-05-01 10:00:00","app\u212Aey":"k","\u0069cid":"b"}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","\u0061\u0070\u0070\u004b\u0065\u0079\u0061\u0070\u0070\u004b\u0065\u0079\u0061\u0070\u0070\u004b\u0065\u0079":"x","\ud83d\ude00":1}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","spId":1,"direction":"x"}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","direction":"x","spId":1}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","spId":true,"appKey":[1],"hostName":{"a":1},"SPID":"ok"}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","failTime":{},"recordFlag":[]}]}`,
	"{\"eventType\":\"fee\",\"feeLst\":[{\"icid\":\"a\",\"sessionId\":\"s\",\"callInTime\":\"2024-05-01 10:00:00\",\"hostName\":\"\xff\xfe\\u00e9\\ud800\\udc00\\ud800x\\n\"}]}",
	// Values not as documented, read leniently (tolerance): strings given
	// as other JSON types, integers that are none or out of range, times in
	// no known format, a CDR without callInTime, duplicated keys.
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","serviceType":4,"mptyId":1.5e3,"extendNum":true,"hostName":{"a" : [1, "x" ]},"appKey":[],"direction":7,"recordFlag":300,"callDuration":"12","areaCode":755}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":12,"fwdStartTime":"2024-05-01 10:00:05","callEndTime":"2024-05-01 10:00:01","failTime":"x","fwdAnswerTime":false}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","direction":"x","direction":1,"serviceType":5,"SERVICETYPE":null,"callDuration":-3,"callDuration":null}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","ulFailReason":"1\u0030","sipStatusCode":1e3,"fwdUnaswRsn":"1.5","ttsPlayTimes":"1e99","ttsTransDuration":1e999,"callOutUnaswRsn":"+7","callDuration":{}}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01T10:00:00+08:00","recordStartTime":"2200-01-01 00:00:00","callEndTime":"1970-01-01 00:00:00"}]}`,
	`{"eventType":"fee","feeLst":[{"icid":5,"sessionId":"s"},{"icid":"b","sessionId":["s"]},{"icid":null,"sessionId":null},{"icid":"c","sessionId":"s"}]}`,
	`{"eventType":"ringing","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00","stateCode":"abc","caller":8613,"callRelDirection":3}}`,
	`{"eventType":"disconnect","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00","stateCode":1.5,"called":{"n":1},"callRelDirection":"300","userData":null}}`,
	// More than 50 records, and records over the limit.
	`{"eventType":"fee","feeLst":[` + strings.Repeat(`{},`, 50) + `]}`,
	`{"eventType":"fee","feeLst":[` + strings.Repeat(`0,`, 60) + `0]}`,
	`{"eventType":"fee","FEELST":[` + strings.Repeat(`{},`, 60) + `{}],"feeLst":[{}]}`,
	`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","hostName":"` + strings.Repeat("h", 100) + `"},{"icid":"b","sessionId":"s","callInTime":"2024-05-01 10:00:00"}]}`,
	`{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00","userData":"` + strings.Repeat("u", 100) + `"}}`,
	`{"eventType":"fee","feeLst":[` + strings.Repeat(`[`, 2000) + strings.Repeat(`]`, 2000) + `]}`,
	// Call events.
	`{"eventType":"callin","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00","caller":"+8613800000000","called":"+8613900000000","subscriptionId":"b","stateCode":null,"userData":"u"}}`,
	` { "statusInfo" : { "timestamp" : "2024-01-01 00:00:00" , "sessionId" : "s" } , "eventType" : "disconnect" , "x" : [1,{"y":null}] } `,
	`{"eventType":"disconnect","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00","stateCode":"abc","stateDesc":5,"callRelDirection":"1","digitInfo":[1]}}`,
	`{"eventType":"collectInfo","statusInfo":{"sessionId":"s\u0041\n","timestamp":"2024-01-01 00:00:00","digitInfo":"1\"2"}}`,
	"{\"eventType\":\"answer\",\"statusInfo\":{\"sessionId\":\"s\xff\xfe\",\"timestamp\":\"2024-01-01 00:00:00\",\"caller\":\"ホスト\"}}",
	`{"eventType":"answer","statusInfo":{"SessionId":"s","timestamp":"2024-01-01 00:00:00"}}`,
	`{"eventType":"answer","statusInfo":{"sessionId":"a","sessionId":"b","timestamp":"2024-01-01 00:00:00"}}`,
	`{"eventType":"answer","statusInfo":{"sessionId":null,"timestamp":"2024-01-01 00:00:00"}}`,
	`{"eventType":"answer","statusInfo":{"timestamp":"2024-01-01 00:00:00"}}`,
	`{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":"yesterday"}}`,
	`{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":1548313408}}`,
	`{"eventType":"answer","statusInfo":{}}`,
	`{"eventType":"answer","statusInfo":null}`,
	`{"eventType":"answer","statusInfo":"x"}`,
	`{"eventType":"answer"}`,
	`{"statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"}}`,
	`{"eventType":"","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"}}`,
	`{"eventType":"a.b","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"}}`,
	`{"eventType":"ringing","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"}}`,
	`{"eventType":"c\u0061llin","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"}}`,
	`{"eventType":5,"statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"}}`,
	`{"eventType":null,"statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"}}`,
	`{"eventType":"answer","EventType":"callin","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"}}`,
	`{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"},"feeLst":[]}`,
	`{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"},"statusInfo":{"sessionId":"t"}}`,
	`{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"}} x`,
	`{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00",}}`,
	`{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00","n":` + strings.Repeat(`[`, 2000) + strings.Repeat(`]`, 2000) + `}}`,
	`{"eventType":"fee","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"}}`,
	`[{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":"2024-01-01 00:00:00"}}]`,
}

func TestFastDecodeMatchesEncodingJSON(t *testing.T) {
	fifty := make([]string, 51)
	for i := range fifty {
		fifty[i] = feeRecord(fmt.Sprintf(`"mptyId":"m%d"`, i))
	}
	bodies := append(fastDecodeBodies, string(feePush(fifty[:50]...)), string(feePush(fifty...)),
		string(readTestdata(t, "seed-fee.json")), string(readTestdata(t, "seed-event.json")))
	for _, body := range bodies {
		for _, kind := range []Kind{AnyPush, FeePush, EventPush} {
			sameAsJSON(t, []byte(body), kind)
		}
	}
}

// TestFastDecodeRecordMatchesEncodingJSON checks DecodeFeeRecord, the
// recorder's decoding, the same way.
func TestFastDecodeRecordMatchesEncodingJSON(t *testing.T) {
	for _, body := range fastDecodeBodies {
		var p struct{ FeeLst []json.RawMessage }
		if json.Unmarshal([]byte(body), &p) != nil {
			continue
		}
		for _, raw := range p.FeeLst {
			sameRecordAsJSON(t, raw)
		}
	}
}

// sameRecordAsJSON checks DecodeFeeRecord against decodeFeeRecordJSON.
func sameRecordAsJSON(t *testing.T, raw []byte) {
	t.Helper()
	got, gotErr := DecodeFeeRecord(raw)
	want, wantErr := decodeFeeRecordJSON("", raw)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
		t.Fatalf("record %q:\n got %+v, %v\nwant %+v, %v", raw, got, gotErr, want, wantErr)
	}
}

func FuzzDecodePush(f *testing.F) {
	for _, b := range fastDecodeBodies {
		f.Add([]byte(b))
	}
	for _, w := range worstBodies(2 << 10) {
		f.Add(w.body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sameAsJSON(t, body, AnyPush)
	})
}

// FuzzDecodeFeeRecordMatchesJSON: the recorder's decoding of a record
// gives what encoding/json gives, errors included.
func FuzzDecodeFeeRecordMatchesJSON(f *testing.F) {
	for _, body := range fastDecodeBodies {
		var p struct{ FeeLst []json.RawMessage }
		if json.Unmarshal([]byte(body), &p) == nil {
			for _, raw := range p.FeeLst {
				f.Add([]byte(raw))
			}
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		sameRecordAsJSON(t, raw)
	})
}

func BenchmarkDecodePush(b *testing.B) {
	recs := make([]string, MaxFeeRecords)
	seed := readTestdata(b, "seed-fee.json")
	var p struct{ FeeLst []json.RawMessage }
	if err := json.Unmarshal(seed, &p); err != nil {
		b.Fatal(err)
	}
	for i := range recs {
		recs[i] = string(p.FeeLst[0])
	}
	body := feePush(recs...)
	// The same records with anomalies: no callInTime (derived), a
	// number for serviceType, direction out of range.
	tolerant := bytes.ReplaceAll(body, []byte(`"callInTime": "2019-01-24 03:33:10",`), nil)
	tolerant = bytes.ReplaceAll(tolerant, []byte(`"serviceType": "005"`), []byte(`"serviceType": 5`))
	tolerant = bytes.ReplaceAll(tolerant, []byte(`"direction": 0`), []byte(`"direction": 7`))
	for _, c := range []struct {
		name   string
		body   []byte
		decode func([]byte, Kind) (*Push, error)
	}{{"one-pass", body, DecodePush}, {"one-pass-anomalies", tolerant, DecodePush}, {"encoding-json", body, func(body []byte, kind Kind) (*Push, error) {
		return decodePushWith(body, kind, DefaultMaxRecordBytes, slowRecord)
	}}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				p, err := c.decode(c.body, FeePush)
				if err != nil || len(p.Fees) != MaxFeeRecords {
					b.Fatal(err)
				}
			}
		})
	}
	if p, _ := DecodePush(tolerant, FeePush); fmt.Sprint(p.Fees[0].Anomalies) != "[direction:range serviceType:type callInTime:missing]" {
		b.Fatalf("the tolerant records have anomalies %v", p.Fees[0].Anomalies)
	}
}
