package pii

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestMask(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"+8613812345678", "+86*******5678"}, // China: 2-digit code
		{"+14155550123", "+1******0123"},     // NANP: 1 digit
		{"+35312345678", "+353****5678"},     // Ireland: 3 digits
		{"+86138****7021", "+86*******7021"}, // masked already by the platform: stays masked
		{"13812345678", "*******5678"},       // national form: no country code to keep
		{"+86*******5678", "+86*******5678"}, // idempotent
		{"1234", "1234"},                     // nothing beyond the last four
		{"", ""},
	} {
		if got := mask(tc.in); got != tc.want {
			t.Errorf("mask(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHMAC(t *testing.T) {
	p, err := New(ModeHMAC, testKey)
	if err != nil {
		t.Fatal(err)
	}
	a, b := p.Number("+8613812345678"), p.Number("+8613812345679")
	if a == b || !strings.HasPrefix(a, "hmac:") || len(a) != len("hmac:")+hashHexLen {
		t.Errorf("hashes %q, %q: want distinct hmac:<24 hex>", a, b)
	}
	if p.Number("+8613812345678") != a || p.Number(a) != a {
		t.Error("hash not deterministic or not idempotent")
	}
	other, _ := New(ModeHMAC, []byte(strings.Repeat("k", 32)))
	if other.Number("+8613812345678") == a {
		t.Error("another key gives the same hash")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		mode string
		key  []byte
		ok   bool
	}{
		{ModeRaw, nil, true}, {ModeMasked, nil, true}, {ModeHMAC, testKey, true},
		{ModeHMAC, []byte("short"), false}, {"plain", nil, false}, {"", nil, false},
	} {
		err := Validate(tc.mode, tc.key)
		if (err == nil) != tc.ok {
			t.Errorf("Validate(%q, %d-byte key) = %v, want ok=%v", tc.mode, len(tc.key), err, tc.ok)
		}
		if err != nil && len(tc.key) > 0 && strings.Contains(err.Error(), string(tc.key)) {
			t.Errorf("error %q shows the key", err)
		}
	}
	if DefaultMode != ModeMasked {
		t.Errorf("DefaultMode = %q: the documented default is masked", DefaultMode)
	}
}

// Fees rewrites the personal numbers everywhere (columns, sessionId, raw
// JSON), keeps X, and leaves the caller's records untouched.
func TestFees(t *testing.T) {
	const (
		a = "+8613812345678"
		b = "+8615987654321"
		x = "+8617000000001"
	)
	session := strings.TrimPrefix(a, "+") + "_" + b + "_4_627e5c1f_963036_669_1_0"
	raw := `{"bindNum":"` + x + `","callerNum":"` + a + `","calleeNum":"` + x + `","fwdDstNum":"` + b + `","sessionId":"` + session + `"}`
	in := []privatenumber.FeeRecord{{ICID: "1", BindNum: x, CallerNum: a, CalleeNum: x, FwdDstNum: b, SessionID: session, Raw: []byte(raw)}}
	for _, mode := range []string{ModeMasked, ModeHMAC} {
		p, err := New(mode, testKey)
		if err != nil {
			t.Fatal(err)
		}
		r := p.Fee(in[0])
		all := strings.Join([]string{r.CallerNum, r.CalleeNum, r.FwdDstNum, r.SessionID, string(r.Raw)}, " ")
		for _, n := range []string{a, b, strings.TrimPrefix(a, "+"), strings.TrimPrefix(b, "+")} {
			if strings.Contains(all, n) {
				t.Errorf("%s: %q still contains %s", mode, all, n)
			}
		}
		if r.CalleeNum != x || !strings.Contains(string(r.Raw), `"bindNum":"`+x+`"`) {
			t.Errorf("%s: X not kept: callee %q, raw %s", mode, r.CalleeNum, r.Raw)
		}
		if r.CallerNum != p.Number(a) || p.FeeSessionID(&in[0]) != r.SessionID {
			t.Errorf("%s: caller %q, session %q / %q: want consistent forms", mode, r.CallerNum, r.SessionID, p.FeeSessionID(&in[0]))
		}
		if in[0].CallerNum != a || string(in[0].Raw) != raw {
			t.Errorf("%s: the input record was modified", mode)
		}
	}
	var raw0 Policy
	if out := raw0.Fee(in[0]); !reflect.DeepEqual(out, in[0]) || &out.Raw[0] != &in[0].Raw[0] {
		t.Error("raw policy changed or copied the record")
	}
}

// One call's CDR and events keep joining on session_id: the stored form of
// a sessionId does not depend on which record carried it.
func TestSessionIDIsTheSameForEventsAndFees(t *testing.T) {
	const x, a, b = "+8617000000001", "+8613812345678", "+8615987654321"
	for _, session := range []string{
		a + "_" + x + "_4_627e5c1f_963036_669_1_0",
		"8613812345678_" + x + "_4_627e5c1f_963036_669_1_0",
		"1202_1051_4294967295_20190124070250@callenabler246.huaweicaas.com",
	} {
		for _, mode := range []string{ModeMasked, ModeHMAC} {
			p, err := New(mode, []byte("0123456789abcdef0123456789abcdef"))
			if err != nil {
				t.Fatal(err)
			}
			fee := p.Fee(privatenumber.FeeRecord{ICID: "1", BindNum: x, CallerNum: a, CalleeNum: x, FwdDstNum: b, SessionID: session})
			callin := p.Event(privatenumber.CallEvent{EventType: "callin", Caller: a, Called: x, SessionID: session})
			callout := p.Event(privatenumber.CallEvent{EventType: "callout", Caller: x, Called: b, SessionID: session})
			if fee.SessionID != callin.SessionID || fee.SessionID != callout.SessionID || fee.SessionID != p.FeeSessionID(&privatenumber.FeeRecord{SessionID: session}) {
				t.Errorf("%s %q: fee %q, callin %q, callout %q", mode, session, fee.SessionID, callin.SessionID, callout.SessionID)
			}
			for _, n := range []string{a, x, strings.TrimPrefix(a, "+")} {
				if strings.Contains(fee.SessionID, n) {
					t.Errorf("%s: stored session %q still holds %s", mode, fee.SessionID, n)
				}
			}
		}
	}
}
