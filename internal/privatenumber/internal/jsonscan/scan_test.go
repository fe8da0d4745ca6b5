package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

// documents are JSON texts, well formed or not, that the scanner must
// judge as encoding/json does.
var documents = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+3`, `-12.0E-1`, `true`, `false`, `null`,
	` {"a" : [1, "x", {"b": null}, true, false, -1.5e3] } `,
	`{"a\u0041\n":"\ud83d\ude00\ud800x\u00e9\/"}`,
	"\"\xff\xfe ホスト\"",
	`01`, `1.`, `.5`, `1e`, `-`, `+1`, `1.5e+`, `0x1`, `NaN`,
	`tru`, `nul`, `falsey`, `{"a":1,}`, `[1,]`, `{"a" 1}`, `{a:1}`, `{"a":1}}`,
	`"\u12"`, `"\x"`, "\"a\x01\"", `"abc`, `{"a":[1}`, `[1:2]`, `{"a":"b",`,
	``, ` `, `{} x`, `{}{}`, "{}\t\r\n", "\u00a0{}",
}

// scanDocument scans doc as a whole document.
func scanDocument(doc []byte) bool {
	s := New(doc)
	_, _, ok := s.Value(0)
	return ok && s.AtEnd()
}

func TestScannerAcceptsWhatEncodingJSONAccepts(t *testing.T) {
	for _, doc := range documents {
		if got, want := scanDocument([]byte(doc)), json.Valid([]byte(doc)); got != want {
			t.Errorf("%q: scanner says %v, encoding/json %v", doc, got, want)
		}
	}
}

func TestNestingBeyondMaxDepthIsRefused(t *testing.T) {
	for _, c := range []struct {
		open, close string
	}{{`[`, `]`}, {`{"a":`, `}`}} {
		at := []byte(strings.Repeat(c.open, MaxDepth) + "1" + strings.Repeat(c.close, MaxDepth))
		over := []byte(strings.Repeat(c.open, MaxDepth+1) + "1" + strings.Repeat(c.close, MaxDepth+1))
		if !scanDocument(at) {
			t.Errorf("%s nested %d deep is refused", c.open, MaxDepth)
		}
		if scanDocument(over) || !json.Valid(over) {
			t.Errorf("%s nested %d deep: scanner takes it, or encoding/json refuses it", c.open, MaxDepth+1)
		}
	}
}

// strings are JSON strings whose decoding must be encoding/json's.
var quoted = []string{
	`""`, `"plain"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u0041\u00e9\u4e2d"`, `"\ud83d\ude00"`,
	`"\ud800"`, `"\ud800x"`, `"\ude00\ud83d"`, `"\ud800\u0041"`, `"\ud83d\ud83d\ude00"`,
	"\"\xff\"", "\"\xe4\xb8\"", "\"\xed\xa0\x80\"", "\"ok \xc3\xa9 \xc3\"", `"\u0000"`,
}

func TestUnquoteMatchesEncodingJSON(t *testing.T) {
	for _, q := range quoted {
		s := New([]byte(q))
		v, ok := s.Str()
		if !ok || !s.AtEnd() {
			t.Fatalf("%q: not scanned as one string", q)
		}
		checkUnquote(t, []byte(q), v)
	}
}

// checkUnquote checks the string v scanned from the start of b against
// encoding/json.
func checkUnquote(t *testing.T, b []byte, v String) {
	t.Helper()
	var want string
	if err := json.Unmarshal(b[:v.End+1], &want); err != nil {
		t.Fatalf("%q: encoding/json refuses what the scanner takes: %v", b, err)
	}
	content := b[v.Start:v.End]
	if got := Unquote(content); got != want {
		t.Errorf("%q: Unquote gives %q, encoding/json %q", b, got, want)
	}
	if Verbatim(content) && string(content) != want {
		t.Errorf("%q: Verbatim, but encoding/json gives %q", b, want)
	}
	if !v.Escaped && !v.High && !Verbatim(content) {
		t.Errorf("%q: plain ASCII without escapes is not Verbatim", b)
	}
}

