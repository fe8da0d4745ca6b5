// Package jsonscan walks a JSON document in one pass over its bytes and
// reports where values are, so that a decoder can find the values of the
// keys it knows without encoding/json copying every value into a
// json.RawMessage and scanning it twice more. It exists for privatenumber's
// fast path: no allocation per field (a key or value is a position in the
// input; only a string that needs unescaping is copied), and bounded work
// on any input (nesting deeper than MaxDepth is refused, never recursed
// into).
//
// The scanner accepts exactly the JSON grammar (RFC 8259) that
// encoding/json accepts, and unquotes strings exactly as encoding/json
// does. It knows no keys: which key is which field is its caller's
// business. A caller that meets anything unusual (a false from any method)
// is expected to decode with encoding/json instead, so that results and
// error messages are encoding/json's.
package jsonscan

// MaxDepth bounds the nesting the scanner follows; deeper documents are
// refused, for encoding/json (which has its own limit and error) to decode.
const MaxDepth = 1000

// Kinds of values Value reports: the first byte of each, so that the first
// byte of a value's JSON compares with them too.
const (
	KindString = '"'
	KindNumber = '0'
	KindObject = '{'
	KindArray  = '['
	KindTrue   = 't'
	KindFalse  = 'f'
	KindNull   = 'n'
)

// Scanner walks a JSON document. Every method reports false on anything it
// does not accept, leaving the scanner in an unspecified position. The
// zero Scanner scans an empty document.
type Scanner struct {
	b []byte
	i int
}

// New returns a scanner at the start of b.
func New(b []byte) Scanner { return Scanner{b: b} }

// Pos is the scanner's position: the index in the document of the next
// byte it reads.
func (s *Scanner) Pos() int { return s.i }

// Seek moves the scanner to position i, which a method reported.
func (s *Scanner) Seek(i int) { s.i = i }

// AtEnd skips whitespace and reports whether the document ends there.
func (s *Scanner) AtEnd() bool {
	s.ws()
	return s.i == len(s.b)
}

// ws skips JSON whitespace.
func (s *Scanner) ws() {
	b, i := s.b, s.i // locals: the compiler keeps them in registers
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	s.i = i
}

// Consume skips whitespace and then c, reporting whether c was there.
func (s *Scanner) Consume(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// Peek skips whitespace and returns the next byte, or 0 at the end.
func (s *Scanner) Peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// String is a scanned string: where its content is, between the quotes,
// and whether it has escapes or bytes outside ASCII (which may be invalid
// UTF-8), the cases where the content is not the decoded value as is.
type String struct {
	Start, End int
	Escaped    bool
	High       bool
}

// Str scans a string; the next byte must be its opening quote (see Peek).
func (s *Scanner) Str() (String, bool) {
	b, i := s.b, s.i+1 // locals: the compiler keeps them in registers
	v := String{Start: i}
	for i < len(b) {
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i == len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			v.End = i
			s.i = i + 1
			return v, true
		case c == '\\':
			v.Escaped = true
			s.i = i
			if !s.escape() {
				return v, false
			}
			i = s.i
		case c < 0x20:
			s.i = i
			return v, false
		default:
			if c >= 0x80 {
				v.High = true
			}
			i++
		}
	}
	s.i = i
	return v, false
}

