package aksk

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Header names and values of the platform's authentication schemes.
const (
	HeaderAuthorization = "Authorization"
	HeaderAKSK          = "X-AKSK"
	HeaderWSSE          = "X-WSSE"

	// AuthorizationAKSK is the fixed Authorization value of the AKSK scheme.
	AuthorizationAKSK = `AKSK realm="SDP",profile="UsernameToken",type="Appkey"`
	// AuthorizationWSSE is the fixed Authorization value of the legacy scheme.
	AuthorizationWSSE = `WSSE realm="SDP",profile="UsernameToken",type="Appkey"`

	// CreatedLayout is the layout of the Created attribute, UTC.
	CreatedLayout = "2006-01-02T15:04:05Z"
)

// Authentication errors. Every one matches ErrUnauthenticated.
var (
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrAuthMissing     = authError("no X-AKSK or X-WSSE header")
	ErrAuthMalformed   = authError("malformed UsernameToken")
	ErrAuthUsername    = authError("unknown app key")
	ErrAuthDigest      = authError("password digest mismatch")
	ErrAuthExpired     = authError("created outside the accepted window")
	ErrAuthReplayed    = authError("nonce already used")
	ErrAuthWSSEOff     = authError("X-WSSE scheme disabled")
)

type authErr struct{ msg string }

func authError(msg string) error        { return &authErr{msg} }
func (e *authErr) Error() string        { return e.msg }
func (e *authErr) Is(target error) bool { return target == ErrUnauthenticated }

// UsernameToken is the value of an X-AKSK or X-WSSE header.
type UsernameToken struct {
	Username       string
	PasswordDigest string
	Nonce          string
	Created        string
}

// String formats the token as the header value.
func (t UsernameToken) String() string {
	return fmt.Sprintf(`UsernameToken Username="%s",PasswordDigest="%s",Nonce="%s",Created="%s"`,
		t.Username, t.PasswordDigest, t.Nonce, t.Created)
}

// ParseUsernameToken parses `UsernameToken Username="…",PasswordDigest="…",
// Nonce="…",Created="…"`. Attribute order does not matter; every attribute
// is required; the nonce is 1 to 128 letters and digits.
func ParseUsernameToken(v string) (UsernameToken, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), "UsernameToken")
	if !ok || len(v) > 1024 {
		return UsernameToken{}, ErrAuthMalformed
	}
	var t UsernameToken
	seen := map[string]bool{}
	for attr := range strings.SplitSeq(rest, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(attr), "=")
		if !ok || len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' || seen[name] {
			return UsernameToken{}, ErrAuthMalformed
		}
		seen[name] = true
		val = val[1 : len(val)-1]
		switch name {
		case "Username":
			t.Username = val
		case "PasswordDigest":
			t.PasswordDigest = val
		case "Nonce":
			t.Nonce = val
		case "Created":
			t.Created = val
		default:
			return UsernameToken{}, ErrAuthMalformed
		}
	}
	if t.Username == "" || t.PasswordDigest == "" || t.Created == "" || !ValidNonce(t.Nonce) {
		return UsernameToken{}, ErrAuthMalformed
	}
	return t, nil
}