func TestMembersDecodesEscapedKeysOnlyWhenAsked(t *testing.T) {
	doc := []byte(`{"plain":1, "\u0069cid":"x", "` + strings.Repeat(`\u0061`, 65) + `":[{}]}`)
	var keys []string
	s := New(doc)
	ok := s.Members(true, func(key []byte) bool {
		keys = append(keys, string(key))
		_, _, ok := s.Value(1)
		return ok
	})
	if !ok || !s.AtEnd() {
		t.Fatalf("Members refuses %s", doc)
	}
	if want := []string{"plain", "icid", "\x00"}; strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Errorf("keys %q, want %q (a key over 64 bytes as NUL)", keys, want)
	}
	s = New(doc)
	if s.Members(false, func([]byte) bool { _, _, ok := s.Value(1); return ok }) {
		t.Errorf("Members(false) takes an escaped key")
	}
}

func TestValueReportsKindAndPosition(t *testing.T) {
	doc := []byte(` {"a": [1, {"b": "c"}] , "d" : -2.5e1 } `)
	s := New(doc)
	var got []string
	if !s.Members(true, func(key []byte) bool {
		kind, start, ok := s.Value(1)
		got = append(got, string(key)+"="+string(rune(kind))+string(doc[start:s.Pos()]))
		return ok
	}) || !s.AtEnd() {
		t.Fatalf("Members refuses %s", doc)
	}
	if want := `a=[[1, {"b": "c"}];d=0-2.5e1`; strings.Join(got, ";") != want {
		t.Errorf("got %q, want %q", strings.Join(got, ";"), want)
	}
}

func TestCountOverStopsAtTheFirstElementOver(t *testing.T) {
	for _, c := range []struct {
		doc      string
		over, ok bool
		pos      int // where the scan stops
	}{
		{`[]`, false, true, 2},
		{`[1, "a,b", {"c":[2,3]}]`, false, true, 23},
		{`[1, "a,b", {"c":[2,3]}, 4`, true, true, 23}, // past the comma that opens the 4th
		{`[1, 2`, false, false, 5},
	} {
		s := New([]byte(c.doc))
		over, ok := s.CountOver(3)
		if over != c.over || ok != c.ok || s.Pos() != c.pos {
			t.Errorf("%s: over %v ok %v at %d, want %v %v at %d", c.doc, over, ok, s.Pos(), c.over, c.ok, c.pos)
		}
	}
}

func TestIsNumber(t *testing.T) {
	for _, doc := range documents {
		var v any
		want := json.Unmarshal([]byte(doc), &v) == nil && strings.TrimSpace(doc) == doc
		_, isFloat := v.(float64)
		if got := IsNumber([]byte(doc)); got != (want && isFloat) {
			t.Errorf("IsNumber(%q) = %v", doc, got)
		}
	}
}

// FuzzScanner checks, on any input, that the scanner takes exactly the
// documents encoding/json takes (bar nesting beyond MaxDepth), and that a
// string it scans decodes as encoding/json decodes it.
func FuzzScanner(f *testing.F) {
	for _, doc := range documents {
		f.Add([]byte(doc))
	}
	for _, q := range quoted {
		f.Add([]byte(q))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if got, want := scanDocument(doc), json.Valid(doc); got != want && !(want && deeperThanMax(doc)) {
			t.Fatalf("%q: scanner says %v, encoding/json %v", doc, got, want)
		}
		s := New(doc)
		if s.Peek() == '"' {
			if v, ok := s.Str(); ok {
				checkUnquote(t, doc, v)
			}
		}
	})
}

// deeperThanMax reports whether a valid document nests beyond MaxDepth.
func deeperThanMax(doc []byte) bool {
	depth, in, esc := 0, false, false
	for _, c := range doc {
		switch {
		case esc:
			esc = false
		case in:
			esc, in = c == '\\', c != '"'
		case c == '"':
			in = true
		case c == '[' || c == '{':
			if depth++; depth > MaxDepth {
				return true
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return false
}
