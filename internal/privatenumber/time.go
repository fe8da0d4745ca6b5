package privatenumber

import (
	"encoding/json"
	"reflect"
	"strconv"
	"time"
)

// TimeLayout is the platform's layout for every time in pushes: UTC with no
// zone marker, e.g. "2019-01-24 03:33:10".
const TimeLayout = "2006-01-02 15:04:05"

// Times outside this range cannot be stored in a ClickHouse DateTime (an
// unsigned 32-bit count of seconds), so they are rejected at the door.
var (
	minTime = time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2105, 12, 31, 0, 0, 0, 0, time.UTC)
)

// Time is a platform time. The zero Time means the field was absent or
// empty, which the platform does for steps that never happened.
type Time struct {
	time.Time
}

// ParseTime parses a platform time in [TimeLayout], UTC. For tolerance it
// also accepts RFC 3339 ("2019-01-24T03:33:10Z"). An empty string yields the
// zero Time.
func ParseTime(s string) (Time, error) {
	if s == "" {
		return Time{}, nil
	}
	t, err := parseFormat(s)
	if err != nil {
		return Time{}, err
	}
	if !inRange(t) {
		return Time{}, &time.ParseError{Layout: TimeLayout, Value: s, Message: ": out of range 1970-01-02..2105-12-31"}
	}
	return Time{t}, nil
}

// parseTime is ParseTime for a lenient reading: it returns the Anomaly
// kind of a time it cannot take (AnomalyFormat or AnomalyRange) instead of
// an error.
func parseTime(s string) (Time, string) {
	if s == "" {
		return Time{}, ""
	}
	t, err := parseFormat(s)
	switch {
	case err != nil:
		return Time{}, AnomalyFormat
	case !inRange(t):
		return Time{}, AnomalyRange
	}
	return Time{t}, ""
}

// parseFormat parses s in TimeLayout or RFC 3339, returning it in UTC.
func parseFormat(s string) (time.Time, error) {
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		var err2 error
		if t, err2 = time.Parse(time.RFC3339, s); err2 != nil {
			return time.Time{}, err
		}
	}
	return t.UTC(), nil
}

func inRange(t time.Time) bool { return !t.Before(minTime) && !t.After(maxTime) }

// String formats t in [TimeLayout], or "" for the zero Time.
func (t Time) String() string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

// Ptr returns the time as a pointer, nil when absent; handy for nullable
// columns.
func (t Time) Ptr() *time.Time {
	if t.IsZero() {
		return nil
	}
	v := t.UTC()
	return &v
}

// UnmarshalJSON accepts a string in [TimeLayout], an empty string or null.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = Time{}
		return nil
	}
	if len(b) == 0 || b[0] != '"' {
		return typeError(b, reflect.TypeFor[Time]())
	}
	if v, ok := parseLayout(b); ok {
		*t = v
		return nil
	}
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return typeError(b, reflect.TypeFor[Time]())
	}
	v, err := ParseTime(s)
	if err != nil {
		return typeError(b, reflect.TypeFor[Time]())
	}
	*t = v
	return nil
}

// MarshalJSON writes t in [TimeLayout], or "" for the zero Time.
func (t Time) MarshalJSON() ([]byte, error) {
	return json.Marshal(t.String())
}

// parseLayout parses a quoted time in exactly TimeLayout, the platform's
// spelling, without allocating, and reports false for anything else, which
// ParseTime then handles (or rejects). For what it accepts it returns what
// ParseTime returns.
func parseLayout(quoted []byte) (Time, bool) {
	// "2006-01-02 15:04:05" with its quotes.
	if len(quoted) != len(TimeLayout)+2 || quoted[len(quoted)-1] != '"' {
		return Time{}, false
	}
	b := quoted[1 : len(quoted)-1]
	if b[4] != '-' || b[7] != '-' || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return Time{}, false
	}
	num := func(lo, hi int) (int, bool) {
		n := 0
		for _, c := range b[lo:hi] {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 7)
	day, ok3 := num(8, 10)
	hour, ok4 := num(11, 13)
	minute, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	if t.Day() != day || !inRange(t) {
		return Time{}, false // day out of its month, or out of range: ParseTime says which
	}
	return Time{t}, true
}
