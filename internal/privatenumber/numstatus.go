package privatenumber

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/pnstream/pnstream/internal/privatenumber/internal/jsonscan"
	"github.com/pnstream/pnstream/internal/redact"
)

// The X-number status push (X号码状态通知, reference §11.1): the platform
// tells which privacy numbers X became unusable, usable again, or changed
// their reason. Body: {"eventType":"numStatus","numInfo":[{"number",
// "status","cause"},…]}, 1..100 items, no statusInfo.

// EventTypeNumStatus is the eventType of an X-number status push.
const EventTypeNumStatus = "numStatus"

// MaxNumInfoItems is the most items the platform puts in one numInfo list.
const MaxNumInfoItems = 100

// maxNumberLen bounds an X number: the platform's number fields are
// String(0-32).
const maxNumberLen = 32

// Status codes seen in the field table of the X-number status push. Which
// code means which state is UNCONFIRMED (the doc's prose names three states
// for four codes): pnstream stores the code as sent and decides usability
// from cause alone (see NumberStatus.Usable).
var NumberStatusCodes = []string{"5", "9", "10", "11"}

// Causes of an X number's state (numInfo[].cause), reference §11.1. The
// platform sends a cause only while the number is not usable, except
// CauseRestrictionLifted.
const (
	CauseDeleted           = "1" // the number was deleted
	CauseArrears           = "2" // the account is in arrears
	CauseSuspended         = "3" // suspended by the carrier (停机)
	CauseCallsRestricted   = "5" // calls restricted by the carrier
	CauseRestrictionLifted = "6" // the restriction was lifted: usable again
	CauseForwardAlways     = "7" // unconditional call forwarding enabled on X
	CauseForwardNoAnswer   = "8" // no-answer forwarding enabled on X
	CauseForwardBusy       = "9" // busy forwarding enabled on X
)

// NumberCauses lists the documented causes in code order.
var NumberCauses = []string{CauseDeleted, CauseArrears, CauseSuspended, CauseCallsRestricted,
	CauseRestrictionLifted, CauseForwardAlways, CauseForwardNoAnswer, CauseForwardBusy}

// CauseMeaning returns what a cause code means, in a few words, or
// "unknown cause" for a code the reference does not list.
func CauseMeaning(cause string) string {
	switch cause {
	case "":
		return "none (usable)"
	case CauseDeleted:
		return "number deleted"
	case CauseArrears:
		return "account in arrears"
	case CauseSuspended:
		return "suspended by the carrier"
	case CauseCallsRestricted:
		return "calls restricted by the carrier"
	case CauseRestrictionLifted:
		return "restriction lifted"
	case CauseForwardAlways:
		return "unconditional forwarding enabled on X"
	case CauseForwardNoAnswer:
		return "no-answer forwarding enabled on X"
	case CauseForwardBusy:
		return "busy forwarding enabled on X"
	default:
		return "unknown cause"
	}
}

// NumberStatus is one item of an X-number status push: the state of one
// privacy number X. X numbers are the company's own numbers, not a
// subscriber's, so they are kept as sent under every PII mode.
type NumberStatus struct {
	// Number is the X number (E.164), the item's identity.
	Number string
	// Status is the status code as sent; a JSON number is kept as its
	// text. Empty when the item has none.
	Status string
	// Cause is the cause code as sent, empty when absent (a usable
	// number).
	Cause string
	// Anomalies are the fields stored as sent but not as documented.
	Anomalies []Anomaly
	// Raw is the item's JSON exactly as received.
	Raw json.RawMessage
	// StreamSeq is the item's PN_NUMBERS sequence, set by the recorder: the
	// order in which states arrived, which the item itself does not tell.
	// 0 when unknown.
	StreamSeq uint64
}

