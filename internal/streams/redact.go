package streams

import (
	"net/url"
	"strings"
)

// unparsableURL stands in for a NATS URL that cannot be parsed: its text
// may hold a password, so it is never shown.
const unparsableURL = "<unparsable-url>"

// RedactURL returns s, a comma-separated list of NATS URLs, fit for logs
// and errors: each URL keeps only its scheme and host, user:password@ or
// token@ becomes "redacted@", and an unparsable one becomes a placeholder.
// It never fails.
func RedactURL(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = redactOne(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

// redactOne redacts one URL. Like nats.go, it reads "host:port" without a
// scheme as nats://host:port.
func redactOne(raw string) string {
	u, ok := parseNATSURL(raw)
	if !ok {
		return unparsableURL
	}
	var b strings.Builder
	if strings.Contains(raw, "://") {
		b.WriteString(u.Scheme)
		b.WriteString("://")
	}
	if u.User != nil {
		b.WriteString("redacted@")
	}
	b.WriteString(u.Host)
	return b.String()
}

// parseNATSURL parses one NATS URL the way nats.go does, and reports
// whether it names a host.
func parseNATSURL(raw string) (*url.URL, bool) {
	if raw == "" {
		return nil, false
	}
	s := raw
	if !strings.Contains(s, "://") {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil || !validHost(u) {
		return nil, false
	}
	return u, true
}

// validHost reports whether u's host is a name or address, with an IPv6
// address in brackets.
func validHost(u *url.URL) bool {
	h := u.Hostname()
	if h == "" {
		return false
	}
	if strings.Contains(h, ":") && !strings.HasPrefix(u.Host, "[") {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_:%", r)) {
			return false
		}
	}
	return true
}

// Redacted returns c with the URL's credentials removed, for logging.
func (c ConnConfig) Redacted() ConnConfig {
	c.URL = RedactURL(c.URL)
	return c
}
