package privatenumber

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
)

// Int is an integer field of a push. The platform documents these as JSON
// numbers; some integrations send numeric strings, so both are accepted. An
// empty string or null is 0, which the platform uses for "not applicable".
type Int int64

// UnmarshalJSON accepts 12, "12", "", and null.
func (n *Int) UnmarshalJSON(b []byte) error {
	if v, ok := parseSmallInt(b); ok {
		*n = v
		return nil
	}
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*n = 0
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		u, err := strconv.Unquote(s)
		if err != nil {
			return typeError(b, reflect.TypeFor[Int]())
		}
		if u == "" {
			*n = 0
			return nil
		}
		s = u
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		// 12.0 is a legal JSON spelling of an integer.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int32(f)) {
			return typeError(b, reflect.TypeFor[Int]())
		}
		v = int64(f)
	}
	*n = Int(v)
	return nil
}

// typeError reports a value of the wrong JSON type the way encoding/json
// does, so that the decoder adds the field's path to it.
func typeError(b []byte, t reflect.Type) error {
	return &json.UnmarshalTypeError{Value: JSONKind(b), Type: t}
}

// JSONKind names the kind of JSON value b holds (a short string quoted), for
// errors about a value of the wrong type; the API client words its own so.
func JSONKind(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "empty"
	}
	switch b[0] {
	case '"':
		if len(b) > 66 {
			return "string " + string(b[:64]) + "…"
		}
		return "string " + string(b)
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	default:
		if len(b) > 32 {
			return "number " + string(b[:32]) + "…"
		}
		return "number " + string(b)
	}
}

// parseSmallInt parses an integer of at most 9 digits, optionally negative,
// without allocating; it reports false for anything else, which
// UnmarshalJSON then handles.
func parseSmallInt(b []byte) (Int, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 9 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var v Int
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + Int(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}
