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
	t, err := time.Parse(TimeLayout, s)
	if err != nil {
		var err2 error
		if t, err2 = time.Parse(time.RFC3339, s); err2 != nil {
			return Time{}, err
		}
	}
	t = t.UTC()
	if t.Before(minTime) || t.After(maxTime) {
		return Time{}, &time.ParseError{Layout: TimeLayout, Value: s, Message: ": out of range 1970-01-02..2105-12-31"}
	}
	return Time{t}, nil
}

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
