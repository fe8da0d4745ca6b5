package privatenumber

import "bytes"

// The limits checked before encoding/json decodes a push: json.Unmarshal
// would copy every element of a feeLst of any length before the decoder
// could count them.

// tooManyFees reports whether body's top-level object has an array that
// encoding/json may decode as feeLst (its key folds to "feeLst", or is
// escaped) with more than MaxFeeRecords elements. It looks no further than
// the comma that opens the 51st element and allocates nothing. It stops,
// reporting false, at anything malformed before that point: encoding/json
// then says what.
func tooManyFees(body []byte) bool {
	s := scanner{b: body}
	if !s.consume('{') || s.consume('}') {
		return false
	}
	for {
		if s.peek() != '"' {
			return false
		}
		k, ok := s.str()
		if !ok || !s.consume(':') {
			return false
		}
		if s.peek() == '[' && (k.escaped || bytes.EqualFold(body[k.start:k.end], []byte("feeLst"))) {
			if over, ok := s.countOver(MaxFeeRecords); over || !ok {
				return over
			}
		} else if !s.skip() {
			return false
		}
		if !s.consume(',') {
			return false
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
