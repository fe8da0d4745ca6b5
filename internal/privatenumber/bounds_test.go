package privatenumber

import (
	"bytes"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// worstBody is a hostile body built to make decoding work or allocate.
type worstBody struct {
	name string
	kind Kind
	body []byte
}

// worstSize is the size the worst bodies are built to: ingest's body limit
// (a quarter of it under the race detector, for time; the ratios are alike).
var worstSize = 1 << 20

func init() {
	if raceEnabled {
		worstSize = 256 << 10
	}
}

// fill repeats unit between head and tail until the body is about size
// bytes.
func fill(head, unit, tail string, size int) []byte {
	n := (size - len(head) - len(tail)) / len(unit)
	var b bytes.Buffer
	b.Grow(len(head) + n*len(unit) + len(tail))
	b.WriteString(head)
	for range n {
		b.WriteString(unit)
	}
	b.WriteString(tail)
	return b.Bytes()
}

// nested opens open n times, then mid, then closes with close n times.
func nested(head, open, mid, close, tail string, size int) []byte {
	n := (size - len(head) - len(mid) - len(tail)) / (len(open) + len(close))
	var b bytes.Buffer
	b.WriteString(head)
	for range n {
		b.WriteString(open)
	}
	b.WriteString(mid)
	for range n {
		b.WriteString(close)
	}
	b.WriteString(tail)
	return b.Bytes()
}

// manyKeys is an object of distinct keys "k1":1,"k2":1,… of about size
// bytes.
func manyKeys(head, tail string, size int) []byte {
	var b bytes.Buffer
	b.WriteString(head)
	for i := 1; b.Len() < size-len(tail)-16; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strconv.Itoa(i) + `":1`)
	}
	b.WriteString(tail)
	return b.Bytes()
}

const (
	feeHead    = `{"eventType":"fee","feeLst":[`
	okRecord   = `"icid":"i1","sessionId":"s1","callInTime":"2024-05-01 10:00:00"`
	eventHead  = `{"eventType":"answer","statusInfo":{"sessionId":"s1","timestamp":"2024-05-01 10:00:00"`
	eventValid = eventHead + `}`
)

// fullRecord has every field of a fee record.
var fullRecord = func() string {
	var b strings.Builder
	b.WriteString(`{` + okRecord)
	for _, k := range feeKeys {
		switch k {
		case "icid", "sessionId", "callInTime":
		case "direction", "fwdUnaswRsn", "ulFailReason", "sipStatusCode", "callOutUnaswRsn", "recordFlag", "ttsPlayTimes", "ttsTransDuration":
			b.WriteString(`,"` + k + `":1`)
		case "fwdStartTime", "fwdAlertingTime", "fwdAnswerTime", "callEndTime", "failTime", "recordStartTime":
			b.WriteString(`,"` + k + `":"2024-05-01 10:00:01"`)
		default:
			b.WriteString(`,"` + k + `":"v-` + k + `"`)
		}
	}
	b.WriteString(`}`)
	return b.String()
}()

