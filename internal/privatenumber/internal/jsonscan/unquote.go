package jsonscan

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Strings decoded as encoding/json decodes them: escapes resolved, invalid
// UTF-8 and lone surrogates becoming U+FFFD.

// Verbatim reports whether the content of a scanned string (between its
// quotes) is its own decoded value: no escapes, and valid UTF-8.
func Verbatim(content []byte) bool {
	return bytes.IndexByte(content, '\\') < 0 && (!hasHigh(content) || utf8.Valid(content))
}

func hasHigh(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// Unquote decodes the content of a string Str scanned (between its
// quotes) exactly as encoding/json does, in one allocation of the result's
// size: encoding/json allocates the input's size, grows it by doubling for
// invalid UTF-8 (which decodes to three bytes a byte), then copies the
// result. content must have been accepted by Str.
func Unquote(content []byte) string {
	var count sink
	unquoteTo(&count, content)
	var b strings.Builder
	b.Grow(count.n)
	unquoteTo(&sink{sb: &b}, content)
	return b.String()
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

// unquoteTo writes the decoded content to w. content must have been
// scanned by Str.
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
