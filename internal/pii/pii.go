// Package pii applies pnstream's policy for personal phone numbers before
// they are stored: keep them (raw), mask them (country code and last four
// digits), or replace them with a keyed hash (HMAC-SHA-256) that is the
// same for the same number, so that joins and per-number counts still work
// without the number.
//
// The policy covers the subscribers' numbers: a CDR's callerNum,
// calleeNum, fwdDisplayNum and fwdDstNum and a call event's caller and
// called, wherever they occur: in their columns, in the stored raw JSON,
// and inside the sessionId when the platform built it from them
// ("+8613…_+8615…_4_…"). Identities are never merged: the icid is never
// changed, and a sessionId is stored as sent unless it holds a number,
// then in a form that stays distinct (see SessionID). The privacy number X
// (bindNum) is the tenant's own leased number, not a person's, and stays
// as it is in the CDR's columns: usage per X is what analysts count.
package pii

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Modes of a Policy.
const (
	ModeRaw    = "raw"    // store numbers as received
	ModeMasked = "masked" // "+86*******5678": country code and last 4 digits
	ModeHMAC   = "hmac"   // "hmac:<24 hex>": HMAC-SHA-256 under a secret key, truncated
)

// DefaultMode is masked: no full number is stored unless an operator
// chooses to (raw), and it needs no secret to manage (hmac does).
const DefaultMode = ModeMasked

// MinKeyBytes is the shortest HMAC key accepted: a short key can be found
// by hashing every phone number, of which there are only ~10^10 per
// country.
const MinKeyBytes = 32

// hashHexLen is how much of the HMAC is kept: 96 bits, far from collisions
// among the numbers of any deployment, and short enough for columns.
const hashHexLen = 24

// hmacPrefix starts every hashed number, so that a hash is recognisable
// and never hashed again.
const hmacPrefix = "hmac:"

// Policy transforms phone numbers. The zero Policy is raw.
type Policy struct {
	mode string
	key  []byte
}

// New returns the Policy of mode; key is used by ModeHMAC only.
func New(mode string, key []byte) (Policy, error) {
	if err := Validate(mode, key); err != nil {
		return Policy{}, err
	}
	return Policy{mode: mode, key: bytes.Clone(key)}, nil
}

// Validate reports what is wrong with mode and key, without the key's value.
func Validate(mode string, key []byte) error {
	switch mode {
	case ModeRaw, ModeMasked:
		return nil
	case ModeHMAC:
		if len(key) < MinKeyBytes {
			return fmt.Errorf("pii mode hmac: key has %d bytes, want at least %d", len(key), MinKeyBytes)
		}
		return nil
	default:
		return errors.New("pii mode " + mode + ": want raw, masked or hmac")
	}
}

// Mode returns the policy's mode.
func (p Policy) Mode() string {
	if p.mode == "" {
		return ModeRaw
	}
	return p.mode
}

// Raw reports whether the policy keeps numbers as they are.
func (p Policy) Raw() bool { return p.Mode() == ModeRaw }

// Number returns the stored form of one phone number. An empty string stays
// empty. The result never contains the number's digits beyond the country
// code and the last four. It is idempotent: the stored form of a stored
// form is itself.
func (p Policy) Number(n string) string {
	if n == "" {
		return ""
	}
	switch p.Mode() {
	case ModeMasked:
		return mask(n)
	case ModeHMAC:
		if strings.HasPrefix(n, hmacPrefix) {
			return n // stored already: records read back from the warehouse are enqueued again by backfills
		}
		m := hmac.New(sha256.New, p.key)
		m.Write([]byte(n))
		return hmacPrefix + hex.EncodeToString(m.Sum(nil))[:hashHexLen]
	default:
		return n
	}
}

// mask keeps a leading "+" and the E.164 country code, and the last four
// digits; every other digit becomes "*". A number without "+" (national
// form) has no country code to keep.
func mask(n string) string {
	keep := 0
	if strings.HasPrefix(n, "+") {
		keep = 1 + countryCodeLen(n[1:])
	}
	b := []byte(n)
	digits := 0
	for i := len(b) - 1; i >= keep; i-- {
		if b[i] < '0' || b[i] > '9' {
			continue
		}
		if digits++; digits > 4 {
			b[i] = '*'
		}
	}
	return string(b)
}

// countryCodeLen returns the length of the E.164 country code that digits
// start with: 1 and 7 are one digit, the two-digit codes are listed, the
// rest have three (ITU-T E.164 assignment).
func countryCodeLen(digits string) int {
	if digits == "" {
		return 0
	}
	if digits[0] == '1' || digits[0] == '7' {
		return 1
	}
	if len(digits) >= 2 && twoDigitCodes[digits[:2]] {
		return 2
	}
	return min(3, len(digits))
}

var twoDigitCodes = map[string]bool{}

func init() {
	for _, c := range strings.Fields(`20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49
		51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98`) {
		twoDigitCodes[c] = true
	}
}

// Replacer rewrites the numbers of one record wherever they occur in a
// string or a JSON text: in the sessionId and the raw body too.
type Replacer struct {
	pairs []pair
}

type pair struct {
	from, to   string
	fromB, toB []byte // the same as bytes, for Bytes
}

// Replacer returns the Replacer of numbers under p; nil when p is raw or
// there is no number. Each number is replaced as given and, when it starts
// with "+", also without it, the form some sessionIds use; the "+" form
// goes first, so that the bare form does not split it.
func (p Policy) Replacer(numbers ...string) *Replacer {
	if p.Raw() {
		return nil
	}
	var pairs []pair
	add := func(from, to string) {
		// Very short strings ("0", "10086") are service numbers, not a
		// person's, and replacing them would garble unrelated text.
		if len(from) < 7 || slices.ContainsFunc(pairs, func(q pair) bool { return q.from == from }) {
			return
		}
		pairs = append(pairs, pair{from: from, to: to, fromB: []byte(from), toB: []byte(to)})
	}
	tos := make([]string, len(numbers)) // each hashed once: an HMAC costs a microsecond
	for i, n := range numbers {
		tos[i] = p.Number(n)
		add(n, tos[i])
	}
	for i, n := range numbers {
		if bare, ok := strings.CutPrefix(n, "+"); ok {
			add(bare, strings.TrimPrefix(tos[i], "+"))
		}
	}
	if len(pairs) == 0 {
		return nil
	}
	return &Replacer{pairs: pairs}
}

// number returns the stored form of n: from the Replacer when it has n,
// else computed.
func (r *Replacer) number(p Policy, n string) string {
	if r != nil {
		for _, q := range r.pairs {
			if q.from == n {
				return q.to
			}
		}
	}
	return p.Number(n)
}

// String returns s with the numbers replaced; a nil Replacer returns s.
// A few plain searches beat a general replacer here: a record has at most
// eight patterns, and most texts contain none of the bare forms.
func (r *Replacer) String(s string) string {
	if r == nil {
		return s
	}
	for _, q := range r.pairs {
		if strings.Contains(s, q.from) {
			s = strings.ReplaceAll(s, q.from, q.to)
		}
	}
	return s
}

// Bytes returns b with the numbers replaced, b itself when nothing changed.
func (r *Replacer) Bytes(b []byte) []byte {
	if r == nil {
		return b
	}
	for _, q := range r.pairs {
		if bytes.Contains(b, q.fromB) {
			b = bytes.ReplaceAll(b, q.fromB, q.toB)
		}
	}
	return b
}
