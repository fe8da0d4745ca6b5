package privatenumber

import "bytes"

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
	s := scanner{b: body}
	if !s.consume('{') || s.consume('}') {
		return false, false
	}
	for {
		if s.peek() != '"' {
			return false, maybeFee
		}
		k, ok := s.str()
		if !ok || !s.consume(':') {
			return false, maybeFee
		}
		key := body[k.start:k.end]
		switch c := s.peek(); {
		case c == '[' && (k.escaped || bytes.EqualFold(key, []byte("feeLst"))):
			over, ok := s.countOver(MaxFeeRecords)
			if over || !ok {
				return over, maybeFee
			}
		case c == '"' && (k.escaped || bytes.EqualFold(key, []byte("eventType"))):
			v, ok := s.str()
			if !ok {
				return false, maybeFee
			}
			maybeFee = maybeFee || v.escaped || string(body[v.start:v.end]) == EventTypeFee
		default:
			if !s.skip() {
				return false, maybeFee
			}
		}
		if !s.consume(',') {
			return false, maybeFee
		}
	}
}

// countOver scans the array at s.i, reporting over as soon as an element
// after the first max appears, and ok when the array ended well formed
// before that.
func (s *scanner) countOver(max int) (over, ok bool) {
	s.i++ // '['
	if s.consume(']') {
		return false, true
	}
	for n := 1; ; n++ {
		if n > max {
			return true, true
		}
		if !s.skip() {
			return false, false
		}
		if !s.consume(',') {
			return false, s.consume(']')
		}
	}
}

// skip passes over one value after optional whitespace, nested to any
// depth, without recursion. It is lenient (it does not tell ']' from '}'
// or check numbers), enough to find where a well-formed value ends; on a
// malformed one it may stop anywhere, or report false.
func (s *scanner) skip() bool {
	s.ws()
	depth := 0
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch c {
		case '"':
			if _, ok := s.str(); !ok {
				return false
			}
		case '{', '[':
			depth++
			s.i++
		case '}', ']':
			if depth == 0 {
				return true // the end of the enclosing container
			}
			depth--
			s.i++
		case ',':
			if depth == 0 {
				return true
			}
			s.i++
		default:
			if depth == 0 && (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
				return true
			}
			s.i++
		}
		if depth == 0 && (c == '"' || c == '}' || c == ']') {
			return true
		}
	}
	return depth == 0
}