// ValidNonce reports whether n has the documented nonce format: 1 to 128
// letters and digits.
func ValidNonce(n string) bool {
	if n == "" || len(n) > 128 {
		return false
	}
	for _, c := range n {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// AKSKDigest is Base64(HMAC-SHA256(key=appSecret, msg=nonce+created)).
func AKSKDigest(appSecret, nonce, created string) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write([]byte(nonce + created))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// WSSEDigest is the legacy Base64(SHA256(nonce+created+appSecret)).
func WSSEDigest(appSecret, nonce, created string) string {
	sum := sha256.Sum256([]byte(nonce + created + appSecret))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Signer sets the platform's authentication headers on requests: on API
// calls made by pnstream, and on pushes made by the simulator.
type Signer struct {
	AppKey    string
	AppSecret string
	// WSSE selects the legacy X-WSSE scheme instead of X-AKSK.
	WSSE bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Sign sets Authorization and X-AKSK (or X-WSSE) on h with a fresh nonce.
func (s *Signer) Sign(h http.Header) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := UsernameToken{Username: s.AppKey, Nonce: NewNonce(), Created: now().UTC().Format(CreatedLayout)}
	if s.WSSE {
		t.PasswordDigest = WSSEDigest(s.AppSecret, t.Nonce, t.Created)
		h.Set(HeaderAuthorization, AuthorizationWSSE)
		h.Set(HeaderWSSE, t.String())
		return
	}
	t.PasswordDigest = AKSKDigest(s.AppSecret, t.Nonce, t.Created)
	h.Set(HeaderAuthorization, AuthorizationAKSK)
	h.Set(HeaderAKSK, t.String())
}

// NewNonce returns 32 random hex digits, as the platform's demos do.
func NewNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// Credential is an app key and one of its secrets. An app key may appear in
// several credentials (a secret rotation's overlap).
type Credential struct {
	// AppKey the token's Username must equal; empty matches any Username
	// (a single-app set-up that does not check the key).
	AppKey string
	// AppSecret signs the digests. Never printed: String and MarshalJSON
	// redact it.
	AppSecret string
}

// String formats c without its secret.
func (c Credential) String() string { return c.AppKey + ":[redacted]" }

// MarshalJSON encodes c without its secret, so logging a config that holds
// credentials cannot leak them.
func (c Credential) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(c.String())), nil
}

// VerifierConfig says which tokens a Verifier accepts.
type VerifierConfig struct {
	// Credentials accepted; a token passes when its Username and digest
	// match one of them.
	Credentials []Credential
	// MaxAge is how far in the past Created may be.
	MaxAge time.Duration
	// ClockSkew is how far in the future Created may be (the sender's clock
	// running ahead).
	ClockSkew time.Duration
	// NoWSSE refuses the legacy X-WSSE scheme: only X-AKSK passes.
	NoWSSE bool
	// MaxNonces bounds the in-process nonce memory of Verify, Remember and
	// VerifyOnce; Authenticate does not use it. 0 means 100,000.
	MaxNonces int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier checks the authentication headers of incoming requests: the
// digest with one of the configured credentials, the app key, Created
// within [now-MaxAge, now+ClockSkew] and, for Verify and VerifyOnce, nonces
// not used before in this process. It is safe for concurrent use.
//
// Authenticate checks everything but the nonce: a receiver whose nonces are
// kept elsewhere (ingest's shared store) uses it. Verify checks the nonce
// against an in-process memory that counts a nonce as used only once the
// caller says so with Remember, after the request succeeded.
type Verifier struct {
	creds  []Credential
	maxAge time.Duration
	skew   time.Duration
	noWSSE bool
	now    func() time.Time
	nonces *nonceSet
}

// NewVerifier returns a Verifier of one credential that accepts tokens whose
// Created is within window of now, in either direction. maxNonces bounds the
// memory spent on remembered nonces.
func NewVerifier(appKey, appSecret string, window time.Duration, maxNonces int, now func() time.Time) *Verifier {
	return NewVerifierFromConfig(VerifierConfig{
		Credentials: []Credential{{AppKey: appKey, AppSecret: appSecret}},
		MaxAge:      window, ClockSkew: window, MaxNonces: maxNonces, Now: now,
	})
}

// NewVerifierFromConfig returns a Verifier of cfg. Credentials are copied.
func NewVerifierFromConfig(cfg VerifierConfig) *Verifier {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Verifier{
		creds:  append([]Credential(nil), cfg.Credentials...),
		maxAge: cfg.MaxAge, skew: cfg.ClockSkew, noWSSE: cfg.NoWSSE,
		now: now, nonces: newNonceSet(cfg.MaxNonces),
	}
}

// Authenticated is what Authenticate learnt from a request.
type Authenticated struct {
	// Token as sent. Set whenever the header parsed, even when the token
	// was then refused, for the record of the refusal.
	Token UsernameToken
	// AppKey of the credential that matched: the configured key, empty for
	// a credential without one. Nonces are scoped by it, not by the
	// token's Username, which the digest does not cover.
	AppKey string
	// Created, parsed.
	Created time.Time
	// WSSE is true for the legacy scheme.
	WSSE bool
}

// Authenticate checks h's token (scheme, format, key, digest, Created) but
// not whether its nonce was used before. Errors match ErrUnauthenticated;
// the specific ones (ErrAuthUsername, ErrAuthDigest, ...) are for the
// record and the metrics, not for the client, who must not learn which
// keys exist.
func (v *Verifier) Authenticate(h http.Header) (Authenticated, error) {
	var a Authenticated
	value, digest := h.Get(HeaderAKSK), AKSKDigest
	if value == "" {
		value, digest, a.WSSE = h.Get(HeaderWSSE), WSSEDigest, true
	}
	if value == "" {
		return a, ErrAuthMissing
	}
	if a.WSSE && v.noWSSE {
		return a, ErrAuthWSSEOff
	}
	t, err := ParseUsernameToken(value)
	if err != nil {
		return a, err
	}
	a.Token = t
	key, err := v.match(t, digest)
	if err != nil {
		return a, err
	}
	a.AppKey = key
	created, err := time.Parse(CreatedLayout, t.Created)
	if err != nil {
		return a, ErrAuthMalformed
	}
	a.Created = created
	now := v.now()
	if d := now.Sub(created); d > v.maxAge || d < -v.skew {
		return a, fmt.Errorf("%w: created %s, now %s", ErrAuthExpired, t.Created, now.UTC().Format(CreatedLayout))
	}
	return a, nil
}

// match finds the credential of t. It computes the digest of every
// credential and compares in constant time, so the time taken does not
// tell a known key from an unknown one.
func (v *Verifier) match(t UsernameToken, digest func(secret, nonce, created string) string) (string, error) {
	given := []byte(t.PasswordDigest)
	keyKnown, found := 0, -1
	for i, c := range v.creds {
		keyOK := 1
		if c.AppKey != "" {
			keyOK = subtle.ConstantTimeCompare([]byte(t.Username), []byte(c.AppKey))
		}
		digestOK := subtle.ConstantTimeCompare([]byte(digest(c.AppSecret, t.Nonce, t.Created)), given)
		keyKnown |= keyOK
		if keyOK&digestOK == 1 && found < 0 {
			found = i
		}
	}
	switch {
	case found >= 0:
		return v.creds[found].AppKey, nil
	case keyKnown == 0:
		return "", ErrAuthUsername
	default:
		return "", ErrAuthDigest
	}
}

// Verify checks h as Authenticate does and that the nonce was not
// remembered before, and returns the token.
func (v *Verifier) Verify(h http.Header) (UsernameToken, error) {
	a, err := v.Authenticate(h)
	if err != nil {
		return a.Token, err
	}
	if v.nonces.contains(a.Token.Nonce, v.now()) {
		return a.Token, ErrAuthReplayed
	}
	return a.Token, nil
}

// Remember marks the token's nonce as used until Created leaves MaxAge.
func (v *Verifier) Remember(t UsernameToken) {
	created, err := time.Parse(CreatedLayout, t.Created)
	if err != nil {
		return
	}
	v.nonces.add(t.Nonce, created.Add(v.maxAge), v.now())
}

// VerifyOnce is Verify and Remember in one step, so that two concurrent
// requests carrying the same nonce cannot both pass. It suits a server that
// spends a nonce whatever becomes of the request, such as the platform's
// API; a push receiver that must accept retries of the same body uses
// Authenticate and a shared nonce store bound to the body.
func (v *Verifier) VerifyOnce(h http.Header) (UsernameToken, error) {
	a, err := v.Authenticate(h)
	if err != nil {
		return a.Token, err
	}
	if !v.nonces.addNew(a.Token.Nonce, a.Created.Add(v.maxAge), v.now()) {
		return a.Token, ErrAuthReplayed
	}
	return a.Token, nil
}

// nonceSet remembers nonces until they expire, at most max of them; when
// full it forgets the oldest first, which is the one closest to expiry.
type nonceSet struct {
	mu      sync.Mutex
	max     int
	expires map[string]time.Time
	order   []string // insertion order, for eviction
}

func newNonceSet(max int) *nonceSet {
	if max <= 0 {
		max = 100_000
	}
	return &nonceSet{max: max, expires: make(map[string]time.Time)}
}

func (s *nonceSet) contains(nonce string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.expires[nonce]
	return ok && now.Before(exp)
}

func (s *nonceSet) add(nonce string, expires, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(nonce, expires, now)
}

// addNew adds the nonce unless it is already remembered and unexpired,
// reporting whether it did.
func (s *nonceSet) addNew(nonce string, expires, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.expires[nonce]; ok && now.Before(exp) {
		return false
	}
	s.addLocked(nonce, expires, now)
	return true
}

func (s *nonceSet) addLocked(nonce string, expires, now time.Time) {
	if _, ok := s.expires[nonce]; !ok {
		s.order = append(s.order, nonce)
	}
	s.expires[nonce] = expires
	// Drop expired nonces from the front, then the oldest while over max.
	i := 0
	for ; i < len(s.order); i++ {
		n := s.order[i]
		if len(s.order)-i <= s.max && now.Before(s.expires[n]) {
			break
		}
		delete(s.expires, n)
	}
	if i > 0 {
		s.order = s.order[i:]
	}
}
