package pii

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// A generated sessionId and the numbers of the record it came with.
type sessionCase struct {
	id      string
	numbers []string
}

// genSessions returns n sessionIds of every shape the property must hold
// for, from a fixed seed: the seed's form with digit variations in each
// part, the 2022 form with and without "+", random E.164 numbers, ids that
// are or contain the record's numbers, non-ASCII and empty parts.
func genSessions(n int) []sessionCase {
	rng := rand.New(rand.NewPCG(11, 2022))
	digits := func(k int) string {
		b := make([]byte, k)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		return string(b)
	}
	vary := func(s string) string { // change one to three digits
		b := []byte(s)
		for range 1 + rng.IntN(3) {
			if i := rng.IntN(len(b)); b[i] >= '0' && b[i] <= '9' {
				b[i] = byte('0' + rng.IntN(10))
			}
		}
		return string(b)
	}
	e164 := func() string { return "+" + string(byte('1'+rng.IntN(9))) + digits(6+rng.IntN(9)) }
	odd := []string{"", "会话", "é", "~", "*", "+", "+0123456789", "hmac:0123", "4294967295", "0", "+86138****7021"}
	var out []sessionCase
	for len(out) < n {
		var c sessionCase
		switch rng.IntN(8) {
		case 0: // the seed's form
			c.id = vary(fmt.Sprintf("1202_1051_4294967295_20190124070250@callenabler%d.huaweicaas.com", 245+rng.IntN(2)))
			c.numbers = []string{"+86138****0022", "+86138****7021"}
		case 1: // the real 2022 form
			a, x := vary("+8613442977762"), vary("+8615006212131")
			c.id = fmt.Sprintf("%s_%s_4_%08x_%d_%d_1_0", a, x, rng.Uint32(), rng.IntN(1_000_000), 100+rng.IntN(900))
			c.numbers = []string{a, x}
		case 2: // the same with bare numbers: only the record tells
			a, x := vary("8613442977762"), vary("8615006212131")
			c.id = fmt.Sprintf("%s_%s_4_627e5c1f_963036_669_1_0", a, x)
			c.numbers = [][]string{{"+" + a, "+" + x}, {a}, {"+" + x, e164()}, nil}[rng.IntN(4)]
		case 3: // random E.164 numbers among ids
			c.id = strings.Join([]string{e164(), digits(1 + rng.IntN(12)), e164()}, "_")
		case 4: // the id is one of the record's numbers
			num := e164()
			c.id = strings.TrimPrefix(num, "+"[:rng.IntN(2)])
			c.numbers = []string{num}
		case 5: // odd parts: non-ASCII, empty, masked, stars, short
			parts := make([]string, 1+rng.IntN(5))
			for i := range parts {
				parts[i] = odd[rng.IntN(len(odd))]
				if rng.IntN(3) == 0 {
					parts[i] += digits(rng.IntN(16))
				}
			}
			c.id = strings.Join(parts, "_")
			c.numbers = []string{"+" + digits(10), "4294967295"}
		case 6: // ids of digits only, of every length
			c.id = digits(1+rng.IntN(16)) + "_" + digits(1+rng.IntN(16))
		case 7: // a stored form sent as a sessionId: must not collide with what it was made from
			c.id = fmt.Sprintf("+86*******%s_%s_4_0~%s", digits(4), digits(10), strings.Repeat("0", 8)+fmt.Sprintf("%016x", rng.Uint64()))
		}
		out = append(out, c)
	}
	return out
}

func policies(t testing.TB) map[string]Policy {
	t.Helper()
	ps := map[string]Policy{}
	for _, mode := range []string{ModeRaw, ModeMasked, ModeHMAC} {
		p, err := New(mode, testKey)
		if err != nil {
			t.Fatal(err)
		}
		ps[mode] = p
	}
	return ps
}

