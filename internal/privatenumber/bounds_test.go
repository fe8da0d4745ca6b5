package privatenumber

import (
	"bytes"
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

// worstSize is the size the worst bodies are built to: ingest's body limit.
const worstSize = 1 << 20

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

// worstBodies returns the hostile bodies of about size bytes, as fee and as
// event bodies.
func worstBodies(size int) []worstBody {
	recs := make([]byte, 0, size)
	for i := 0; len(recs) < size-2048; i++ {
		if i > 0 {
			recs = append(recs, ',')
		}
		recs = append(recs, `{"icid":"i`+strconv.Itoa(i)+`","sessionId":"s","callInTime":"2024-05-01 10:00:00","hostName":"`+string(bytes.Repeat([]byte{'h'}, 16<<10))+`"}`...)
	}
	// Records just under the limit, each a string of escapes or of
	// invalid UTF-8 (which decodes to three bytes a byte); lateBail ends the
	// push with a key the one-pass decoder leaves to encoding/json, after
	// it has read every record.
	under := func(unit string, lateBail bool) []byte {
		rec := `{` + okRecord + `,"hostName":"` + strings.Repeat(unit, (DefaultMaxRecordBytes-200)/len(unit)) + `"}`
		tail := `]}`
		if lateBail {
			tail = `],"EventType":"fee"}`
		}
		return fill(feeHead+rec, `,`+rec, tail, size)
	}
	return []worstBody{
		{"fee/escapes-records", FeePush, under(`\u0000`, false)},
		{"fee/escapes-records-late-bail", FeePush, under(`\u0000`, true)},
		{"fee/surrogates-records", FeePush, under(`\ud800`, false)},
		{"fee/surrogates-records-late-bail", FeePush, under(`\ud800`, true)},
		{"fee/invalid-utf8-records", FeePush, under("\xff", false)},
		{"fee/invalid-utf8-records-late-bail", FeePush, under("\xff", true)},
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

// decodeCost measures one decode of body: bytes and allocations per call,
// and the time per call.
func decodeCost(decode func([]byte, Kind) (*Push, error), body []byte, kind Kind) (bytesPer float64, allocs float64, per time.Duration) {
	const runs = 5
	decode(body, kind) // warm up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	for range runs {
		decode(body, kind)
	}
	per = time.Since(t0) / runs
	runtime.ReadMemStats(&after)
	bytesPer = float64(after.TotalAlloc-before.TotalAlloc) / runs
	allocs = testing.AllocsPerRun(runs, func() { decode(body, kind) })
	return bytesPer, allocs, per
}

func TestDecodeCostOfWorstBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 1 MiB bodies")
	}
	for _, w := range worstBodies(worstSize) {
		b, allocs, per := decodeCost(DecodePush, w.body, w.kind)
		p, err := DecodePush(w.body, w.kind)
		if err == nil {
			err = p.Err()
		}
		t.Logf("%-30s %8d B  alloc %6.2f x body  %8.0f allocs  %10v  err: %.80v", w.name, len(w.body), b/float64(len(w.body)), allocs, per, err)
	}
}