// Usable reports whether the item says the number can be used. The
// reference says a cause is sent only while a number is not usable, and
// lists cause 6 (restriction lifted) among them; pnstream reads no cause,
// and cause 6, as usable. This reading is UNCONFIRMED: the status codes'
// meanings are not known (see NumberStatusCodes), so they do not take part.
func (n *NumberStatus) Usable() bool { return UsableCause(n.Cause) }

// UsableCause is NumberStatus.Usable for a cause code alone.
func UsableCause(cause string) bool { return cause == "" || cause == CauseRestrictionLifted }

// MsgID returns the Nats-Msg-Id of the item: "num:<number>:<status>:
// <cause>:<nonce>" for a push authenticated with nonce, "" (no id: every
// copy is stored) without one.
//
// The item carries no time, so the state alone cannot tell a re-push from
// a later change back to an earlier state (usable → unusable → usable
// within the duplicate window would lose the second "usable" if the id
// were the state alone). The push's nonce tells them apart: a re-push with
// the original headers has the original nonce, and JetStream drops it as
// a duplicate within its window; a new push (a change, or a re-push with
// fresh headers) has a new nonce and is stored, and pn.number_status
// collapses rows of one (number, status, cause), keeping the latest
// ingested_at, so a re-push adds no row and a change back refreshes the
// time of its state. Without push authentication there is no verified
// nonce, and an unverified one would let a sender suppress a real change
// by reusing it: no id, every copy reaches the table, which absorbs the
// repeats the same way.
//
// Status and cause are not identities (never refused), so they enter the
// id only when they are short tokens; any other value enters as "h" and
// 16 hex digits of its SHA-256, keeping the id bounded and header-safe.
func (n *NumberStatus) MsgID(nonce string) string {
	if nonce == "" {
		return ""
	}
	return "num:" + n.Number + ":" + idToken(n.Status) + ":" + idToken(n.Cause) + ":" + nonce
}

