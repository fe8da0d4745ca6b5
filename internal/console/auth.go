package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Cookie names. Both are SameSite=Strict and HttpOnly.
const (
	sessionCookie = "pn_console_session"
	csrfCookie    = "pn_console_csrf"
	csrfField     = "csrf"
)

// Principal is who a request acts for.
type Principal struct {
	User  string
	Roles []string // sorted, at least one
	// From is where the request came from: the client address, and the
	// proxy's when it came through the auth proxy.
	From string
}

// Has reports whether p holds role; an officer holds viewer too.
func (p Principal) Has(role string) bool {
	if role == RoleViewer && slices.Contains(p.Roles, RoleOfficer) {
		return true
	}
	return slices.Contains(p.Roles, role)
}

// Role is p's roles as the access log records them.
func (p Principal) Role() string { return strings.Join(p.Roles, ",") }

// auth decides who a request is: the auth proxy's headers when it comes
// from a trusted proxy, else a signed session cookie of a token login.
type auth struct {
	proxies                []netip.Prefix
	groups                 map[string][]string // proxy group → roles
	token, tokenUser, role string
	key                    []byte
	ttl                    time.Duration
	secure                 bool
	now                    func() time.Time
}

func newAuth(cfg Config) (*auth, error) {
	proxies, err := cfg.proxies()
	if err != nil {
		return nil, err
	}
	a := &auth{proxies: proxies, groups: map[string][]string{}, token: cfg.Token, tokenUser: cfg.TokenUser, role: cfg.TokenRole,
		key: []byte(cfg.SessionKey), ttl: cfg.SessionTTL, secure: cfg.SecureCookies, now: time.Now}
	for role, list := range map[string]string{RoleViewer: cfg.ViewerGroups, RoleOfficer: cfg.OfficerGroups, RoleAuditor: cfg.AuditorGroups} {
		for _, g := range splitList(list) {
			a.groups[g] = append(a.groups[g], role)
		}
	}
	if len(a.key) == 0 {
		a.key = make([]byte, 32)
		if _, err := rand.Read(a.key); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// remote returns the request's peer address.
func remote(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// fromProxy reports whether r comes from a trusted proxy.
func (a *auth) fromProxy(r *http.Request) bool {
	addr := remote(r)
	for _, p := range a.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// from describes where r came from, for the access log.
func (a *auth) from(r *http.Request) string {
	peer := remote(r).String()
	if a.fromProxy(r) {
		// The proxy appends the client it saw last.
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			return strings.TrimSpace(parts[len(parts)-1]) + " via " + peer
		}
	}
	return peer
}

// identify returns r's principal, or false when r is not logged in (or
// its user has no role).
func (a *auth) identify(r *http.Request) (Principal, bool) {
	p := Principal{From: a.from(r)}
	if a.fromProxy(r) {
		p.User = r.Header.Get("X-Forwarded-User")
		if p.User == "" {
			p.User = r.Header.Get("X-Forwarded-Email")
		}
		for _, g := range splitList(r.Header.Get("X-Forwarded-Groups")) {
			for _, role := range a.groups[g] {
				if !slices.Contains(p.Roles, role) {
					p.Roles = append(p.Roles, role)
				}
			}
		}
		slices.Sort(p.Roles)
		return p, p.User != "" && len(p.Roles) > 0
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return p, false
	}
	user, role, ok := a.verifySession(c.Value)
	if !ok {
		return p, false
	}
	p.User, p.Roles = user, []string{role}
	return p, true
}

// tokenMatches reports whether t is the static token, in constant time.
func (a *auth) tokenMatches(t string) bool {
	return a.token != "" && subtle.ConstantTimeCompare([]byte(t), []byte(a.token)) == 1
}

// sessionValue is the signed cookie of a token login:
// user|role|expiry|mac, each part base64url.
func (a *auth) sessionValue(user, role string) string {
	exp := strconv.FormatInt(a.now().Add(a.ttl).Unix(), 10)
	payload := b64(user) + "." + b64(role) + "." + exp
	return payload + "." + base64.RawURLEncoding.EncodeToString(a.mac("session", payload))
}

func (a *auth) verifySession(v string) (user, role string, ok bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return "", "", false
	}
	payload, sig := v[:i], v[i+1:]
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.mac("session", payload)) {
		return "", "", false
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 3 {
		return "", "", false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || a.now().Unix() >= exp {
		return "", "", false
	}
	u, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	ro, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil || !validRole(string(ro)) {
		return "", "", false
	}
	return string(u), string(ro), true
}

func (a *auth) mac(purpose, payload string) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return m.Sum(nil)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// cookie returns a cookie of the console's kind: Strict, HttpOnly.
func (a *auth) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: a.secure, SameSite: http.SameSiteStrictMode}
}

// csrfKey carries the request's CSRF cookie value in its context, set by
// withCSRFCookie before any handler runs.
type csrfKey struct{}

// withCSRFCookie gives every browser a random CSRF cookie, set on the
// first answer; forms carry a token derived from it and the user.
func (a *auth) withCSRFCookie(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := ""
		if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 22 {
			v = c.Value
		} else {
			b := make([]byte, 18)
			_, _ = rand.Read(b)
			v = base64.RawURLEncoding.EncodeToString(b)
			http.SetCookie(w, a.cookie(csrfCookie, v, 0))
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), csrfKey{}, v)))
	})
}

// csrfToken is the form token of r's browser and user.
func (a *auth) csrfToken(r *http.Request, user string) string {
	v, _ := r.Context().Value(csrfKey{}).(string)
	return base64.RawURLEncoding.EncodeToString(a.mac("csrf", v+"\x00"+user))
}

// csrfValid reports whether r's form carries the token of its cookie
// and user. A request without the cookie (withCSRFCookie just made one)
// never passes.
func (a *auth) csrfValid(r *http.Request, user string) bool {
	if _, err := r.Cookie(csrfCookie); err != nil {
		return false
	}
	got := r.PostFormValue(csrfField)
	return got != "" && hmac.Equal([]byte(got), []byte(a.csrfToken(r, user)))
}
