package pii

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// The stored raw JSON carries the stored sessionId and no number, keeps
// the icid and the recording's references even when they contain a
// number's digits, and stays valid JSON that decodes to the stored record:
// what pnctl backfill-recordings reads back.
func TestFeesRawJSON(t *testing.T) {
	const a, b, x = "+8613812345678", "+8615987654321", "+8617000000001"
	session := "8613812345678_" + x + "_4_627e5c1f_963036_669_1_0"
	icid := "8613812345678" + ".3757289590.338833305.5" // an icid holding A's digits is still only an icid
	raw := `{"icid":"` + icid + `", "sessionId" : "\u0038613812345678_` + x + `_4_627e5c1f_963036_669_1_0",` +
		`"callerNum":"` + a + `","calleeNum":"` + x + `","bindNum":"` + x + `","fwdDstNum":"` + b + `",` +
		`"userNumber":8613812345678,"recordFlag":1,"recordDomain":"rec.example.com",` +
		`"recordObjectName":"8613812345678.wav","callInTime":"2019-01-24 03:33:10","nested":{"x":["` + b + `"]}}`
	in, err := privatenumber.DecodeFeeRecord([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if in.SessionID != session {
		t.Fatalf("decoded sessionId %q", in.SessionID)
	}
	for _, mode := range []string{ModeMasked, ModeHMAC} {
		p, _ := New(mode, testKey)
		r := p.Fee(in)
		if !json.Valid(r.Raw) {
			t.Fatalf("%s: stored raw is not JSON: %s", mode, r.Raw)
		}
		back, err := privatenumber.DecodeFeeRecord(r.Raw)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if back.SessionID != r.SessionID || r.SessionID != p.FeeSessionID(&in) || r.SessionID == session {
			t.Errorf("%s: raw sessionId %q, column %q", mode, back.SessionID, r.SessionID)
		}
		if r.ICID != icid || back.ICID != icid || back.RecordObjectName != in.RecordObjectName || back.RecordDomain != in.RecordDomain {
			t.Errorf("%s: identity or recording reference changed: icid %q/%q, object %q", mode, r.ICID, back.ICID, back.RecordObjectName)
		}
		rest := strings.NewReplacer(icid, "", in.RecordObjectName, "").Replace(string(r.Raw))
		for _, n := range []string{"13812345678", "15987654321"} {
			if strings.Contains(rest, n) {
				t.Errorf("%s: raw still holds %s: %s", mode, n, r.Raw)
			}
		}
		if !strings.Contains(string(r.Raw), `"bindNum":"`+x+`"`) {
			t.Errorf("%s: X not kept in raw: %s", mode, r.Raw)
		}
	}
}

func TestEventsRawJSON(t *testing.T) {
	const a, x = "+8613812345678", "+8617000000001"
	session := a + "_" + x + "_4_627e5c1f_963036_669_1_0"
	raw := `{"eventType":"callin","statusInfo":{"sessionId":"` + session + `","caller":"` + a + `","called":"` + x + `","timestamp":"2019-01-24 07:03:28"}}`
	push, err := privatenumber.DecodePush([]byte(raw), privatenumber.EventPush)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := New(ModeMasked, nil)
	e := p.Event(*push.Event)
	var back struct {
		StatusInfo struct{ SessionID, Caller string }
	}
	if err := json.Unmarshal(e.Raw, &back); err != nil {
		t.Fatalf("%v: %s", err, e.Raw)
	}
	if back.StatusInfo.SessionID != e.SessionID || back.StatusInfo.Caller != e.Caller || strings.Contains(string(e.Raw), "13812345678") {
		t.Errorf("event raw %s; stored sessionId %q caller %q", e.Raw, e.SessionID, e.Caller)
	}
}

// Raw JSON that holds nothing to change comes back as the same slice.
func TestRewriteRawUnchanged(t *testing.T) {
	raw := []byte(`{"icid":"1","sessionId":"1202_1051_4294967295_20190124070250@h","n":[1,2.5e3,-4],"s":"\"q\\"}`)
	p, _ := New(ModeMasked, nil)
	if got := rewriteRaw(raw, "1202_1051_4294967295_20190124070250@h", "1202_1051_4294967295_20190124070250@h", p.Replacer("+8613812345678")); &got[0] != &raw[0] {
		t.Errorf("rewritten: %s", got)
	}
	if got := rewriteRaw([]byte(`{"a":"unterminated`), "", "", p.Replacer("+8613812345678")); string(got) != `{"a":"unterminated` {
		t.Errorf("malformed input changed: %s", got)
	}
}