// worstBodies returns the hostile bodies of about size bytes, as fee and as
// event bodies.
func worstBodies(size int) []worstBody {
	recs := make([]byte, 0, size)
	for i := 0; len(recs) < size-2048; i++ {
		if i > 0 {
			recs = append(recs, ',')
		}
		recs = append(recs, `{"icid":"i`+strconv.Itoa(i)+`","sessionId":"s","callInTime":"2024-05-01 10:00:00","hostName":"`+strings.Repeat("h", max(size/64-100, 1))+`"}`...)
	}
	// Records just under the limit, each a string of escapes or of
	// invalid UTF-8 (which decodes to three bytes a byte); lateBail ends the
	// push with a key the one-pass decoder leaves to encoding/json, after
	// it has read every record.
	under := func(unit string, lateBail bool, extra string) []byte {
		rec := `{` + okRecord + extra + `,"hostName":"` + strings.Repeat(unit, min(DefaultMaxRecordBytes-200, size/16)/len(unit)) + `"}`
		tail := `]}`
		if lateBail {
			tail = `],"EventType":"fee"}`
		}
		return fill(feeHead+rec, `,`+rec, tail, size)
	}
	return []worstBody{
		{"fee/escapes-records", FeePush, under(`\u0000`, false, "")},
		{"fee/escapes-records-late-bail", FeePush, under(`\u0000`, true, "")},
		{"fee/escapes-records-type-error", FeePush, under(`\u0000`, false, `,"spId":1`)},
		{"fee/surrogates-records", FeePush, under(`\ud800`, false, "")},
		{"fee/surrogates-records-late-bail", FeePush, under(`\ud800`, true, "")},
		{"fee/surrogates-records-type-error", FeePush, under(`\ud800`, false, `,"spId":1`)},
		{"fee/invalid-utf8-records", FeePush, under("\xff", false, "")},
		{"fee/invalid-utf8-records-late-bail", FeePush, under("\xff", true, "")},
		{"fee/invalid-utf8-records-folded-key", FeePush, under("\xff", false, `,"SPID":"x"`)},
		{"fee/invalid-utf8-records-type-error", FeePush, under("\xff", false, `,"spId":1`)},
		{"fee/invalid-utf8-records-late-bail-type-error", FeePush, under("\xff", true, `,"spId":1`)},
		{"fee/invalid-utf8", FeePush, fill(feeHead+`{`+okRecord+`,"hostName":"`, "\xff", `"}]}`, size)},
		// Fee pushes.
		{"fee/tiny-records", FeePush, fill(feeHead, `{},`, `{}]}`, size)},
		{"fee/tiny-non-objects", FeePush, fill(feeHead, `0,`, `0]}`, size)},
		{"fee/tiny-arrays", FeePush, fill(feeHead, `[],`, `[]]}`, size)},
		{"fee/tiny-records-anypush", AnyPush, fill(feeHead, `{},`, `{}]}`, size)},
		{"fee/deep-arrays", FeePush, nested(feeHead, `[`, `1`, `]`, `]}`, size)},
		{"fee/deep-objects", FeePush, nested(feeHead+`{`+okRecord+`,"x":`, `{"a":`, `1`, `}`, `}]}`, size)},
		{"fee/huge-string", FeePush, fill(feeHead+`{`+okRecord+`,"hostName":"`, `h`, `"}]}`, size)},
		{"fee/huge-string-unknown-key", FeePush, fill(feeHead+`{`+okRecord+`,"x":"`, `h`, `"}]}`, size)},
		{"fee/escapes", FeePush, fill(feeHead+`{`+okRecord+`,"hostName":"`, `\u0000`, `"}]}`, size)},
		{"fee/escapes-surrogates", FeePush, fill(feeHead+`{`+okRecord+`,"hostName":"`, `\ud800`, `"}]}`, size)},
		{"fee/many-keys-record", FeePush, manyKeys(feeHead+`{`+okRecord+`,`, `}]}`, size)},
		{"fee/many-keys-top", FeePush, manyKeys(`{"eventType":"fee","feeLst":[{`+okRecord+`}],`, `}`, size)},
		{"fee/50-large-records", FeePush, []byte(feeHead + string(recs) + `]}`)},
		// Fifty records of every field, left to encoding/json by the last key.
		{"fee/50-full-records-late-bail", FeePush, []byte(feeHead + strings.Repeat(fullRecord+`,`, MaxFeeRecords-1) + fullRecord + `],"EventType":"fee"}`)},
		// Call events.
		{"event/tiny-records", EventPush, fill(eventHead+`,"x":[`, `{},`, `{}]}}`, size)},
		{"event/tiny-records-feeLst", EventPush, fill(`{"eventType":"answer","feeLst":[`, `{},`, `{}]}`, size)},
		{"event/deep-arrays", EventPush, nested(eventHead+`,"x":`, `[`, `1`, `]`, `}}`, size)},
		{"event/deep-objects", EventPush, nested(eventHead+`,"x":`, `{"a":`, `1`, `}`, `}}`, size)},
		{"event/huge-string", EventPush, fill(eventHead+`,"userData":"`, `u`, `"}}`, size)},
		{"event/huge-string-anypush", AnyPush, fill(eventHead+`,"userData":"`, `u`, `"}}`, size)},
		{"event/escapes", EventPush, fill(eventHead+`,"userData":"`, `\u0000`, `"}}`, size)},
		{"event/escapes-anypush", AnyPush, fill(eventHead+`,"userData":"`, `\u0000`, `"}}`, size)},
		{"event/many-keys", EventPush, manyKeys(eventHead+`,`, `}}`, size)},
		{"event/many-keys-anypush", AnyPush, manyKeys(eventHead+`,`, `}}`, size)},
		{"event/many-keys-top", AnyPush, manyKeys(`{"eventType":"answer","statusInfo":{"sessionId":"s1","timestamp":"2024-05-01 10:00:00"},`, `}`, size)},
	}
}