// idToken returns v if it is at most 16 bytes of letters, digits, '-',
// '_' or '.', and a short hash of it otherwise.
func idToken(v string) string {
	ok := len(v) <= 16
	for i := 0; ok && i < len(v); i++ {
		c := v[i]
		ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.'
	}
	if ok {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return "h" + hex.EncodeToString(sum[:8])
}

// DecodeNumberStatus decodes and validates one numInfo item, the message
// body of the PN_NUMBERS stream. raw is kept, not copied.
func DecodeNumberStatus(raw []byte) (NumberStatus, error) {
	return decodeNumberStatus("", raw)
}

func decodeNumberStatus(path string, raw []byte) (NumberStatus, error) {
	number, status, cause, ok := scanNumInfoItem(raw)
	if !ok {
		// Not a well-formed object (or nested beyond the scanner): the
		// error is encoding/json's.
		var it struct {
			Number json.RawMessage `json:"number"`
		}
		if err := json.Unmarshal(raw, &it); err != nil {
			return NumberStatus{}, FieldErrors{jsonError(path, err)}
		}
		return NumberStatus{}, FieldErrors{fieldErr(path, "nested deeper than %d levels", jsonscan.MaxDepth)}
	}
	n := NumberStatus{Raw: raw}
	var errs FieldErrors
	numberPath := joinPath(path, "number")
	switch v, kind := jsonText(number); kind {
	case textString:
		n.Number = v
		checkID(&errs, numberPath, v, maxNumberLen)
	case textAbsent:
		errs = append(errs, fieldErr(numberPath, "required"))
	default:
		// The identity: a number of another type could be read more ways
		// than one (a JSON number loses its '+'), so it is refused.
		errs = append(errs, fieldErr(numberPath, "got %s, want a string", jsonKindName(number)))
	}
	var kind textKind
	n.Status, kind = jsonText(status)
	switch {
	case kind == textOther:
		n.Anomalies = append(n.Anomalies, Anomaly{Field: "numInfo.status", Kind: AnomalyType})
	case n.Status == "":
		n.Anomalies = append(n.Anomalies, Anomaly{Field: "numInfo.status", Kind: AnomalyMissing})
	case !slices.Contains(NumberStatusCodes, n.Status):
		n.Anomalies = append(n.Anomalies, Anomaly{Field: "numInfo.status", Kind: AnomalyUnknown})
	}
	n.Cause, kind = jsonText(cause)
	switch {
	case kind == textOther:
		n.Anomalies = append(n.Anomalies, Anomaly{Field: "numInfo.cause", Kind: AnomalyType})
	case n.Cause == "":
		// No cause: the number is usable.
	case !slices.Contains(NumberCauses, n.Cause):
		n.Anomalies = append(n.Anomalies, Anomaly{Field: "numInfo.cause", Kind: AnomalyUnknown})
	}
	if len(errs) > 0 {
		return n, errs
	}
	return n, nil
}

// scanNumInfoItem finds the values of number, status and cause in raw,
// which must be exactly one JSON object: keys are matched as encoding/json
// matches them to fields (case-insensitively, the last one winning). A
// value is nil when its key is absent. It reports false when raw is not a
// well-formed object the scanner follows.
func scanNumInfoItem(raw []byte) (number, status, cause []byte, ok bool) {
	s := jsonscan.New(raw)
	ok = s.Members(true, func(key []byte) bool {
		var dst *[]byte
		switch {
		case bytes.EqualFold(key, []byte("number")):
			dst = &number
		case bytes.EqualFold(key, []byte("status")):
			dst = &status
		case bytes.EqualFold(key, []byte("cause")):
			dst = &cause
		}
		_, start, ok := s.Value(1)
		if ok && dst != nil {
			*dst = raw[start:s.Pos():s.Pos()]
		}
		return ok
	})
	return number, status, cause, ok && s.AtEnd()
}

type textKind int

const (
	textAbsent textKind = iota // missing or null
	textString
	textOther // a number, boolean, object or array
)

// jsonText returns a value (well-formed JSON, nil when absent) as text: a
// string's value (decoded as encoding/json does), a number's or boolean's
// literal, "" for null, an object or an array (which no text column
// should hold; the row's raw keeps it).
func jsonText(v []byte) (string, textKind) {
	switch {
	case len(v) == 0 || string(v) == "null":
		return "", textAbsent
	case v[0] == '"':
		s := jsonscan.New(v)
		js, _ := s.Str() // well formed: scanned before
		content := v[js.Start:js.End]
		if js.Escaped || js.High {
			return jsonscan.Unquote(content), textString
		}
		return string(content), textString
	default:
		// A number, bool, object or array: stored as its JSON text.
		return string(v), textOther
	}
}

// jsonKindName names the JSON type of a value for an error.
func jsonKindName(b []byte) string {
	switch {
	case len(b) == 0:
		return "nothing"
	case b[0] == '{':
		return "object"
	case b[0] == '[':
		return "array"
	case b[0] == 't' || b[0] == 'f':
		return "bool"
	default:
		return "number"
	}
}

// numPath returns "numInfo[i]".
func numPath(i int) string { return "numInfo[" + strconv.Itoa(i) + "]" }

// errTooManyNumbers is the error of a numInfo of more than
// MaxNumInfoItems items; decoding stops at the first one over.
func errTooManyNumbers() error {
	return FieldErrors{fieldErr("numInfo", "more than %d items; want 1 to %d", MaxNumInfoItems, MaxNumInfoItems)}
}

// decodeNumStatusPush decodes an X-number status push with bounded work:
// one pass over the top level finds eventType and the items of numInfo
// without allocating, and stops at the comma that opens a 101st item of any
// top-level array that encoding/json may decode as numInfo (its key folds
// to "numInfo"), whatever the eventType, as preScan does for feeLst. Each
// item is decoded from its own bytes, kept as its Raw; an item over limit
// bytes is rejected without being decoded.
//
// It reports false when the body is not a numStatus push (another or no
// eventType, or malformed JSON, which the caller's decoder reports), unless
// only is set: then every body is its to answer, the others being refused.
func decodeNumStatusPush(body []byte, kind Kind, limit int) (p *Push, err error, ok bool) {
	only := kind == NumStatusPush
	s := jsonscan.New(body)
	var (
		eventType  string
		haveType   bool
		items      []span
		numInfo    []byte // numInfo's value when it is not an array
		haveItems  bool
		tooMany    bool
		decodeFail error
	)
	wellFormed := s.Members(true, func(key []byte) bool {
		switch {
		case bytes.EqualFold(key, []byte("eventType")):
			k, start, ok := s.Value(1)
			if !ok {
				return false
			}
			haveType, eventType = true, ""
			if k == jsonscan.KindString {
				if err := json.Unmarshal(body[start:s.Pos()], &eventType); err != nil {
					decodeFail = err
					return false
				}
			}
			return true
		case bytes.EqualFold(key, []byte("numInfo")):
			// A later numInfo replaces an earlier one, as in encoding/json.
			items, numInfo, haveItems = items[:0], nil, false
			if s.Peek() != '[' {
				_, start, ok := s.Value(1)
				if ok {
					numInfo = body[start:s.Pos()]
				}
				return ok
			}
			haveItems = true
			s.Consume('[')
			if s.Consume(']') {
				return true
			}
			for {
				if len(items) == MaxNumInfoItems {
					tooMany = true
					return false
				}
				_, start, ok := s.Value(1)
				if !ok {
					return false
				}
				items = append(items, span{start, s.Pos()})
				if s.Consume(',') {
					continue
				}
				return s.Consume(']')
			}
		default:
			_, _, ok := s.Value(1)
			return ok
		}
	})
	wellFormed = wellFormed && s.AtEnd()
	switch {
	case tooMany:
		return nil, errTooManyNumbers(), true
	case !wellFormed && !only:
		return nil, nil, false
	case !wellFormed:
		if decodeFail == nil {
			var v struct {
				EventType string `json:"eventType"`
			}
			decodeFail = json.Unmarshal(body, &v)
		}
		if decodeFail == nil {
			// Valid JSON the scanner does not follow: nested too deep.
			return nil, FieldErrors{fieldErr("", "nested deeper than %d levels", jsonscan.MaxDepth)}, true
		}
		return nil, FieldErrors{jsonError("", decodeFail)}, true
	case !haveType || eventType != EventTypeNumStatus:
		if !only {
			return nil, nil, false
		}
		return nil, FieldErrors{fieldErr("eventType", "got %q, want %q on this path", redact.Truncate(eventType, 64), EventTypeNumStatus)}, true
	case kind == FeePush:
		return nil, FieldErrors{fieldErr("eventType", "got %q, want %q on this path", EventTypeNumStatus, EventTypeFee)}, true
	case numInfo != nil && string(numInfo) != "null":
		return nil, FieldErrors{fieldErr("numInfo", "got %s, want an array", jsonKindName(numInfo))}, true
	case !haveItems:
		return nil, FieldErrors{fieldErr("numInfo", "required")}, true
	case len(items) == 0:
		return nil, FieldErrors{fieldErr("numInfo", "empty; want 1 to %d items", MaxNumInfoItems)}, true
	}
	p = &Push{EventType: EventTypeNumStatus, Numbers: make([]NumberStatus, 0, len(items))}
	for i, sp := range items {
		raw := body[sp.start:sp.end:sp.end]
		if len(raw) > limit {
			p.Rejected = append(p.Rejected, RejectedRecord{Index: i, Raw: raw, Err: FieldErrors{tooLarge(numPath(i), "numInfo item", len(raw), limit)}})
			continue
		}
		n, err := decodeNumberStatus(numPath(i), raw)
		if err != nil {
			p.Rejected = append(p.Rejected, RejectedRecord{Index: i, Raw: raw, Err: asFieldErrors(err)})
			continue
		}
		p.Numbers = append(p.Numbers, n)
	}
	return p, nil, true
}
