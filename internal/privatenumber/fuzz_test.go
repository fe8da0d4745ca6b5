package privatenumber

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The fuzz targets of push decoding (those of authentication are in aksk).
// `make fuzz` runs each for a bounded time; `go test` runs their seeds and
// the inputs kept under testdata/fuzz (crashers found earlier) as
// regression cases.

// addSeeds adds every JSON file of testdata as a seed.
func addSeeds(f *testing.F) {
	f.Helper()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds in testdata: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"eventType":"fee","feeLst":[{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","direction":"1","ulFailReason":12.0}]}`,
		`{"eventType":"fee","feeLst":[{"icid":"a"},{"icid":"b","sessionId":"s","callInTime":"2024-05-01T10:00:00Z","extendNumber":"02"}]}`,
		`{"eventType":"disconnect","statusInfo":{"sessionId":"s","timestamp":"2024-05-01 10:00:00","stateCode":"8101"}}`,
		`{"eventType":"callin","statusInfo":{"sessionId":"s\ud800","timestamp":"2024-05-01 10:00:00"}}`,
		`{"eventType":"fee","eventType":"callin","feeLst":[],"statusInfo":null}`,
		`{"eventType":"numStatus","numInfo":[{"number":"+8617000000001","status":"9","cause":"2"},{"number":"+8617000000002","status":5}]}`,
		`{"eventType":"numStatus","numInfo":[{"number":"+86 170"},{"number":17000000003,"cause":{"a":[1]}},{"NUMBER":"+1","number":"+2"}]}`,
	} {
		f.Add([]byte(s))
	}
	// The worst bodies for decoding work, small.
	for _, w := range worstBodies(2 << 10) {
		f.Add(w.body)
	}
}

// FuzzDecodePushAccepted: no input panics, and what ingest accepts the recorder
// can store: every accepted record decodes again from its own bytes (the
// message body) to the same identity, with ids that are valid, bounded and
// printable.
func FuzzDecodePushAccepted(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, kind := range []Kind{AnyPush, EventPush, FeePush, NumStatusPush} {
			p, err := DecodePush(body, kind)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("DecodePush error %v does not match ErrInvalid", err)
				}
				continue
			}
			if p.Event != nil {
				checkEvent(t, p.Event)
				continue
			}
			if p.EventType == EventTypeNumStatus {
				if n := len(p.Numbers) + len(p.Rejected); n < 1 || n > MaxNumInfoItems {
					t.Fatalf("numStatus push of %d items accepted", n)
				}
				for i := range p.Numbers {
					checkNumber(t, &p.Numbers[i])
				}
				if len(p.Rejected) > 0 && p.Err() == nil {
					t.Fatal("rejected items without an error")
				}
				continue
			}
			if n := len(p.Fees) + len(p.Rejected); n < 1 || n > MaxFeeRecords {
				t.Fatalf("fee push of %d records accepted", n)
			}
			for i := range p.Fees {
				checkFee(t, &p.Fees[i])
			}
			if len(p.Rejected) > 0 && p.Err() == nil {
				t.Fatal("rejected records without an error")
			}
		}
	})
}

// FuzzDecodeFeeRecord: the recorder's decoding of a PN_FEES message.
func FuzzDecodeFeeRecord(f *testing.F) {
	f.Add([]byte(`{"icid":"a","sessionId":"s","callInTime":"2024-05-01 10:00:00","recordFlag":1,"direction":2}`))
	fuzzDecode(f, DecodeFeeRecord, checkFee)
}

// FuzzDecodeCallEvent: the recorder's decoding of a PN_EVENTS message.
func FuzzDecodeCallEvent(f *testing.F) {
	fuzzDecode(f, DecodeCallEvent, checkEvent)
}

// fuzzDecode fuzzes one of the recorder's decoders: an input is refused
// with an ErrInvalid error, or accepted as a record that check approves.
func fuzzDecode[R any](f *testing.F, decode func([]byte) (R, error), check func(*testing.T, *R)) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := decode(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		check(t, &r)
	})
}

