package privatenumber

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
	ErrAuthExpired     = authError("created outside the replay window")
	ErrAuthReplayed    = authError("nonce already used")
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

// Verifier checks the authentication headers of incoming requests with the
// app secret: the digest, the app key, a replay window around Created and
// nonces not used before within that window. It is safe for concurrent use.
//
// A nonce counts as used only once the caller says so with Remember, after
// the request succeeded: a push that failed on our side (a 503) and is
// retried with the same headers must not be refused as a replay.
type Verifier struct {
	appKey    string
	appSecret string
	window    time.Duration
	now       func() time.Time
	nonces    *nonceSet
}

// NewVerifier returns a Verifier that accepts tokens whose Created is within
// window of now, in either direction. maxNonces bounds the memory spent on
// remembered nonces.
func NewVerifier(appKey, appSecret string, window time.Duration, maxNonces int, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{appKey: appKey, appSecret: appSecret, window: window, now: now, nonces: newNonceSet(maxNonces)}
}

// Verify checks h and returns the verified token, or an error matching
// ErrUnauthenticated.
func (v *Verifier) Verify(h http.Header) (UsernameToken, error) {
	value, digest := h.Get(HeaderAKSK), AKSKDigest
	if value == "" {
		value, digest = h.Get(HeaderWSSE), WSSEDigest
	}
	if value == "" {
		return UsernameToken{}, ErrAuthMissing
	}
	t, err := ParseUsernameToken(value)
	if err != nil {
		return UsernameToken{}, err
	}
	if v.appKey != "" && subtle.ConstantTimeCompare([]byte(t.Username), []byte(v.appKey)) != 1 {
		return t, ErrAuthUsername
	}
	want := digest(v.appSecret, t.Nonce, t.Created)
	if !hmac.Equal([]byte(want), []byte(t.PasswordDigest)) {
		return t, ErrAuthDigest
	}
	created, err := time.Parse(CreatedLayout, t.Created)
	if err != nil {
		return t, ErrAuthMalformed
	}
	now := v.now()
	if d := now.Sub(created); d > v.window || d < -v.window {
		return t, fmt.Errorf("%w: created %s, now %s", ErrAuthExpired, t.Created, now.UTC().Format(CreatedLayout))
	}
	if v.nonces.contains(t.Nonce, now) {
		return t, ErrAuthReplayed
	}
	return t, nil
}

// Remember marks the token's nonce as used until it leaves the window.
func (v *Verifier) Remember(t UsernameToken) {
	created, err := time.Parse(CreatedLayout, t.Created)
	if err != nil {
		return
	}
	v.nonces.add(t.Nonce, created.Add(v.window), v.now())
}

// VerifyOnce is Verify and Remember in one step, so that two concurrent
// requests carrying the same nonce cannot both pass. It suits a server that
// spends a nonce whatever becomes of the request, such as the platform's
// API; a push receiver that must accept retries uses Verify and Remember.
func (v *Verifier) VerifyOnce(h http.Header) (UsernameToken, error) {
	t, err := v.Verify(h)
	if err != nil {
		return t, err
	}
	created, err := time.Parse(CreatedLayout, t.Created)
	if err != nil { // Verify parsed it already; kept for safety
		return t, ErrAuthMalformed
	}
	if !v.nonces.addNew(t.Nonce, created.Add(v.window), v.now()) {
		return t, ErrAuthReplayed
	}
	return t, nil
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
