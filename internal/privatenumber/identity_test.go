package privatenumber

import (
	"strings"
	"testing"
)

// encoding/json decodes invalid UTF-8 and lone UTF-16 surrogates to U+FFFD
// without an error, so two different identities in a push ("a\xff" and
// "a\xfe") would become one message id, one row and one object key: the
// second record would be dropped as a duplicate of the first. Identities
// that are not valid UTF-8 (or spell U+FFFD) are refused instead, naming
// the field, and the rest of the push proceeds.
func TestUndecodableIdentitiesDoNotCollide(t *testing.T) {
	rec := func(icid string) string {
		return `{"icid":"` + icid + `","sessionId":"s","callInTime":"2024-05-01 10:00:00"}`
	}
	tests := []struct {
		name string
		a, b string // two icids that encoding/json decodes alike
	}{
		{"invalid bytes", "a\xff", "a\xfe"},
		{"escaped lone surrogates", `a\ud800`, `a\udbff`},
		{"U+FFFD spelt out", `a\ufffd`, "a\xef\xbf\xbd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"eventType":"fee","feeLst":[` + rec(tt.a) + `,` + rec(tt.b) + `,` + rec("good") + `]}`
			p, err := DecodePush([]byte(body), FeePush)
			if err != nil {
				t.Fatalf("DecodePush: %v", err)
			}
			if len(p.Fees) != 1 || p.Fees[0].ICID != "good" {
				t.Errorf("accepted %d records, want only the good one", len(p.Fees))
			}
			if len(p.Rejected) != 2 || !strings.Contains(p.Err().Error(), "feeLst[0].icid") || !strings.Contains(p.Err().Error(), "feeLst[1].icid") {
				t.Errorf("rejected %d: %v; want feeLst[0].icid and feeLst[1].icid", len(p.Rejected), p.Err())
			}
		})
	}
	t.Run("event sessionId", func(t *testing.T) {
		_, err := DecodeCallEvent([]byte("{\"eventType\":\"callin\",\"statusInfo\":{\"sessionId\":\"s\xff\",\"timestamp\":\"2024-05-01 10:00:00\"}}"))
		if err == nil || !strings.Contains(err.Error(), "statusInfo.sessionId") {
			t.Errorf("DecodeCallEvent = %v, want an error naming statusInfo.sessionId", err)
		}
	})
}
