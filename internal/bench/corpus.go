package bench

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pnstream/pnstream/internal/platformsim"
	"github.com/pnstream/pnstream/internal/privatenumber"
)

// template is a JSON document with one string value cut out, so that
// copies with a unique value in its place cost a few appends.
type template struct {
	head, tail []byte
}

// cut splits doc around the value of the first "key" string member.
func cut(doc []byte, key string) (template, error) {
	marker := []byte(`"` + key + `":`)
	i := bytes.Index(doc, marker)
	if i < 0 {
		return template{}, fmt.Errorf("no %q in %s", key, doc)
	}
	start := i + len(marker)
	for start < len(doc) && doc[start] == ' ' {
		start++
	}
	if start >= len(doc) || doc[start] != '"' {
		return template{}, fmt.Errorf("%q is not a string in %s", key, doc)
	}
	end := bytes.IndexByte(doc[start+1:], '"')
	if end < 0 {
		return template{}, fmt.Errorf("unterminated %q in %s", key, doc)
	}
	return template{head: doc[:start+1], tail: doc[start+1+end:]}, nil
}

func (t template) append(dst []byte, id []byte) []byte {
	dst = append(dst, t.head...)
	dst = append(dst, id...)
	return append(dst, t.tail...)
}

// corpus holds realistic fee records and call events from the platform
// simulator's call generator, as templates that every use fills with a new
// identity, so that JetStream and ClickHouse see distinct records.
type corpus struct {
	fees   []template // fee records, pretty-printed as the platform's samples
	events []template // whole call event pushes
	// eventKeys are the eventType and timestamp of each event shape, for
	// its Nats-Msg-Id.
	eventKeys [][2]string
	tag       string // unique per run: identities never collide with another run's
	seq       atomic.Uint64
}

// corpusSize is the number of distinct record shapes; identities make every
// use unique.
const corpusSize = 2000

// The CDRs' appKey and spId.
const (
	corpusAppKey = "Zp3yQ0vM4kE7uR9tW2xB6nC1dF8gH5jL"
	corpusSpID   = "sp_pnstream_bench"
)

// benchBindings are the bindings calls are placed on: 64 A numbers on 8
// X numbers, every other one recorded (the simulator's RecordShare).
func benchBindings() []platformsim.Binding {
	bindings := make([]platformsim.Binding, 64)
	for i := range bindings {
		bindings[i] = platformsim.Binding{
			SubscriptionID: fmt.Sprintf("bench-sub-%04d", i), VirtualNum: fmt.Sprintf("+861700000%04d", i%8),
			BindNum: fmt.Sprintf("+861380000%04d", i), ExtendNum: fmt.Sprintf("%04d", i),
			DisplayNumMode: "0", RecordFlag: i%2 == 0, TimeUnit: "0",
		}
	}
	return bindings
}

func newCorpus() (*corpus, error) {
	gen := platformsim.NewCallGenerator(platformsim.CallConfig{
		Seed: 8, AppKey: corpusAppKey, SpID: corpusSpID, RecordDomain: simDomain,
	})
	bindings := benchBindings()
	c := &corpus{tag: rand.Text()[:8]}
	now := time.Now().UTC()
	for i := range corpusSize {
		call, _ := gen.Next(bindings, now.Add(time.Duration(i)*time.Second))
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, call.Fee, "    ", "  "); err != nil {
			return nil, fmt.Errorf("indent generated CDR: %w", err)
		}
		fee, err := cut(pretty.Bytes(), "icid")
		if err != nil {
			return nil, err
		}
		c.fees = append(c.fees, fee)
		for _, ev := range call.Events {
			t, err := cut(ev.Body, "sessionId")
			if err != nil {
				return nil, err
			}
			c.events = append(c.events, t)
			c.eventKeys = append(c.eventKeys, [2]string{ev.Type, ev.Time.UTC().Format(privatenumber.TimeLayout)})
		}
	}
	// Every shape must be a valid record, or the figures measure refusals.
	for i := 0; i < len(c.fees); i += privatenumber.MaxFeeRecords {
		if err := checkPush(c.feePush(nil, i, privatenumber.MaxFeeRecords)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// nextID appends a new identity: the run's tag and a sequence number.
func (c *corpus) nextID(dst []byte) []byte {
	dst = append(dst, "bench"...)
	dst = append(dst, c.tag...)
	dst = append(dst, '.')
	return strconv.AppendUint(dst, c.seq.Add(1), 10)
}

// fee appends the i-th fee record shape with a new icid.
func (c *corpus) fee(dst []byte, i int) []byte {
	var id [40]byte
	return c.fees[i%len(c.fees)].append(dst, c.nextID(id[:0]))
}

// feePush appends a fee push of n records, starting at shape i.
func (c *corpus) feePush(dst []byte, i, n int) []byte {
	dst = append(dst, "{\n  \"eventType\": \"fee\",\n  \"feeLst\": [\n    "...)
	for k := range n {
		if k > 0 {
			dst = append(dst, ",\n    "...)
		}
		dst = c.fee(dst, i+k)
	}
	return append(dst, "\n  ]\n}\n"...)
}

// event appends the i-th call event push shape with a new sessionId.
func (c *corpus) event(dst []byte, i int) []byte {
	var id [40]byte
	return c.events[i%len(c.events)].append(dst, c.nextID(id[:0]))
}

// feeMessage returns the i-th fee record shape with a new icid, and its
// Nats-Msg-Id, as ingest publishes it.
func (c *corpus) feeMessage(i int) ([]byte, string) {
	var id [40]byte
	icid := c.nextID(id[:0])
	return c.fees[i%len(c.fees)].append(nil, icid), "fee:" + string(icid)
}

// eventMessage returns the i-th call event shape with a new sessionId, its
// subject's event type and its Nats-Msg-Id, as ingest publishes it.
func (c *corpus) eventMessage(i int) (data []byte, eventType, msgID string) {
	var id [40]byte
	session := c.nextID(id[:0])
	k := c.eventKeys[i%len(c.eventKeys)]
	return c.events[i%len(c.events)].append(nil, session), k[0], "event:" + string(session) + ":" + k[0] + ":" + k[1]
}

// checkPush decodes a generated push as ingest does and fails unless every
// record is valid.
func checkPush(body []byte) error {
	p, err := privatenumber.DecodePush(body, privatenumber.FeePush)
	if err != nil {
		return fmt.Errorf("generated push: %w", err)
	}
	if err := p.Err(); err != nil {
		return fmt.Errorf("generated push: %w", err)
	}
	return nil
}
