package pii

import (
	"bytes"
	"encoding/json"
	"strings"
)

// keptFields are the fields whose values are never rewritten in the stored
// raw JSON: the record's identity and what the recording job is built from,
// so that a job built again from the stored record (pnctl
// backfill-recordings) is the job the recorder built from the push.
var keptFields = []string{"icid", "subscriptionId", "recordDomain", "recordBucketName", "recordObjectName", "recordFileDownloadUrl"}

// rewriteRaw returns the JSON text raw with the policy applied value by
// value: a "sessionId" value equal to session becomes stored, the values of
// keptFields stay, and every other value goes through rep (a scalar that
// rep changes becomes a string). Keys are never changed. raw itself is
// returned when nothing changed; it is never modified.
func rewriteRaw(raw []byte, session, stored string, rep *Replacer) []byte {
	if rep == nil && session == stored {
		return raw
	}
	var out []byte // nil until the first change
	copied := 0    // raw[:copied] is in out, or unchanged
	replace := func(start, end int, with []byte) {
		if bytes.Equal(raw[start:end], with) {
			return
		}
		if out == nil {
			out = make([]byte, 0, len(raw)+64)
		}
		out = append(out, raw[copied:start]...)
		out = append(out, with...)
		copied = end
	}
	var key []byte // the last key seen, unescaped
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '"':
			end := stringEnd(raw, i)
			if end < 0 {
				i = len(raw) // not JSON after all: leave the rest
				continue
			}
			tok := raw[i:end]
			if isKey(raw, end) {
				key = unquoteBytes(tok)
			} else {
				switch {
				case bytes.EqualFold(key, []byte("sessionId")) && session != stored && unquote(tok) == session:
					replace(i, end, quote(stored))
				case kept(key):
				default:
					replace(i, end, rep.Bytes(tok))
				}
			}
			i = end
		case c == '-' || c >= '0' && c <= '9':
			end := i + 1
			for end < len(raw) && strings.IndexByte("0123456789+-.eE", raw[end]) >= 0 {
				end++
			}
			if !kept(key) {
				if v := rep.Bytes(raw[i:end]); !bytes.Equal(v, raw[i:end]) {
					replace(i, end, quote(string(v)))
				}
			}
			i = end
		default:
			i++
		}
	}
	if out == nil {
		return raw
	}
	return append(out, raw[copied:]...)
}

// stringEnd returns the index after the closing quote of the JSON string
// that starts at raw[start], or -1.
func stringEnd(raw []byte, start int) int {
	for i := start + 1; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// isKey reports whether the string ending before raw[end] is an object key.
func isKey(raw []byte, end int) bool {
	for ; end < len(raw); end++ {
		switch raw[end] {
		case ' ', '\t', '\n', '\r':
		case ':':
			return true
		default:
			return false
		}
	}
	return false
}

// unquote returns the value of the JSON string tok ("" if it is not one).
func unquote(tok []byte) string {
	if bytes.IndexByte(tok, '\\') < 0 {
		return string(tok[1 : len(tok)-1])
	}
	var s string
	_ = json.Unmarshal(tok, &s) // a malformed escape leaves "": compared, never stored
	return s
}

// unquoteBytes is unquote without a copy when tok has no escape.
func unquoteBytes(tok []byte) []byte {
	if bytes.IndexByte(tok, '\\') < 0 {
		return tok[1 : len(tok)-1]
	}
	return []byte(unquote(tok))
}

func quote(s string) []byte {
	b, _ := json.Marshal(s) // a string always encodes
	return b
}

func kept(key []byte) bool {
	for _, k := range keptFields {
		if len(key) == len(k) && bytes.EqualFold(key, []byte(k)) {
			return true
		}
	}
	return false
}
