package platformsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pnstream/pnstream/internal/redact"
)

// paramError is an invalid request parameter, answered as 1010002 with a
// resultdesc naming the field.
type paramError struct {
	Field, Reason string
}

func (e *paramError) Error() string { return e.Field + ": " + e.Reason }

func invalid(field, format string, args ...any) error {
	return &paramError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// fields is a JSON request body, decoded leniently the way the platform
// accepts it: strings may come as JSON numbers (displayNumMode 0),
// integers as numeric strings, recordFlag as a JSON boolean, and null or
// an empty string means the field was left out.
type fields map[string]json.RawMessage

func decodeFields(r *http.Request) (fields, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxRequestBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, invalid("body", "larger than %d bytes", maxRequestBody)
		}
		return nil, fmt.Errorf("read body: %w", err)
	}
	var f fields
	if err := json.Unmarshal(body, &f); err != nil || f == nil {
		return nil, invalid("body", "not a JSON object")
	}
	return f, nil
}

// str returns a string field, "" when absent. max is its documented
// length in characters.
func (f fields) str(name string, max int) (string, error) {
	raw := bytes.TrimSpace(f[name])
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	switch raw[0] {
	case '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", invalid(name, "malformed string")
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		s = string(raw) // lenient: a number where a string is documented
	default:
		return "", invalid(name, "want a string")
	}
	return s, checkText(name, s, max)
}

// present reports whether the body carries the field, even empty; null
// counts as absent.
func (f fields) present(name string) bool {
	raw := bytes.TrimSpace(f[name])
	return len(raw) > 0 && string(raw) != "null"
}

// integer returns an integer field and whether it was given.
func (f fields) integer(name string) (int, bool, error) {
	raw := bytes.TrimSpace(f[name])
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `""` {
		return 0, false, nil
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, false, invalid(name, "malformed string")
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, false, invalid(name, "want an integer, got %s", redact.Truncate(string(raw), 40))
	}
	return n, true, nil
}

// flag returns recordFlag-style booleans: "true"/"false" as documented, or
// a JSON boolean.
func (f fields) flag(name string) (bool, bool, error) {
	switch string(bytes.TrimSpace(f[name])) {
	case "", "null", `""`:
		return false, false, nil
	case `"true"`, "true":
		return true, true, nil
	case `"false"`, "false":
		return false, true, nil
	default:
		return false, false, invalid(name, `want "true" or "false"`)
	}
}

// queryParam returns a query-string parameter. A "+" sent unescaped
// arrives as a space, so an E.164 number not sent as %2B fails as a stray
// space, as on the platform.
func queryParam(q url.Values, name string, max int, required bool) (string, error) {
	s := q.Get(name)
	if s == "" {
		if required {
			return "", invalid(name, "required")
		}
		return "", nil
	}
	return s, checkText(name, s, max)
}

// checkText refuses stray spaces, control characters and overlong values.
func checkText(name, s string, max int) error {
	if strings.TrimSpace(s) != s {
		return invalid(name, "leading or trailing spaces (a + in a query string must be sent as %%2B)")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return invalid(name, "%d characters, at most %d", n, max)
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return invalid(name, "control characters")
	}
	return nil
}

var (
	e164Pattern     = regexp.MustCompile(`^\+[1-9][0-9]{4,14}$`)
	areaCodePattern = regexp.MustCompile(`^0[1-9][0-9]{1,2}$`)
)

// checkNumber requires a global E.164 number with its "+".
func checkNumber(name, s string) error {
	if !e164Pattern.MatchString(s) {
		return invalid(name, "%q is not an E.164 number (+ country code and digits)", redact.Truncate(s, 40))
	}
	return nil
}

// checkExtension requires exactly digits digits, not all zeros.
func checkExtension(name, s string, digits int) error {
	if len(s) != digits || strings.Trim(s, "0123456789") != "" {
		return invalid(name, "%q is not a %d-digit extension", redact.Truncate(s, 40), digits)
	}
	if strings.Trim(s, "0") == "" {
		return invalid(name, "%q: an extension is not all zeros", s)
	}
	return nil
}

func checkEnum(name, s string, allowed ...string) error {
	for _, a := range allowed {
		if s == a {
			return nil
		}
	}
	return invalid(name, "%q: want one of %s", redact.Truncate(s, 40), strings.Join(allowed, ", "))
}

// maxLifetime is the largest bindExpiredTime or callbackExpiredTime: 720
// hours, or 43200 minutes when timeUnit is "1".
func maxLifetime(unit string) int {
	if unit == "1" {
		return 43200
	}
	return 720
}

// checkLifetime checks one of the lifetimes against its unit's range.
func checkLifetime(name string, n int, unit string) error {
	if max := maxLifetime(unit); n < 0 || n > max {
		return invalid(name, "%d out of range 0..%d for timeUnit %q", n, max, unit)
	}
	return nil
}

// parser reads the fields of one body and keeps the first error, so that
// a handler reads every field and checks once.
type parser struct {
	f   fields
	err error
}

func (p *parser) check(err error) {
	if p.err == nil {
		p.err = err
	}
}

func (p *parser) str(name string, max int) string {
	s, err := p.f.str(name, max)
	p.check(err)
	return s
}

func (p *parser) integer(name string) (int, bool) {
	n, ok, err := p.f.integer(name)
	p.check(err)
	return n, ok
}

func (p *parser) flag(name string) (bool, bool) {
	b, ok, err := p.f.flag(name)
	p.check(err)
	return b, ok
}