// decodeCost measures decoding body: bytes allocated and allocations per
// decode, and the time one takes.
func decodeCost(body []byte, kind Kind) (bytesPer, allocs float64, per time.Duration) {
	const runs = 2
	_, _ = DecodePush(body, kind) // warm up
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	for range runs {
		_, _ = DecodePush(body, kind)
	}
	per = time.Since(t0) / runs
	runtime.ReadMemStats(&after)
	bytesPer = float64(after.TotalAlloc-before.TotalAlloc) / runs
	allocs = testing.AllocsPerRun(1, func() { _, _ = DecodePush(body, kind) })
	return bytesPer, allocs, per
}

// Decoding allocates at most maxAllocFactor times the body, plus a constant
// (the record array of a push), whatever the body. The worst case is
// invalid UTF-8 in strings: encoding/json's rule (which the decoder keeps)
// turns each such byte into U+FFFD, three bytes, besides the one copy of
// the body the records' strings share.
const (
	maxAllocFactor   = 4
	maxAllocConstant = 64 << 10
)

// maxAllocs bounds the allocations of a push: about one per field of a
// record at most, never one per element or key.
var maxAllocs = 2 * MaxFeeRecords * len(feeKeys)

func TestDecodeCostOfWorstBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 1 MiB bodies")
	}
	for _, w := range worstBodies(worstSize) {
		p, err := DecodePush(w.body, w.kind) // and warms up
		bytesPer, allocs, per := decodeCost(w.body, w.kind)
		checkWorstOutcome(t, w, p, err)
		ratio := bytesPer / float64(len(w.body))
		if err == nil {
			err = p.Err()
		}
		t.Logf("%-48s %8d B  alloc %5.2f x body  %6.0f allocs  %12v  %.60v", w.name, len(w.body), ratio, allocs, per, err)
		if bytesPer > float64(maxAllocFactor*len(w.body)+maxAllocConstant) || allocs > float64(maxAllocs) {
			t.Errorf("%s: decoding allocates %.0f bytes (%.2f x body) in %.0f allocations; want at most %d x body + %d in %d",
				w.name, bytesPer, ratio, allocs, maxAllocFactor, maxAllocConstant, maxAllocs)
		}
	}
}

// checkWorstOutcome: a worst body is refused as a whole, or decoded with
// the records over the limit refused and the others kept.
func checkWorstOutcome(t *testing.T, w worstBody, p *Push, err error) {
	t.Helper()
	switch {
	case strings.HasPrefix(w.name, "fee/tiny-") || w.name == "fee/50-large-records":
		if err == nil || !strings.Contains(err.Error(), "feeLst: more than 50 records") {
			t.Errorf("%s: error %v, want feeLst: more than 50 records", w.name, err)
		}
	case strings.HasPrefix(w.name, "event/"):
		if !errors.Is(err, ErrRecordTooLarge) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v, want ErrRecordTooLarge", w.name, err)
		}
	case strings.HasPrefix(w.name, "fee/deep-"):
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v, want ErrInvalid", w.name, err)
		}
	case err != nil:
		t.Errorf("%s: %v", w.name, err)
	case w.name == "fee/many-keys-top":
		if len(p.Fees) != 1 {
			t.Errorf("%s: %d records kept, want 1", w.name, len(p.Fees))
		}
	case w.name == "fee/50-full-records-late-bail":
		if len(p.Fees) != MaxFeeRecords {
			t.Errorf("%s: %d records kept, want %d", w.name, len(p.Fees), MaxFeeRecords)
		}
	case len(p.Fees)+len(p.Rejected) > MaxFeeRecords:
		t.Errorf("%s: %d records", w.name, len(p.Fees)+len(p.Rejected))
	}
}

