package privatenumber

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func numStatusPush(items ...string) []byte {
	return []byte(`{"eventType":"numStatus","numInfo":[` + strings.Join(items, ",") + `]}`)
}

func TestDecodeNumStatusPush(t *testing.T) {
	body := numStatusPush(
		`{"number":"+8617000000001","status":"5","cause":"2"}`,
		`{"number":"+8617000000002","status":"9"}`,
		` { "number" : "+8617000000003", "status":"11","cause":"6","extra":[1,{"a":2}]} `,
	)
	for _, kind := range []Kind{AnyPush, EventPush, NumStatusPush} {
		p, err := DecodePush(body, kind)
		if err != nil {
			t.Fatalf("kind %d: %v", kind, err)
		}
		if p.EventType != EventTypeNumStatus || p.Event != nil || len(p.Fees) != 0 || p.Err() != nil {
			t.Fatalf("kind %d: push = %+v", kind, p)
		}
		want := []NumberStatus{
			{Number: "+8617000000001", Status: "5", Cause: "2", Raw: []byte(`{"number":"+8617000000001","status":"5","cause":"2"}`)},
			{Number: "+8617000000002", Status: "9", Raw: []byte(`{"number":"+8617000000002","status":"9"}`)},
			{Number: "+8617000000003", Status: "11", Cause: "6", Raw: []byte(`{ "number" : "+8617000000003", "status":"11","cause":"6","extra":[1,{"a":2}]}`)},
		}
		if !reflect.DeepEqual(p.Numbers, want) {
			t.Errorf("kind %d: numbers\n got %+v\nwant %+v", kind, p.Numbers, want)
		}
	}
	p, _ := DecodePush(body, AnyPush)
	if p.Numbers[0].Usable() || !p.Numbers[1].Usable() || !p.Numbers[2].Usable() {
		t.Errorf("usable = %v %v %v, want false true true (no cause and cause 6 are usable)",
			p.Numbers[0].Usable(), p.Numbers[1].Usable(), p.Numbers[2].Usable())
	}
	// Raw is a slice of the body, not a copy.
	if &p.Numbers[0].Raw[0] != &body[strings.Index(string(body), `{"number"`)] {
		t.Error("Raw is not a slice of the body")
	}
}

func TestDecodeNumStatusRefusedOnFeePath(t *testing.T) {
	_, err := DecodePush(numStatusPush(`{"number":"+8617000000001","status":"5"}`), FeePush)
	var fes FieldErrors
	if !errors.As(err, &fes) || fes[0].Field != "eventType" {
		t.Fatalf("fee path: err = %v, want an eventType error", err)
	}
}

