package privatenumber

// A JSON scanner for the decoding fast path. Push bodies are decoded in
// one pass over the bytes: the fee records are found in the body, and each
// is decoded from its own bytes, which are kept as its Raw, instead of
// encoding/json copying every record into a json.RawMessage and then
// scanning it twice more to decode it.
//
// The scanner accepts exactly the JSON grammar (RFC 8259) that
// encoding/json accepts. The fast path handles the common shapes only;
// whenever anything is unusual (an error of any kind, escaped keys,
// keys matching a field case-insensitively, duplicated top-level keys,
// nesting beyond maxScanDepth) it reports failure and the caller decodes
// with encoding/json instead, so results and error messages are exactly
// those of encoding/json.

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxScanDepth bounds the nesting the scanner follows; deeper documents go
// the encoding/json way, which has its own limit and error.
const maxScanDepth = 1000

// scanner walks a JSON document. Every method reports false on anything
// it does not accept, leaving the scanner in an unspecified position.
type scanner struct {
	b []byte
	i int
}

// ws skips JSON whitespace.
func (s *scanner) ws() {
	b, i := s.b, s.i // locals: the compiler keeps them in registers
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	s.i = i
}

// consume skips whitespace and then c, reporting whether c was there.
func (s *scanner) consume(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// jsonString is a scanned string: its content between the quotes, and
// whether it has escapes or bytes outside ASCII (which may be invalid
// UTF-8), the cases where the content is not the decoded value as is.
type jsonString struct {
	start, end int
	escaped    bool
	high       bool
}

// str scans a string; s.b[s.i] must be its opening quote.
func (s *scanner) str() (jsonString, bool) {
	b, i := s.b, s.i+1 // locals: the compiler keeps them in registers
	v := jsonString{start: i}
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
			v.end = i
			s.i = i + 1
			return v, true
		case c == '\\':
			v.escaped = true
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
				v.high = true
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
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escape scans one escape sequence at s.i.
func (s *scanner) escape() bool {
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

// number scans -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *scanner) number() bool {
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
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && isDigit(s.b[s.i]) {
		s.i++
	}
	return s.i > start
}

// literal scans the literal word at s.i.
func (s *scanner) literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// Kinds of values value reports: the first byte of each.
const (
	kindString = '"'
	kindNumber = '0'
	kindObject = '{'
	kindArray  = '['
	kindTrue   = 't'
	kindFalse  = 'f'
	kindNull   = 'n'
)

// value scans any value after optional whitespace and returns its kind and
// where it starts; it ends at s.i.
func (s *scanner) value(depth int) (kind byte, start int, ok bool) {
	s.ws()
	if s.i >= len(s.b) {
		return 0, 0, false
	}
	start = s.i
	switch c := s.b[s.i]; c {
	case '"':
		_, ok = s.str()
		return kindString, start, ok
	case '{':
		return kindObject, start, s.object(depth + 1)
	case '[':
		return kindArray, start, s.array(depth + 1)
	case 't':
		return kindTrue, start, s.literal("true")
	case 'f':
		return kindFalse, start, s.literal("false")
	case 'n':
		return kindNull, start, s.literal("null")
	default:
		if c == '-' || isDigit(c) {
			return kindNumber, start, s.number()
		}
		return 0, 0, false
	}
}

// object scans an object whose members are of no interest; s.b[s.i] must
// be '{'.
func (s *scanner) object(depth int) bool {
	if depth > maxScanDepth {
		return false
	}
	s.i++
	if s.consume('}') {
		return true
	}
	for {
		if s.peek() != '"' {
			return false
		}
		if _, ok := s.str(); !ok || !s.consume(':') {
			return false
		}
		if _, _, ok := s.value(depth); !ok {
			return false
		}
		if s.consume(',') {
			continue
		}
		return s.consume('}')
	}
}

// array scans an array whose elements are of no interest; s.b[s.i] must
// be '['.
func (s *scanner) array(depth int) bool {
	if depth > maxScanDepth {
		return false
	}
	s.i++
	if s.consume(']') {
		return true
	}
	for {
		if _, _, ok := s.value(depth); !ok {
			return false
		}
		if s.consume(',') {
			continue
		}
		return s.consume(']')
	}
}

// members calls member for each member of the object at s.i, with the
// member's key and the scanner positioned before its value; member must
// scan the value. It stops at the first false. Escaped keys are decoded
// (the key passed is then only valid until the next member) when escaped
// is true, refused otherwise.
func (s *scanner) members(escaped bool, member func(key []byte) bool) bool {
	var keys *keyBuf // made for the first escaped key only
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	for {
		if s.peek() != '"' {
			return false
		}
		k, ok := s.str()
		if !ok || !s.consume(':') {
			return false
		}
		key := s.b[k.start:k.end]
		if k.escaped {
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
		if s.consume(',') {
			continue
		}
		return s.consume('}')
	}
}

// keyBuf holds a decoded key. No field name is longer: a key that does not
// fit matches none.
type keyBuf struct {
	b [64]byte
}

// noKey stands for a key longer than keyBuf: it matches no field.
var noKey = []byte{0}

// unquote decodes content, a scanned key with escapes, into k.
func (k *keyBuf) unquote(content []byte) []byte {
	w := sink{key: k.b[:0]}
	unquoteTo(&w, content)
	if w.n > len(k.b) {
		return noKey
	}
	return w.key
}

// sink is where unquoteTo writes: a strings.Builder, a key buffer that
// takes what fits, or nothing (counting only).
type sink struct {
	sb  *strings.Builder
	key []byte
	n   int
}

func (w *sink) write(p []byte) {
	w.n += len(p)
	switch {
	case w.sb != nil:
		w.sb.Write(p)
	case w.key != nil && len(w.key)+len(p) <= cap(w.key):
		w.key = append(w.key, p...)
	}
}

func (w *sink) writeByte(c byte) {
	w.n++
	switch {
	case w.sb != nil:
		w.sb.WriteByte(c)
	case w.key != nil && len(w.key) < cap(w.key):
		w.key = append(w.key, c)
	}
}

func (w *sink) writeRune(r rune) {
	if w.sb != nil {
		n, _ := w.sb.WriteRune(r)
		w.n += n
		return
	}
	if w.key == nil {
		w.n += utf8.RuneLen(r)
		return
	}
	var b [utf8.UTFMax]byte
	w.write(b[:utf8.EncodeRune(b[:], r)])
}

// unquote decodes the content of a scanned JSON string (between its
// quotes) exactly as encoding/json does, invalid UTF-8 and lone surrogates
// becoming U+FFFD, in one allocation of the result's size: encoding/json
// allocates the input's size, grows it by doubling for invalid UTF-8 (which
// decodes to three bytes a byte), then copies the result.
func unquote(content []byte) string {
	var count sink
	unquoteTo(&count, content)
	var b strings.Builder
	b.Grow(count.n)
	unquoteTo(&sink{sb: &b}, content)
	return b.String()
}

// unquoteTo writes the decoded content to w. content must have been
// scanned by str.
func unquoteTo(w *sink, content []byte) {
	for i := 0; i < len(content); {
		c := content[i]
		switch {
		case c == '\\':
			switch e := content[i+1]; e {
			case 'u':
				r := getu4(content[i:])
				i += 6
				if utf16.IsSurrogate(r) {
					if dec := utf16.DecodeRune(r, getu4(content[i:])); dec != unicode.ReplacementChar {
						w.writeRune(dec)
						i += 6
						continue
					}
					r = unicode.ReplacementChar
				}
				w.writeRune(r)
			default:
				w.writeByte(unescaped[e])
				i += 2
			}
		case c < utf8.RuneSelf:
			// A run of plain bytes at once.
			j := i + 1
			for j < len(content) && content[j] != '\\' && content[j] < utf8.RuneSelf {
				j++
			}
			w.write(content[i:j])
			i = j
		default:
			r, size := utf8.DecodeRune(content[i:])
			if r == utf8.RuneError && size == 1 {
				w.writeRune(utf8.RuneError)
			} else {
				w.write(content[i : i+size])
			}
			i += size
		}
	}
}

// unescaped maps the byte after a backslash to what it stands for.
var unescaped = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// getu4 decodes a \uXXXX escape at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}
