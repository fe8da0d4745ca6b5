package platformsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/schemas"
)

var callEpoch = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

// simBindings returns bindings on two X numbers: every other one
// recorded, one with a callbackNum, one in real-caller display mode.
func simBindings(n int) []Binding {
	bs := make([]Binding, n)
	for i := range bs {
		bs[i] = Binding{
			SubscriptionID: fmt.Sprintf("sub-%d", i),
			VirtualNum:     fmt.Sprintf("+861700000000%d", i%2),
			BindNum:        fmt.Sprintf("+86139%08d", i),
			ExtendNum:      fmt.Sprintf("%04d", i+1),
			DisplayNumMode: "0",
			RecordFlag:     i%2 == 0,
			UserData:       "u" + fmt.Sprint(i),
		}
	}
	bs[1].CallbackNum = "+8613100000000"
	bs[n-1].DisplayNumMode = "1"
	return bs
}

func testCallConfig(seed uint64) CallConfig {
	return CallConfig{
		Seed: seed, AppKey: "AppKey1", SpID: "sp1", RecordDomain: "ostor.test", EmptyDomainShare: 0.2,
		DirectURL: func(r Recording) string { return "http://127.0.0.1:1/recordings/" + r.ObjectName },
	}
}

// generateCalls places n calls one second apart.
func generateCalls(seed uint64, bindings []Binding, n int) []Call {
	g := NewCallGenerator(testCallConfig(seed))
	calls := make([]Call, 0, n)
	for i := range n {
		c, ok := g.Next(bindings, callEpoch.Add(time.Duration(i)*time.Second))
		if !ok {
			panic("no call")
		}
		calls = append(calls, c)
	}
	return calls
}

func TestCallsAreDeterministic(t *testing.T) {
	bs := simBindings(10)
	a, b := generateCalls(7, bs, 200), generateCalls(7, bs, 200)
	for i := range a {
		if a[i].ICID != b[i].ICID || !bytes.Equal(a[i].Fee, b[i].Fee) || len(a[i].Events) != len(b[i].Events) {
			t.Fatalf("call %d differs between two runs with seed 7:\n%s\n%s", i, a[i].Fee, b[i].Fee)
		}
		for j := range a[i].Events {
			if !bytes.Equal(a[i].Events[j].Body, b[i].Events[j].Body) {
				t.Fatalf("call %d event %d differs", i, j)
			}
		}
	}
	if c := generateCalls(8, bs, 1); bytes.Equal(c[0].Fee, a[0].Fee) {
		t.Error("seeds 7 and 8 produce the same first call")
	}
	if _, ok := NewCallGenerator(testCallConfig(1)).Next(nil, callEpoch); ok {
		t.Error("a call without bindings")
	}
}

var platformTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$`)

// TestCallsAreConsistent checks every generated call against the
// reference: event sequences, identities, times, codes and recordings.
func TestCallsAreConsistent(t *testing.T) {
	bs := simBindings(12)
	byID := map[string]Binding{}
	for _, b := range bs {
		byID[b.SubscriptionID] = b
	}
	calls := generateCalls(1, bs, 3000)
	icids, sessions := map[string]bool{}, map[string]bool{}
	scenarios := map[Scenario]int{}
	var extendNumber, extendNum, quoted, voiceCheck, emptyDomain, recorded, shortAnswered int
	for i, c := range calls {
		scenarios[c.Scenario]++
		if icids[c.ICID] || sessions[c.SessionID] {
			t.Fatalf("call %d: icid %s or session %s not unique", i, c.ICID, c.SessionID)
		}
		icids[c.ICID], sessions[c.SessionID] = true, true

		// Events: each a valid push of the documented sequence.
		var types []string
		var last time.Time
		for _, e := range c.Events {
			p, err := privatenumber.DecodePush(e.Body, privatenumber.EventPush)
			if err != nil {
				t.Fatalf("call %d %s: %v\n%s", i, e.Type, err, e.Body)
			}
			ev := p.Event
			if ev.SessionID != c.SessionID || ev.EventType != e.Type || !ev.Timestamp.Equal(e.Time) || e.Time.Before(last) {
				t.Fatalf("call %d: event %s inconsistent: %s", i, e.Type, e.Body)
			}
			if (e.Type == privatenumber.EventCallIn) != (ev.SubscriptionID == "") && c.SubscriptionID != "" {
				t.Errorf("call %d: %s subscriptionId %q (callin has none, the rest the binding's)", i, e.Type, ev.SubscriptionID)
			}
			last = e.Time
			types = append(types, e.Type)
		}
		want := []string{"callin", "collectInfo", "callout", "alerting", "answer"}
		if c.Direction == privatenumber.DirectionCallback {
			want = []string{"callin", "callout", "alerting", "answer"}
		}
		if n := len(types) - 1; n < 1 || !slices.Equal(types[:n], want[:n]) || types[n] != "disconnect" {
			t.Fatalf("call %d (%s): events %v", i, c.Scenario, types)
		}
		disc, _ := privatenumber.DecodeCallEvent(c.Events[len(c.Events)-1].Body)

		// The CDR: valid, and agreeing with the events.
		p, err := privatenumber.DecodePush(feePush(c.Fee), privatenumber.FeePush)
		if err != nil || p.Err() != nil {
			t.Fatalf("call %d CDR: %v %v\n%s", i, err, p.Err(), c.Fee)
		}
		f := p.Fees[0]
		if f.ICID != c.ICID || f.SessionID != c.SessionID || f.SubscriptionID != c.SubscriptionID || int(f.Direction) != c.Direction {
			t.Fatalf("call %d: CDR identity differs from the call: %s", i, c.Fee)
		}
		if !f.CallInTime.Equal(c.Events[0].Time) || !f.CallEndTime.Equal(disc.Timestamp.Time) || !f.CallEndTime.Equal(c.EndedAt) {
			t.Errorf("call %d: CDR times differ from the events: %s", i, c.Fee)
		}
		if disc.StateCode == nil || *disc.StateCode != f.ULFailReason {
			t.Errorf("call %d: stateCode %v, ulFailReason %d", i, disc.StateCode, f.ULFailReason)
		}
		if f.BindNum != f.CalleeNum || f.AppKey != "AppKey1" {
			t.Errorf("call %d: bindNum %s calleeNum %s appKey %s", i, f.BindNum, f.CalleeNum, f.AppKey)
		}
		var raw map[string]any
		if err := json.Unmarshal(c.Fee, &raw); err != nil {
			t.Fatal(err)
		}
		for k, v := range raw {
			if s, ok := v.(string); ok && strings.HasSuffix(k, "Time") && s != "" && !platformTime.MatchString(s) {
				t.Errorf("call %d: %s = %q", i, k, s)
			}
		}

		switch f.Direction {
		case privatenumber.DirectionAbnormal:
			if f.SubscriptionID != "" || !slices.Contains([]privatenumber.Int{codeNoBinding, codeEmptyExtension, codeCallerBeforeRing}, f.ULFailReason) {
				t.Errorf("call %d: direction 2 with subscriptionId %q, ulFailReason %d", i, f.SubscriptionID, f.ULFailReason)
			}
		default:
			b := byID[f.SubscriptionID]
			if f.ExtendNum != b.ExtendNum {
				t.Errorf("call %d: E %q, binding's %q", i, f.ExtendNum, b.ExtendNum)
			}
			if c.Direction == privatenumber.DirectionACalled && len(c.Events) > 1 {
				collect, _ := privatenumber.DecodeCallEvent(c.Events[1].Body)
				if collect.DigitInfo != b.ExtendNum {
					t.Errorf("call %d: keyed %q, E is %q", i, collect.DigitInfo, b.ExtendNum)
				}
			}
		}

		answered := !f.FwdAnswerTime.IsZero()
		if answered != (f.ULFailReason == 0) || answered != f.FailTime.IsZero() {
			t.Errorf("call %d: answer %v, ulFailReason %d, failTime %v", i, f.FwdAnswerTime, f.ULFailReason, f.FailTime)
		}
		talk := f.CallEndTime.Sub(f.FwdAnswerTime.Time)
		if answered && talk < 3*time.Second {
			shortAnswered++
		}
		if f.Recorded() {
			recorded++
			b := byID[f.SubscriptionID]
			if !answered || talk < 3*time.Second || !b.RecordFlag || c.Recording == nil {
				t.Errorf("call %d: recorded, but answered %v, talk %s, binding recordFlag %v", i, answered, talk, b.RecordFlag)
			}
			if c.Recording.ObjectName != f.RecordObjectName || c.Recording.Duration != f.CallEndTime.Sub(f.RecordStartTime.Time) {
				t.Errorf("call %d: recording %+v, CDR %s", i, c.Recording, c.Fee)
			}
			if f.RecordDomain == "" {
				emptyDomain++
				if f.RecordFileDownloadURL == "" {
					t.Errorf("call %d: empty recordDomain without recordFileDownloadUrl", i)
				}
			}
		} else if c.Recording != nil || (answered && talk >= 3*time.Second && byID[f.SubscriptionID].RecordFlag) {
			t.Errorf("call %d: not recorded, talk %s", i, talk)
		}
		if _, ok := raw["extendNumber"]; ok {
			extendNumber++
		}
		if _, ok := raw["extendNum"]; ok {
			extendNum++
		}
		if _, ok := raw["ulFailReason"].(string); ok {
			quoted++
		}
		if _, ok := raw["voiceCheckType"]; ok {
			voiceCheck++
		}
	}
	for _, o := range append(append(slices.Clone(aCalledOutcomes), callbackOutcomes...), noCallbackRecord, displayModeBlocked) {
		if scenarios[o.scenario] == 0 {
			t.Errorf("3000 calls without a %s call", o.scenario)
		}
	}
	for name, n := range map[string]int{"extendNumber": extendNumber, "extendNum": extendNum, "numeric strings": quoted,
		"voiceCheckType": voiceCheck, "empty recordDomain": emptyDomain, "recorded": recorded, "answered under 3 s": shortAnswered} {
		if n == 0 {
			t.Errorf("3000 calls without %s", name)
		}
	}
	t.Logf("scenarios: %v", scenarios)
}

// TestCallPayloadsMatchSchemas validates every push the generator makes
// against the published JSON Schemas: each event, and the CDRs merged 50
// to a push as the pusher does.
func TestCallPayloadsMatchSchemas(t *testing.T) {
	feeSchema := compileSchema(t, schemas.FeePushSchemaFile, schemas.FeePushSchema())
	eventSchema := compileSchema(t, schemas.CallEventSchemaFile, schemas.CallEventSchema())
	calls := generateCalls(3, simBindings(8), 1000)
	var fees [][]byte
	for _, c := range calls {
		for _, e := range c.Events {
			if err := validateJSON(eventSchema, e.Body); err != nil {
				t.Fatalf("%s event: %v\n%s", e.Type, err, e.Body)
			}
		}
		fees = append(fees, c.Fee)
	}
	for batch := range slices.Chunk(fees, privatenumber.MaxFeeRecords) {
		body := feePush(batch...)
		if err := validateJSON(feeSchema, body); err != nil {
			t.Fatalf("fee push: %v", err)
		}
	}
}

func feePush(records ...[]byte) []byte {
	return []byte(`{"eventType":"fee","feeLst":[` + string(bytes.Join(records, []byte(","))) + `]}`)
}

func compileSchema(t testing.TB, name string, doc []byte) *jsonschema.Schema {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(name, v); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validateJSON(s *jsonschema.Schema, body []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uo\te`, "ctl\x00\x1f\n", "汉字", "bad\xffutf8"} {
		var got string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		want, _ := json.Marshal(s)
		var w string
		_ = json.Unmarshal(want, &w)
		if got != w {
			t.Errorf("%q round-trips to %q, want %q", s, got, w)
		}
	}
}

