package pii

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// A sessionId links a call's events, its CDR and its recording, and is the
// identity of the events' rows: its stored form must never merge two calls,
// must be the same whichever record of the call carried it, and must leave
// the platform's ids alone. The platform builds some sessionIds from the
// call's numbers ("+8613…_+8615…_4_627e5c1f_963036_669_1_0") and others
// from ids ("1202_1051_4294967295_20190124070250@callenabler246…", where
// the 10-digit part is an id, not a number).
//
// The stored form of a sessionId s is:
//   - s as sent, when s holds no subscriber number: none of its
//     "_"-separated parts is a "+"-prefixed E.164 number or one of the
//     record's own numbers (with or without "+"; 7 characters at least:
//     shorter ones are service numbers, not a person's);
//   - otherwise T(s) + "~" + D(s): T(s) is s with every number-like part
//     (7 to 15 digits or '*', an optional "+") replaced by its stored form
//     (Number), and D(s) a 96-bit digest of the whole of s: SHA-256 in
//     masked mode, HMAC-SHA-256 under the policy's key in hmac mode.
//
// An s sent already in that shape (ending in "~" and 24 hex digits) is
// transformed too, so as-sent forms and transformed forms never meet, and
// two transformed forms are equal only when their digests are: distinct
// sessionIds stay distinct (up to a 96-bit digest collision) in every mode.
//
// Why T covers every number-like part and not only the record's numbers:
// a CDR carries callerNum, calleeNum, fwdDisplayNum, fwdDstNum and bindNum,
// a callin event only caller (A) and called (X), a callout event the
// displayed number and the far leg. A part that is the caller's number is
// "one of the record's numbers" for the CDR and the callin event but not
// for the callout event. If the record decided which parts to rewrite, the
// callout's row would keep A in clear and no longer join the CDR. So the
// record only decides whether s holds a number at all (the gate), and once
// it does, what is rewritten depends on s alone. The gate agrees across a
// call's records whenever s has a "+" E.164 part (the forms seen, decided
// by s alone) or, for a sessionId of bare numbers, whenever each record of
// the call carries one of them: the platform's number-built form starts
// with the caller and X, and every CDR and event of the call carries X or
// the caller (callin: caller A, called X; the far-leg events: the displayed
// number, X or A; the CDR: all of them).
//
// What masked mode protects, and what it does not: it keeps full numbers
// out of screens, exports and casual queries. D(s) is an unkeyed digest,
// so anyone who can read the table can test guesses: the masked parts show
// each number's country code and last four digits, which leaves about 10^7
// candidates for a Chinese mobile number, fewer when one of the numbers is
// the tenant's own X (a short, known list); testing them takes seconds on
// a laptop. Masked mode does not protect a number from an analyst who
// wants it. hmac mode does, as long as the key (PN_PII_KEY) is secret:
// without it the digests cannot be tested.

// digestHexLen is the length of D(s): 96 bits.
const digestHexLen = 24

// digestSep separates T(s) from D(s).
const digestSep = '~'

// SessionID returns the stored form of sessionId s under p, given the
// numbers of the record it came with (see the comment above): s itself
// under raw, and whenever s holds none of them and no "+" E.164 number.
func (p Policy) SessionID(s string, numbers ...string) string {
	if p.Raw() {
		return s
	}
	if !holdsNumber(s, numbers) && !looksStored(s) {
		return s
	}
	parts := strings.Split(s, "_")
	for i, part := range parts {
		if numberLike(part) {
			parts[i] = p.Number(part)
		}
	}
	return strings.Join(parts, "_") + string(digestSep) + p.digest(s)
}

// digest is D(s).
func (p Policy) digest(s string) string {
	var sum []byte
	if p.Mode() == ModeHMAC {
		m := hmac.New(sha256.New, p.key)
		m.Write([]byte("sessionId\x00")) // apart from the numbers' hashes under the same key
		m.Write([]byte(s))
		sum = m.Sum(nil)
	} else {
		h := sha256.Sum256([]byte(s))
		sum = h[:]
	}
	return hex.EncodeToString(sum)[:digestHexLen]
}

// holdsNumber is the gate: a part of s is a "+" E.164 number or equals one
// of numbers (compared without a leading "+").
func holdsNumber(s string, numbers []string) bool {
	for part := range strings.SplitSeq(s, "_") {
		if isE164(part) {
			return true
		}
		bare := strings.TrimPrefix(part, "+")
		if len(bare) < 7 {
			continue
		}
		for _, n := range numbers {
			if strings.TrimPrefix(n, "+") == bare {
				return true
			}
		}
	}
	return false
}

// isE164 reports whether s is "+" and 7 to 15 digits, the first not 0.
func isE164(s string) bool {
	d, ok := strings.CutPrefix(s, "+")
	if !ok || len(d) < 7 || len(d) > 15 || d[0] == '0' {
		return false
	}
	return allOf(d, "0123456789")
}

// numberLike reports whether s is 7 to 15 digits or '*' (a number the
// platform or a policy masked), with an optional "+".
func numberLike(s string) bool {
	d := strings.TrimPrefix(s, "+")
	return len(d) >= 7 && len(d) <= 15 && allOf(d, "0123456789*")
}

// looksStored reports whether s ends like a transformed sessionId: "~" and
// digestHexLen lowercase hex digits.
func looksStored(s string) bool {
	n := len(s) - digestHexLen - 1
	return n >= 0 && s[n] == digestSep && allOf(s[n+1:], "0123456789abcdef")
}

func allOf(s, set string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return true
}
