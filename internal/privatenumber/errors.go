package privatenumber

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// ErrInvalid is matched by every validation error of this package.
var ErrInvalid = errors.New("invalid push")

// ErrRecordTooLarge is matched (besides ErrInvalid) by the error of a
// record larger than the decoder's record limit: a fee record in
// Push.Rejected, or a call event body.
var ErrRecordTooLarge = errors.New("record too large")

// FieldError says which field of a push is wrong and why. Field is a JSON
// path in the push body, such as "feeLst[3].callInTime" or
// "statusInfo.sessionId"; it is empty when the body as a whole is wrong (not
// JSON, too deeply nested).
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`

	kind error // a sentinel the error also matches, or nil
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalid) true for every FieldError, and
// errors.Is(err, ErrRecordTooLarge) true for a record over the limit.
func (e *FieldError) Is(target error) bool {
	return target == ErrInvalid || (e.kind != nil && target == e.kind)
}

// FieldErrors lists the problems of one push, in body order.
type FieldErrors []*FieldError

func (es FieldErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true for FieldErrors, and
// errors.Is(err, ErrRecordTooLarge) true when one of them is a record over
// the limit.
func (es FieldErrors) Is(target error) bool {
	if target == ErrInvalid {
		return true
	}
	for _, e := range es {
		if e.Is(target) {
			return true
		}
	}
	return false
}

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// tooLarge is the error of a record of n bytes over the limit of max.
func tooLarge(field, what string, n, max int) *FieldError {
	e := fieldErr(field, "%s of %d bytes; the record limit is %d bytes", what, n, max)
	e.kind = ErrRecordTooLarge
	return e
}

// errTooManyFees is the error of a feeLst of more than MaxFeeRecords
// records. It cannot say how many: decoding stops at the first one over.
func errTooManyFees() error {
	return FieldErrors{fieldErr("feeLst", "more than %d records; want 1 to %d", MaxFeeRecords, MaxFeeRecords)}
}

// jsonError turns an encoding/json error into a FieldError whose path starts
// with prefix.
func jsonError(prefix string, err error) *FieldError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := joinPath(prefix, te.Field)
		return fieldErr(field, "got %s, want %s", te.Value, wantKind(te.Type))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fieldErr(prefix, "malformed JSON at byte %d: %s", se.Offset, se.Error())
	}
	if errors.Is(err, errUnexpectedEnd) || err.Error() == "unexpected end of JSON input" {
		return fieldErr(prefix, "malformed JSON: unexpected end of input")
	}
	return fieldErr(prefix, "malformed JSON: %v", err)
}

var errUnexpectedEnd = errors.New("unexpected end of JSON input")

func joinPath(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	default:
		return prefix + "." + field
	}
}

func wantKind(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[Time]():
		return `a time "yyyy-MM-dd HH:mm:ss" (UTC)`
	case reflect.TypeFor[Int]():
		return "a 32-bit integer (number or numeric string)"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return t.String()
	}
}
