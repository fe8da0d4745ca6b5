// Package redact keeps bearer secrets carried in URLs out of logs, errors,
// rows and dead letters: a signed download URL's query string (the
// signature, the expiry, the access key) and a URL's user:password. The
// scheme, host and path stay, so a redacted URL still says where a request
// went.
//
// net/http's errors (*url.Error) print the whole request URL, and
// url.Parse's errors print the string they were given: format every URL
// with URL, and pass every error that may hold one through Error before it
// is logged, stored or returned across a package boundary.
package redact

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Mark replaces what was removed.
const Mark = "REDACTED"

// URL returns raw without its user information, query string and fragment:
// "https://h/p?X-Amz-Signature=…" becomes "https://h/p?REDACTED". A string
// that does not parse as a URL keeps only what comes before any "?" or "#",
// with any user information removed.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return cutSecrets(raw)
	}
	if u.User != nil {
		u.User = url.User(Mark)
	}
	if u.RawQuery != "" {
		u.RawQuery = Mark
	}
	u.ForceQuery = false
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// cutSecrets is URL for strings url.Parse refuses.
func cutSecrets(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i] + "?" + Mark
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		if at := strings.IndexByte(rest, '@'); at >= 0 && !strings.ContainsAny(rest[:at], "/") {
			raw = raw[:i+3] + Mark + "@" + rest[at+1:]
		}
	}
	return raw
}

// urlPattern finds URLs in free text: a scheme, "://", and everything up to
// a space or a quote.
var urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>` + "`" + `]+`)

// String returns s with every URL in it redacted.
func String(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlPattern.ReplaceAllStringFunc(s, URL)
}

// Error returns err with the URLs of its message redacted, nil for nil.
// The *url.Error values in its chain are redacted in place (net/http and
// url.Parse make a new one for each call), and the returned error still
// unwraps to err, so errors.Is and errors.As see what they saw before.
func Error(err error) error {
	if err == nil {
		return nil
	}
	scrub(err, 0)
	msg := err.Error()
	if red := String(msg); red != msg {
		return &redacted{msg: red, err: err}
	}
	return err
}

// scrub redacts the URL of every *url.Error in err's chain.
func scrub(err error, depth int) {
	if err == nil || depth > 100 {
		return
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = URL(ue.URL)
	}
	switch x := err.(type) {
	case interface{ Unwrap() error }:
		scrub(x.Unwrap(), depth+1)
	case interface{ Unwrap() []error }:
		for _, e := range x.Unwrap() {
			scrub(e, depth+1)
		}
	}
}

// redacted is an error whose message had a URL in it.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// Truncate cuts s to at most n bytes on a rune boundary and marks the cut
// with "…", for the error texts that go into NATS headers (a dead letter's
// reason, TermWithReason), rows and answers, whose size is bounded: a cut
// inside a rune would leave invalid UTF-8 there.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := max(n, 0)
	for j := 0; j < utf8.UTFMax && i > 0 && !utf8.RuneStart(s[i]); j++ {
		i--
	}
	return s[:i] + "…"
}