func checkFee(t *testing.T, r *FeeRecord) {
	t.Helper()
	checkIdentity(t, "icid", r.ICID, 64)
	checkIdentity(t, "sessionId", r.SessionID, 256)
	if r.CallInTimeDerived {
		if !r.CallInTime.Equal(r.DerivedCallInTime().Time) || !hasAnomaly(r.Anomalies, "callInTime") {
			t.Fatalf("callInTime %v derived without its anomaly: %+v", r.CallInTime, r.Anomalies)
		}
	} else {
		checkTime(t, "callInTime", r.CallInTime, true)
	}
	for _, v := range []struct {
		name string
		n    Int
		ok   bool
	}{{"direction", r.Direction, r.Direction <= 2}, {"recordFlag", r.RecordFlag, r.RecordFlag <= 1}} {
		if v.n < 0 || v.n > 255 || (!v.ok && !hasAnomaly(r.Anomalies, v.name)) {
			t.Fatalf("%s %d accepted without an anomaly: %+v", v.name, v.n, r.Anomalies)
		}
	}
	checkAnomalies(t, r.Anomalies, feeKeys[:])
	again, err := DecodeFeeRecord(r.Raw)
	if err != nil {
		t.Fatalf("accepted record %q does not decode again: %v", r.Raw, err)
	}
	if again.MsgID() != r.MsgID() || !again.CallInTime.Equal(r.CallInTime.Time) || again.ExtendNum != r.ExtendNum {
		t.Fatalf("record decodes differently from its own bytes: %+v then %+v", r, again)
	}
}

// FuzzDecodeNumberStatus: the recorder's decoding of a PN_NUMBERS message.
func FuzzDecodeNumberStatus(f *testing.F) {
	fuzzDecode(f, DecodeNumberStatus, checkNumber)
}

// checkNumber: a numInfo item's identity is valid, bounded and printable,
// and the item decodes again from its own bytes (the message body) to the
// same state.
func checkNumber(t *testing.T, n *NumberStatus) {
	t.Helper()
	checkIdentity(t, "number", n.Number, maxNumberLen)
	again, err := DecodeNumberStatus(n.Raw)
	if err != nil || again.Number != n.Number || again.Status != n.Status || again.Cause != n.Cause {
		t.Fatalf("item %q decodes again to %+v, %v; want %q %q %q", n.Raw, again, err, n.Number, n.Status, n.Cause)
	}
}

func checkEvent(t *testing.T, e *CallEvent) {
	t.Helper()
	checkIdentity(t, "sessionId", e.SessionID, 256)
	checkTime(t, "timestamp", e.Timestamp, true)
	if !eventTypeToken.MatchString(e.EventType) || e.EventType == EventTypeFee {
		t.Fatalf("eventType %q accepted", e.EventType)
	}
	checkAnomalies(t, e.Anomalies, eventFields)
	again, err := DecodeCallEvent(e.Raw)
	if err != nil {
		t.Fatalf("accepted event %q does not decode again: %v", e.Raw, err)
	}
	if again.MsgID() != e.MsgID() {
		t.Fatalf("event id %q, from its own bytes %q", e.MsgID(), again.MsgID())
	}
}

// eventFields are the documented names an event's anomalies may name.
var eventFields = []string{"eventType", "statusInfo.caller", "statusInfo.called", "statusInfo.subscriptionId",
	"statusInfo.digitInfo", "statusInfo.stateCode", "statusInfo.stateDesc", "statusInfo.userData", "statusInfo.callRelDirection"}

// checkAnomalies: every anomaly names a documented field and a known
// kind, so that the metric's label values stay bounded.
func checkAnomalies(t *testing.T, as []Anomaly, fields []string) {
	t.Helper()
	kinds := []string{AnomalyMissing, AnomalyType, AnomalyRange, AnomalyFormat, AnomalyUnknown}
	for _, a := range as {
		if !slices.Contains(fields, a.Field) || !slices.Contains(kinds, a.Kind) {
			t.Fatalf("anomaly %v names no documented field or kind", a)
		}
	}
}

func hasAnomaly(as []Anomaly, field string) bool {
	return slices.ContainsFunc(as, func(a Anomaly) bool { return a.Field == field })
}

// checkIdentity: an id that becomes a message id, a row key and an object
// key is present, bounded, valid UTF-8 without U+FFFD, and printable.
func checkIdentity(t *testing.T, name, v string, maxLen int) {
	t.Helper()
	if v == "" || len(v) > maxLen || !utf8.ValidString(v) || strings.ContainsRune(v, utf8.RuneError) ||
		strings.IndexFunc(v, func(c rune) bool { return c < 0x21 || c == 0x7f }) >= 0 {
		t.Fatalf("%s %q accepted", name, v)
	}
}

// checkTime: an accepted time fits ClickHouse's DateTime.
func checkTime(t *testing.T, name string, v Time, required bool) {
	t.Helper()
	if v.IsZero() {
		if required {
			t.Fatalf("%s absent but accepted", name)
		}
		return
	}
	if v.Before(minTime) || v.After(maxTime) || v.Location() != time.UTC {
		t.Fatalf("%s %v accepted", name, v.Time)
	}
}
