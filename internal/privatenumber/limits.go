package privatenumber

import (
	"bytes"

	"github.com/pnstream/pnstream/internal/privatenumber/internal/jsonscan"
)

// The limits checked before encoding/json decodes a push: json.Unmarshal
// would copy every element of a feeLst of any length before the decoder
// could count them.

// preScan walks the top level of body without allocating. tooMany: an
// array that encoding/json may decode as feeLst (its key folds to
// "feeLst", or is escaped) has more than MaxFeeRecords elements; the scan
// stops at the comma that opens the 51st. maybeFee: a member encoding/json
// may decode as eventType (its key folds to "eventType", or is escaped) is
// a string that may be "fee" (it is, or has escapes). The scan stops at
// anything malformed, reporting what it found before: encoding/json then
// says what is wrong, unless the limits refuse the body first.
func preScan(body []byte) (tooMany, maybeFee bool) {
	s := jsonscan.New(body)
	if !s.Consume('{') || s.Consume('}') {
		return false, false
	}
	for {
		if s.Peek() != '"' {
			return false, maybeFee
		}
		k, ok := s.Str()
		if !ok || !s.Consume(':') {
			return false, maybeFee
		}
		key := body[k.Start:k.End]
		switch c := s.Peek(); {
		case c == '[' && (k.Escaped || bytes.EqualFold(key, []byte("feeLst"))):
			over, ok := s.CountOver(MaxFeeRecords)
			if over || !ok {
				return over, maybeFee
			}
		case c == '"' && (k.Escaped || bytes.EqualFold(key, []byte("eventType"))):
			v, ok := s.Str()
			if !ok {
				return false, maybeFee
			}
			maybeFee = maybeFee || v.Escaped || string(body[v.Start:v.End]) == EventTypeFee
		default:
			if !s.Skip() {
				return false, maybeFee
			}
		}
		if !s.Consume(',') {
			return false, maybeFee
		}
	}
}