// plain marks the bytes a string holds as they are: printable ASCII but
// the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escape scans one escape sequence at s.i.
func (s *Scanner) escape() bool {
	if s.i+1 >= len(s.b) {
		return false
	}
	switch s.b[s.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i += 2
		return true
	case 'u':
		if s.i+6 > len(s.b) {
			return false
		}
		for _, h := range s.b[s.i+2 : s.i+6] {
			if !isHex(h) {
				return false
			}
		}
		s.i += 6
		return true
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// IsNumber reports whether b is exactly one JSON number, without
// whitespace.
func IsNumber(b []byte) bool {
	s := New(b)
	return s.number() && s.i == len(b)
}

// number scans -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *Scanner) number() bool {
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits scans [0-9]+.
func (s *Scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && isDigit(s.b[s.i]) {
		s.i++
	}
	return s.i > start
}

// literal scans the literal word at s.i.
func (s *Scanner) literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// Value scans any value after optional whitespace and returns its kind
// and where it starts; it ends at Pos. depth is the nesting of the
// container that holds the value (0 for a whole document, 1 for a member
// of the top-level object): containers nested deeper than MaxDepth are
// refused.
func (s *Scanner) Value(depth int) (kind byte, start int, ok bool) {
	s.ws()
	if s.i >= len(s.b) {
		return 0, 0, false
	}
	start = s.i
	switch c := s.b[s.i]; c {
	case '"':
		_, ok = s.Str()
		return KindString, start, ok
	case '{':
		return KindObject, start, s.Object(depth + 1)
	case '[':
		return KindArray, start, s.array(depth + 1)
	case 't':
		return KindTrue, start, s.literal("true")
	case 'f':
		return KindFalse, start, s.literal("false")
	case 'n':
		return KindNull, start, s.literal("null")
	default:
		if c == '-' || isDigit(c) {
			return KindNumber, start, s.number()
		}
		return 0, 0, false
	}
}

// Object scans an object whose members are of no interest; the next byte
// must be '{' (see Peek). depth is the object's own nesting (1 for the
// top level).
func (s *Scanner) Object(depth int) bool {
	if depth > MaxDepth {
		return false
	}
	s.i++
	if s.Consume('}') {
		return true
	}
	for {
		if s.Peek() != '"' {
			return false
		}
		if _, ok := s.Str(); !ok || !s.Consume(':') {
			return false
		}
		if _, _, ok := s.Value(depth); !ok {
			return false
		}
		if s.Consume(',') {
			continue
		}
		return s.Consume('}')
	}
}

// array scans an array whose elements are of no interest; s.b[s.i] must
// be '['.
func (s *Scanner) array(depth int) bool {
	if depth > MaxDepth {
		return false
	}
	s.i++
	if s.Consume(']') {
		return true
	}
	for {
		if _, _, ok := s.Value(depth); !ok {
			return false
		}
		if s.Consume(',') {
			continue
		}
		return s.Consume(']')
	}
}

// Members scans the object after optional whitespace, calling member for
// each member with its key and the scanner positioned before its value;
// member must scan the value (Value, or Str and the like), at depth 1 for
// a top-level object. It stops at the first false. Escaped keys are
// decoded when escaped is true (the key passed is then valid only until
// the next member, and a decoded key longer than 64 bytes is passed as the
// one-byte key NUL, which is no field's name), refused otherwise.
func (s *Scanner) Members(escaped bool, member func(key []byte) bool) bool {
	var keys *keyBuf // made for the first escaped key only
	if !s.Consume('{') {
		return false
	}
	if s.Consume('}') {
		return true
	}
	for {
		if s.Peek() != '"' {
			return false
		}
		k, ok := s.Str()
		if !ok || !s.Consume(':') {
			return false
		}
		key := s.b[k.Start:k.End]
		if k.Escaped {
			if !escaped {
				return false
			}
			if keys == nil {
				keys = new(keyBuf)
			}
			key = keys.unquote(key)
		}
		if !member(key) {
			return false
		}
		if s.Consume(',') {
			continue
		}
		return s.Consume('}')
	}
}

// CountOver scans the array at the next byte, which must be '[' (see
// Peek), reporting over as soon as an element after the first max
// appears, and ok when the array ended well formed before that. Elements
// are passed over as Skip does: at any depth, without recursion.
func (s *Scanner) CountOver(max int) (over, ok bool) {
	s.i++ // '['
	if s.Consume(']') {
		return false, true
	}
	for n := 1; ; n++ {
		if n > max {
			return true, true
		}
		if !s.Skip() {
			return false, false
		}
		if !s.Consume(',') {
			return false, s.Consume(']')
		}
	}
}

// Skip passes over one value after optional whitespace, nested to any
// depth, without recursion. It is lenient (it does not tell ']' from '}'
// or check numbers), enough to find where a well-formed value ends; on a
// malformed one it may stop anywhere, or report false.
func (s *Scanner) Skip() bool {
	s.ws()
	depth := 0
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch c {
		case '"':
			if _, ok := s.Str(); !ok {
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
