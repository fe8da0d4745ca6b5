package privatenumber

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"

	"github.com/pnstream/pnstream/internal/privatenumber/internal/jsonscan"
)

// How a record's values are read, whichever decoder found them (the
// one-pass decoder or encoding/json): each documented field takes the value
// of the last member whose key matches it (as encoding/json matches keys),
// and these functions turn that JSON value into the typed field, saying
// which Anomaly kind it is when it is not as documented. Only identity
// fields refuse a record; every other value is stored as sent.

// jsonValue is a member's value as found in a record: its JSON bytes, and
// the same bytes as a string the record's strings may share, or "" for
// strings copied one by one.
type jsonValue struct {
	b    []byte
	text string
}

// lenientString reads a string field: a string is its content, null is "",
// any other value is its JSON text (a number as written, true, an object
// in compact form) with AnomalyType.
func lenientString(v jsonValue) (s, anomaly string) {
	switch v.b[0] {
	case jsonscan.KindString:
		return stringContent(v), ""
	case jsonscan.KindNull:
		return "", ""
	case jsonscan.KindObject, jsonscan.KindArray:
		var buf bytes.Buffer
		if err := json.Compact(&buf, v.b); err != nil {
			return string(v.b), AnomalyType // cannot happen: both decoders checked the value
		}
		return buf.String(), AnomalyType
	case jsonscan.KindTrue:
		return "true", AnomalyType
	case jsonscan.KindFalse:
		return "false", AnomalyType
	}
	if v.text != "" {
		return v.text, AnomalyType
	}
	return string(v.b), AnomalyType // a number as written
}

// stringContent is the decoded content of the JSON string v, as
// encoding/json decodes it (invalid UTF-8 and lone surrogates become
// U+FFFD), sharing v.text when the content needs no decoding.
func stringContent(v jsonValue) string {
	content := v.b[1 : len(v.b)-1]
	if jsonscan.Verbatim(content) {
		if v.text != "" {
			return v.text[1 : len(v.text)-1]
		}
		return string(content)
	}
	return jsonscan.Unquote(content)
}

// lenientInt reads an integer field. The platform documents JSON numbers;
// numeric strings are taken as well, and "" or null mean absent (the
// platform's "not applicable", 0 in a plain column). A value that is no
// integer (a word, a fraction, true, an object) is AnomalyType and one
// beyond 32 bits AnomalyRange; both read as absent.
func lenientInt(b []byte) (n Int, present bool, anomaly string) {
	if v, ok := parseSmallInt(b); ok {
		return v, true, ""
	}
	switch b[0] {
	case jsonscan.KindNull:
		return 0, false, ""
	case jsonscan.KindString:
		s := stringContent(jsonValue{b: b})
		if s == "" {
			return 0, false, ""
		}
		return parseLenientInt(s)
	case jsonscan.KindTrue, jsonscan.KindFalse, jsonscan.KindObject, jsonscan.KindArray:
		return 0, false, AnomalyType
	}
	return parseLenientInt(string(b))
}

// parseLenientInt reads the text of a number: a decimal integer (as
// strconv.ParseInt takes it) or any JSON number whose value is an integer,
// such as 12.0 or 1e3.
func parseLenientInt(s string) (Int, bool, string) {
	v, err := strconv.ParseInt(s, 10, 32)
	if err == nil {
		return Int(v), true, ""
	}
	if errors.Is(err, strconv.ErrRange) {
		return 0, false, AnomalyRange
	}
	if !isJSONNumber(s) {
		return 0, false, AnomalyType
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil: // beyond float64: a number, and no int32
		return 0, false, AnomalyRange
	case f != math.Trunc(f):
		return 0, false, AnomalyType
	case f < math.MinInt32 || f > math.MaxInt32:
		return 0, false, AnomalyRange
	}
	return Int(f), true, ""
}

// isJSONNumber reports whether s is exactly one JSON number.
func isJSONNumber(s string) bool {
	return jsonscan.IsNumber([]byte(s))
}

// lenientTime reads a time field: a string in one of ParseTime's formats.
// "" and null mean absent. A string in no known format is AnomalyFormat, a
// time a ClickHouse DateTime cannot hold AnomalyRange, and another JSON
// type AnomalyType; each reads as absent.
func lenientTime(b []byte) (Time, string) {
	switch b[0] {
	case jsonscan.KindNull:
		return Time{}, ""
	case jsonscan.KindString:
	default:
		return Time{}, AnomalyType
	}
	if t, ok := parseLayout(b); ok {
		return t, ""
	}
	return parseTime(stringContent(jsonValue{b: b}))
}

// inUint8 keeps an enumeration that is outside its documented range but
// fits its UInt8 column; anything else becomes 0.
func inUint8(n Int) Int {
	if n < 0 || n > math.MaxUint8 {
		return 0
	}
	return n
}