// A record over the limit is refused, naming it, while the others of its
// push are kept; an event over the limit is refused whole.
func TestRecordLimit(t *testing.T) {
	big := feeRecord(`"hostName":"` + strings.Repeat("h", 200) + `"`)
	body := feePush(feeRecord(""), big, `{"icid":"i3","sessionId":"s3","callInTime":"2024-05-01 10:00:00"}`)
	for _, limit := range []int{len(big) - 1, 0} {
		p, err := Decoder{MaxRecordBytes: limit}.Decode(body, FeePush)
		if err != nil {
			t.Fatal(err)
		}
		if limit == 0 {
			if len(p.Fees) != 3 || p.Err() != nil {
				t.Fatalf("default limit: %d records kept, %v", len(p.Fees), p.Err())
			}
			continue
		}
		if len(p.Fees) != 2 || len(p.Rejected) != 1 || p.Rejected[0].Index != 1 || string(p.Rejected[0].Raw) != big {
			t.Fatalf("limit %d: kept %d, rejected %+v", limit, len(p.Fees), p.Rejected)
		}
		err = p.Err()
		var fes FieldErrors
		if !errors.Is(err, ErrRecordTooLarge) || !errors.Is(err, ErrInvalid) || !errors.As(err, &fes) || fes[0].Field != "feeLst[1]" {
			t.Errorf("limit %d: error %v, want ErrRecordTooLarge on feeLst[1]", limit, err)
		}
		if errors.Is(p.Rejected[0].Err[0], ErrRecordTooLarge) != true {
			t.Error("the FieldError does not match ErrRecordTooLarge")
		}
	}
	event := []byte(`{"eventType":"answer","statusInfo":{"sessionId":"s","timestamp":"2024-05-01 10:00:00","userData":"` + strings.Repeat("u", 100) + `"}}`)
	for _, kind := range []Kind{AnyPush, EventPush} {
		if _, err := (Decoder{MaxRecordBytes: 100}).Decode(event, kind); !errors.Is(err, ErrRecordTooLarge) {
			t.Errorf("kind %d: event over the limit: %v, want ErrRecordTooLarge", kind, err)
		}
		if p, err := (Decoder{MaxRecordBytes: len(event)}).Decode(event, kind); err != nil || p.Event == nil {
			t.Errorf("kind %d: event at the limit: %v", kind, err)
		}
	}
	// A plain validation error does not match ErrRecordTooLarge.
	if _, err := DecodePush([]byte(`{"eventType":"fee"}`), FeePush); errors.Is(err, ErrRecordTooLarge) {
		t.Errorf("%v matches ErrRecordTooLarge", err)
	}
}

// The 51st record fails the push before the rest is read: what follows it
// need not even be JSON.
func TestFiftyFirstRecordStopsDecoding(t *testing.T) {
	recs := strings.Repeat(feeRecord("")+",", MaxFeeRecords)
	for _, tail := range []string{feeRecord("") + "]}", "garbage", "5,[", ""} {
		for _, kind := range []Kind{AnyPush, FeePush, EventPush} {
			_, err := DecodePush([]byte(feeHead+recs+tail), kind)
			var fes FieldErrors
			if !errors.As(err, &fes) || fes[0].Field != "feeLst" || !strings.Contains(err.Error(), "more than 50") {
				t.Errorf("tail %q kind %d: %v, want feeLst: more than 50 records", tail, kind, err)
			}
		}
	}
}
