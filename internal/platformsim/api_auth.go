package platformsim

import (
	"errors"
	"net/http"
	"strings"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/axeapi"
)

// authenticate checks the two AKSK headers of an API call the way the
// platform documents it, and spends the nonce. It returns nil when the
// call is authenticated.
//
// Codes: the Authorization codes 1023006–1023012 follow Huawei's SDP
// result-code table (1023006 header missing, 1023007/1023008 realm/profile
// missing, 1023009/1023010 realm/profile wrong; 1023011 type wrong and
// 1023012 type missing are inferred from that pattern, UNCONFIRMED). The
// X-AKSK codes 1023033–1023038 take the order of reference §8 (header,
// Username, Nonce, Created, PasswordDigest, UsernameToken), UNCONFIRMED
// per attribute. A wrong app key is 1010003, a wrong digest 1010012
// (number UNCONFIRMED), a Created outside the window 1010013.
//
// A reused nonce is answered 1010012, the code of a refused token: the
// request is as unauthenticated as a forged one, and no documented code is
// specific to replays. Nonces are spent on every authenticated request,
// whatever becomes of it, as a replay guard must.
func (a *api) authenticate(h http.Header) *axeapi.APIError {
	if e := checkAuthorization(h.Get(aksk.HeaderAuthorization)); e != nil {
		return e
	}
	if e := checkUsernameToken(h.Get(aksk.HeaderAKSK)); e != nil {
		return e
	}
	_, err := a.verifier.VerifyOnce(h)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, aksk.ErrAuthUsername):
		return authErr("1010003", "Invalid app_key")
	case errors.Is(err, aksk.ErrAuthExpired), errors.Is(err, aksk.ErrAuthMalformed):
		// Malformed here means Created did not parse: it cannot be placed
		// within the window either.
		return authErr("1010013", "Time out limit")
	case errors.Is(err, aksk.ErrAuthReplayed):
		return authErr("1010012", "Authentication failed: Nonce already used")
	default: // ErrAuthDigest
		return authErr("1010012", "Authentication failed: PasswordDigest is wrong")
	}
}

func authErr(code, desc string) *axeapi.APIError {
	return &axeapi.APIError{HTTPStatus: httpStatus(code), ResultCode: code, ResultDesc: desc}
}

// checkAuthorization checks
// `AKSK realm="SDP",profile="UsernameToken",type="Appkey"`.
func checkAuthorization(v string) *axeapi.APIError {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	if scheme != "AKSK" {
		return authErr("1023006", "Authorization not contained in the HTTP header")
	}
	attrs, ok := attributes(rest)
	if !ok {
		return authErr("1023006", "Authorization not contained in the HTTP header")
	}
	for _, c := range []struct{ name, want, missing, wrong string }{
		{"realm", "SDP", "1023007", "1023009"},
		{"profile", "UsernameToken", "1023008", "1023010"},
		{"type", "Appkey", "1023012", "1023011"},
	} {
		got, present := attrs[c.name]
		switch {
		case !present:
			return authErr(c.missing, c.name+" not contained in Authorization")
		case got != c.want:
			return authErr(c.wrong, "The value of "+c.name+" in Authorization must be "+c.want)
		}
	}
	return nil
}

// checkUsernameToken diagnoses which part of the X-AKSK value is missing;
// aksk.Verifier then checks the values themselves.
func checkUsernameToken(v string) *axeapi.APIError {
	v = strings.TrimSpace(v)
	if v == "" {
		return authErr("1023033", "X-AKSK not contained in the HTTP header")
	}
	rest, ok := strings.CutPrefix(v, "UsernameToken ")
	if !ok {
		return authErr("1023038", "UsernameToken not contained in X-AKSK")
	}
	attrs, ok := attributes(rest)
	if !ok {
		return authErr("1023038", "UsernameToken not contained in X-AKSK")
	}
	for _, c := range []struct{ name, code string }{
		{"Username", "1023034"}, {"Nonce", "1023035"}, {"Created", "1023036"}, {"PasswordDigest", "1023037"},
	} {
		if attrs[c.name] == "" {
			return authErr(c.code, c.name+" not contained in X-AKSK")
		}
	}
	if !aksk.ValidNonce(attrs["Nonce"]) {
		return authErr("1023035", "Nonce in X-AKSK must be 1-128 letters and digits")
	}
	if _, err := aksk.ParseUsernameToken(v); err != nil {
		return authErr("1023038", "UsernameToken in X-AKSK is malformed")
	}
	return nil
}

// attributes parses `name="value",name="value"`, spaces allowed around
// the commas. It reports false for anything else, duplicates included.
func attributes(s string) (map[string]string, bool) {
	attrs := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return attrs, true
	}
	for part := range strings.SplitSeq(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || name == "" || len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
			return nil, false
		}
		if _, dup := attrs[name]; dup {
			return nil, false
		}
		attrs[name] = val[1 : len(val)-1]
	}
	return attrs, true
}