// No mode maps two distinct sessionIds to one stored value, whatever
// record they came with; the stored forms of stored forms included.
func TestSessionIDIsInjective(t *testing.T) {
	cases := genSessions(20000)
	for mode, p := range policies(t) {
		t.Run(mode, func(t *testing.T) {
			from := map[string]string{} // stored → sessionId
			check := func(id string, numbers []string) string {
				stored := p.SessionID(id, numbers...)
				if prev, ok := from[stored]; ok && prev != id {
					t.Fatalf("%q and %q are both stored as %q", prev, id, stored)
				}
				from[stored] = id
				return stored
			}
			transformed := 0
			for _, c := range cases {
				stored := check(c.id, c.numbers)
				check(c.id, nil)
				if stored != c.id {
					transformed++
					check(stored, c.numbers) // an attacker's or a replay's sessionId equal to a stored form
				}
			}
			distinct := map[string]bool{}
			for _, c := range cases {
				distinct[c.id] = true
			}
			if len(distinct) < 10000 {
				t.Fatalf("only %d distinct ids generated", len(distinct))
			}
			if mode != ModeRaw && transformed < len(cases)/4 {
				t.Errorf("only %d of %d ids transformed: the generator lost its numbers", transformed, len(cases))
			}
		})
	}
}

// The loss: two calls whose seed-form sessionIds differ only in
// digits of the 10-digit id part were stored as one. Now such ids, and the
// seed's own, are stored as sent in every mode.
func TestSeedSessionIDIsStoredAsSent(t *testing.T) {
	seed := "1202_1051_4294967295_20190124070250@callenabler246.huaweicaas.com"
	other := "1202_1051_4294967296_20190124070250@callenabler246.huaweicaas.com"
	for mode, p := range policies(t) {
		for _, id := range []string{seed, other, "1201_11275_4294967295_20190124033310@callenabler246.huaweicaas.com"} {
			if got := p.SessionID(id, "+86138****0022", "+86138****7021", "+8613812345678"); got != id {
				t.Errorf("%s: %q stored as %q", mode, id, got)
			}
		}
	}
}

// A sessionId that holds a number is stored without it, and every
// number-like part is rewritten, so the stored form does not depend on
// which of its numbers the record carries.
func TestSessionIDHidesNumbers(t *testing.T) {
	const a, x = "+8613442977762", "+8615006212131"
	ps := policies(t)
	for _, id := range []string{
		a + "_" + x + "_4_627e5c1f_963036_669_1_0",
		"8613442977762_8615006212131_4_627e5c1f_963036_669_1_0",
		"8613442977762_" + x + "_4_627e5c1f_963036_669_1_0",
		a,
	} {
		for _, mode := range []string{ModeMasked, ModeHMAC} {
			p := ps[mode]
			got := p.SessionID(id, a)
			for _, n := range []string{"13442977762", "15006212131", "3442977", "5006212"} {
				if strings.Contains(got, n) {
					t.Errorf("%s: %q stored as %q, which holds %s", mode, id, got, n)
				}
			}
			if p.SessionID(id, x) != got || p.SessionID(id, a, x) != got {
				t.Errorf("%s: %q: the stored form depends on which number the record carries", mode, id)
			}
			if !looksStored(got) || !strings.Contains(got, "_4_627e5c1f_963036_669_1_0~") && id != a {
				t.Errorf("%s: %q stored as %q: want the ids kept and a digest", mode, id, got)
			}
		}
		if ps[ModeRaw].SessionID(id, a) != id {
			t.Errorf("raw changed %q", id)
		}
	}
	if m := ps[ModeMasked].SessionID(a + "_1"); m != "+86*******7762_1~"+ps[ModeMasked].digest(a+"_1") {
		t.Errorf("masked form %q", m)
	}
	// hmac's digest is keyed: the masked mode's is not.
	other, _ := New(ModeHMAC, []byte(strings.Repeat("k", 32)))
	if other.SessionID(a) == ps[ModeHMAC].SessionID(a) {
		t.Error("hmac sessionId does not depend on the key")
	}
}

func BenchmarkSessionID(b *testing.B) {
	p, _ := New(ModeMasked, nil)
	for b.Loop() {
		p.SessionID("+8613442977762_+8615006212131_4_627e5c1f_963036_669_1_0", "+8613442977762")
		p.SessionID("1202_1051_4294967295_20190124070250@callenabler246.huaweicaas.com", "+8613442977762")
	}
}