// TestCallsCarryOptionalFields: callDuration (CDR) and callRelDirection
// (disconnect event), sent only to apps that ask for them, are on some
// calls and not others, and agree with the call.
func TestCallsCarryOptionalFields(t *testing.T) {
	calls := generateCalls(5, simBindings(6), 600)
	var withDuration, withRel int
	for i, c := range calls {
		var fee map[string]any
		if err := json.Unmarshal(c.Fee, &fee); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		disc := c.Events[len(c.Events)-1]
		var ev struct {
			StatusInfo map[string]any `json:"statusInfo"`
		}
		if err := json.Unmarshal(disc.Body, &ev); err != nil || disc.Type != privatenumber.EventDisconnect {
			t.Fatalf("call %d: last event %s: %v", i, disc.Type, err)
		}
		d, hasD := fee["callDuration"]
		rel, hasRel := ev.StatusInfo["callRelDirection"]
		if hasRel && !hasD {
			t.Errorf("call %d: callRelDirection without callDuration (one app setting covers both)", i)
		}
		answered := strings.Contains(string(c.Scenario), "answered") && !strings.Contains(string(c.Scenario), "no-answer")
		if hasD {
			withDuration++
			secs := numberOf(t, d)
			var want float64
			if answered {
				var answer, end struct {
					T string `json:"fwdAnswerTime"`
					E string `json:"callEndTime"`
				}
				_ = json.Unmarshal(c.Fee, &answer)
				_ = json.Unmarshal(c.Fee, &end)
				a, errA := time.Parse(privatenumber.TimeLayout, answer.T)
				e, errE := time.Parse(privatenumber.TimeLayout, end.E)
				if errA != nil || errE != nil {
					t.Fatalf("call %d: times %v %v", i, errA, errE)
				}
				want = float64(int(e.Sub(a) / time.Second))
			}
			if secs != want {
				t.Errorf("call %d (%s): callDuration %v, want %v", i, c.Scenario, secs, want)
			}
		}
		if hasRel {
			withRel++
			r := numberOf(t, rel)
			switch {
			case answered && (r == 1 || r == 2):
			case strings.HasPrefix(string(c.Scenario), "caller-hung-up") && r == 1:
			case strings.HasSuffix(string(c.Scenario), "rejected") && r == 2:
			default:
				t.Errorf("call %d (%s): callRelDirection %v", i, c.Scenario, r)
			}
		}
	}
	if withDuration < len(calls)/4 || withDuration > len(calls)*3/4 || withRel == 0 {
		t.Errorf("%d of %d calls carry callDuration, %d callRelDirection: want about half", withDuration, len(calls), withRel)
	}
}

// numberOf reads a JSON integer sent as a number or a numeric string.
func numberOf(t *testing.T, v any) float64 {
	t.Helper()
	switch v := v.(type) {
	case float64:
		return v
	case string:
		var f float64
		if _, err := fmt.Sscan(v, &f); err != nil {
			t.Fatalf("%q is not a number", v)
		}
		return f
	}
	t.Fatalf("%v (%T) is not a number", v, v)
	return 0
}