func TestDecodeNumStatusPathRefusesOthers(t *testing.T) {
	for name, body := range map[string]string{
		"fee":       string(feePush(feeRecord(""))),
		"event":     string(readTestdata(t, "seed-event.json")),
		"no type":   `{"numInfo":[{"number":"+8617000000001"}]}`,
		"malformed": `{"eventType":"numStatus","numInfo":[`,
		"array":     `[]`,
	} {
		_, err := DecodePush([]byte(body), NumStatusPush)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestDecodeNumStatusListBounds(t *testing.T) {
	item := `{"number":"+8617000000001","status":"5"}`
	hundred := strings.TrimSuffix(strings.Repeat(item+",", MaxNumInfoItems), ",")
	p, err := DecodePush(numStatusPush(hundred), AnyPush)
	if err != nil || len(p.Numbers) != MaxNumInfoItems {
		t.Fatalf("100 items: err %v, %d numbers", err, len(p.Numbers))
	}
	for name, c := range map[string]struct {
		body  string
		field string
	}{
		"101 items":  {string(numStatusPush(hundred, item)), "numInfo"},
		"empty":      {`{"eventType":"numStatus","numInfo":[]}`, "numInfo"},
		"missing":    {`{"eventType":"numStatus"}`, "numInfo"},
		"null":       {`{"eventType":"numStatus","numInfo":null}`, "numInfo"},
		"not a list": {`{"eventType":"numStatus","numInfo":{"number":"+8617000000001"}}`, "numInfo"},
	} {
		for _, kind := range []Kind{AnyPush, EventPush, NumStatusPush} {
			_, err := DecodePush([]byte(c.body), kind)
			var fes FieldErrors
			if !errors.As(err, &fes) || fes[0].Field != c.field {
				t.Errorf("%s, kind %d: err = %v, want an error on %s", name, kind, err, c.field)
			}
		}
	}
}

// TestDecodeNumStatusRefusesEarly: the 101st item is not read, so a push
// of 101 items followed by garbage is refused for its length, not its
// JSON, and so is one whose eventType comes after the list.
func TestDecodeNumStatusRefusesEarly(t *testing.T) {
	item := `{"number":"+8617000000001","status":"5"}`
	hundred := strings.Repeat(item+",", MaxNumInfoItems)
	for name, body := range map[string]string{
		"garbage after": `{"eventType":"numStatus","numInfo":[` + hundred + `!!! not json`,
		"type after":    `{"numInfo":[` + hundred + item + `],"eventType":"numStatus"}`,
	} {
		_, err := DecodePush([]byte(body), AnyPush)
		if err == nil || !strings.Contains(err.Error(), "more than 100 items") {
			t.Errorf("%s: err = %v, want more than 100 items", name, err)
		}
	}
}

func TestDecodeNumStatusRejectsItemsAlone(t *testing.T) {
	good := `{"number":"+8617000000001","status":"5","cause":"3"}`
	bad := []struct {
		item, field string
	}{
		{`{"status":"5"}`, "numInfo[1].number"},
		{`{"number":"","status":"5"}`, "numInfo[1].number"},
		{`{"number":"+86 170","status":"5"}`, "numInfo[1].number"},
		{`{"number":8617000000001,"status":"5"}`, "numInfo[1].number"},
		{`{"number":"` + strings.Repeat("1", 33) + `"}`, "numInfo[1].number"},
		{`"+8617000000001"`, "numInfo[1]"},
	}
	for _, b := range bad {
		p, err := DecodePush(numStatusPush(good, b.item, good), AnyPush)
		if err != nil {
			t.Fatalf("%s: %v", b.item, err)
		}
		if len(p.Numbers) != 2 || len(p.Rejected) != 1 || p.Rejected[0].Index != 1 || string(p.Rejected[0].Raw) != b.item {
			t.Fatalf("%s: numbers %d, rejected %+v", b.item, len(p.Numbers), p.Rejected)
		}
		if f := p.Rejected[0].Err[0].Field; f != b.field {
			t.Errorf("%s: field %q, want %q", b.item, f, b.field)
		}
		if !errors.Is(p.Err(), ErrInvalid) {
			t.Errorf("%s: Err() = %v", b.item, p.Err())
		}
	}
}

func TestDecodeNumStatusItemLimit(t *testing.T) {
	big := `{"number":"+8617000000001","status":"5","pad":"` + strings.Repeat("x", 200) + `"}`
	small := `{"number":"+8617000000002","status":"5"}`
	p, err := Decoder{MaxRecordBytes: 100}.Decode(numStatusPush(small, big), AnyPush)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Numbers) != 1 || len(p.Rejected) != 1 || !errors.Is(p.Err(), ErrRecordTooLarge) {
		t.Fatalf("numbers %d, rejected %v", len(p.Numbers), p.Err())
	}
	// A body over the record limit is not one record: 100 items of 45
	// bytes pass a 100-byte limit.
	items := make([]string, MaxNumInfoItems)
	for i := range items {
		items[i] = fmt.Sprintf(`{"number":"+86170%08d","status":"5"}`, i)
	}
	p, err = Decoder{MaxRecordBytes: 100}.Decode(numStatusPush(items...), EventPush)
	if err != nil || len(p.Numbers) != MaxNumInfoItems {
		t.Fatalf("100 small items: err %v", err)
	}
}

func TestDecodeNumStatusAnomalies(t *testing.T) {
	for _, c := range []struct {
		item          string
		status, cause string
		want          []Anomaly
	}{
		{`{"number":"+1","status":"5","cause":"2"}`, "5", "2", nil},
		{`{"number":"+1","status":5,"cause":2}`, "5", "2", []Anomaly{{"numInfo.status", AnomalyType}, {"numInfo.cause", AnomalyType}}},
		{`{"number":"+1"}`, "", "", []Anomaly{{"numInfo.status", AnomalyMissing}}},
		{`{"number":"+1","status":null,"cause":null}`, "", "", []Anomaly{{"numInfo.status", AnomalyMissing}}},
		{`{"number":"+1","status":"","cause":""}`, "", "", []Anomaly{{"numInfo.status", AnomalyMissing}}},
		{`{"number":"+1","status":"42","cause":"4"}`, "42", "4", []Anomaly{{"numInfo.status", AnomalyUnknown}, {"numInfo.cause", AnomalyUnknown}}},
		{`{"number":"+1","status":true,"cause":{"a":1}}`, "true", `{"a":1}`, []Anomaly{{"numInfo.status", AnomalyType}, {"numInfo.cause", AnomalyType}}},
		{`{"number":"+1","status":"10","cause":[1]}`, "10", "[1]", []Anomaly{{"numInfo.cause", AnomalyType}}},
	} {
		n, err := DecodeNumberStatus([]byte(c.item))
		if err != nil {
			t.Fatalf("%s: %v", c.item, err)
		}
		if n.Status != c.status || n.Cause != c.cause || !reflect.DeepEqual(n.Anomalies, c.want) {
			t.Errorf("%s: status %q cause %q anomalies %v, want %q %q %v", c.item, n.Status, n.Cause, n.Anomalies, c.status, c.cause, c.want)
		}
	}
}

func TestNumberStatusMsgID(t *testing.T) {
	n := NumberStatus{Number: "+8617000000001", Status: "5", Cause: "2"}
	if got, want := n.MsgID("abc123"), "num:+8617000000001:5:2:abc123"; got != want {
		t.Errorf("MsgID = %q, want %q", got, want)
	}
	if got := n.MsgID(""); got != "" {
		t.Errorf("MsgID without nonce = %q, want none", got)
	}
	usable := NumberStatus{Number: "+8617000000001", Status: "9"}
	if got, want := usable.MsgID("n"), "num:+8617000000001:9::n"; got != want {
		t.Errorf("MsgID = %q, want %q", got, want)
	}
	odd := NumberStatus{Number: "+1", Status: "5\r\nX: y", Cause: strings.Repeat("9", 100)}
	id := odd.MsgID("n")
	if strings.ContainsAny(id, "\r\n ") || len(id) > 64 {
		t.Errorf("MsgID of odd values = %q: want bounded and header-safe", id)
	}
	other := NumberStatus{Number: "+1", Status: "5\r\nX: z", Cause: odd.Cause}
	if other.MsgID("n") == id {
		t.Error("two different statuses share a MsgID")
	}
}

// The X-number status push keeps the decoder's bounds: hostile bodies of
// ingest's body limit allocate at most maxAllocFactor times the body plus
// a constant, in a bounded number of allocations, refused at the 101st
// item or decoded with the items over the record limit refused alone.
func TestNumStatusDecodeCostOfWorstBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 1 MiB bodies")
	}
	const head = `{"eventType":"numStatus","numInfo":[`
	size := worstSize
	item := func(pad string, n int) string {
		return `{"number":"+8617000000001","status":"9","cause":"2","pad":"` + strings.Repeat(pad, n) + `"}`
	}
	large := item("p", size/MaxNumInfoItems-100)
	escaped := item(`\u0000`, (size/MaxNumInfoItems-100)/6)
	invalid := item("\xff", size/MaxNumInfoItems-100)
	for _, w := range []struct {
		name    string
		kind    Kind
		body    []byte
		refused bool // whole body refused; else every item decoded or rejected alone
	}{
		{"numstatus/tiny-items", NumStatusPush, fill(head, `{},`, `{}]}`, size), true},
		{"numstatus/tiny-items-events-path", EventPush, fill(head, `{},`, `{}]}`, size), true},
		{"numstatus/tiny-non-objects", AnyPush, fill(head, `0,`, `0]}`, size), true},
		{"numstatus/100-large-items", NumStatusPush, []byte(head + strings.Repeat(large+",", MaxNumInfoItems-1) + large + `]}`), false},
		{"numstatus/100-escaped-items", EventPush, []byte(head + strings.Repeat(escaped+",", MaxNumInfoItems-1) + escaped + `]}`), false},
		{"numstatus/100-invalid-utf8-items", AnyPush, []byte(head + strings.Repeat(invalid+",", MaxNumInfoItems-1) + invalid + `]}`), false},
		{"numstatus/huge-item", NumStatusPush, fill(head+`{"number":"+8617000000001","pad":"`, `p`, `"}]}`, size), false},
		{"numstatus/deep-item", NumStatusPush, nested(head+`{"number":"+8617000000001","x":`, `[`, `1`, `]`, `}]}`, size), true},
		{"numstatus/many-keys-item", NumStatusPush, manyKeys(head+`{"number":"+8617000000001",`, `}]}`, size), false},
	} {
		p, err := DecodePush(w.body, w.kind)
		bytesPer, allocs, per := decodeCost(w.body, w.kind)
		ratio := bytesPer / float64(len(w.body))
		t.Logf("%-40s %8d B  alloc %5.2f x body  %6.0f allocs  %12v  %.60v", w.name, len(w.body), ratio, allocs, per, err)
		switch {
		case w.refused && err == nil:
			t.Errorf("%s: decoded, want refused", w.name)
		case !w.refused && err != nil:
			t.Errorf("%s: %v", w.name, err)
		case !w.refused && len(p.Numbers)+len(p.Rejected) > MaxNumInfoItems:
			t.Errorf("%s: %d items", w.name, len(p.Numbers)+len(p.Rejected))
		}
		if bytesPer > float64(maxAllocFactor*len(w.body)+maxAllocConstant) || allocs > float64(maxAllocs) {
			t.Errorf("%s: decoding allocates %.0f bytes (%.2f x body) in %.0f allocations; want at most %d x body + %d in %d",
				w.name, bytesPer, ratio, allocs, maxAllocFactor, maxAllocConstant, maxAllocs)
		}
	}
}

// BenchmarkDecodeNumStatus100 decodes a push of 100 ordinary items.
func BenchmarkDecodeNumStatus100(b *testing.B) {
	items := make([]string, MaxNumInfoItems)
	for i := range items {
		items[i] = fmt.Sprintf(`{"number":"+86170%08d","status":"9","cause":"2"}`, i)
	}
	body := numStatusPush(items...)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodePush(body, NumStatusPush); err != nil {
			b.Fatal(err)
		}
	}
}
