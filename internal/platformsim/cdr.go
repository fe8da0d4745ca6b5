package platformsim

import (
	"math/rand/v2"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// Scenario names how a simulated call went.
type Scenario string

// stage is how far a call got.
type stage int

const (
	stageCallIn stage = iota
	stageCollect
	stageCallOut
	stageAlerting
	stageAnswer
)

// Hang-up reasons (stateCode, ulFailReason) of reference §7.2 that the
// simulator produces.
const (
	codeNormal           = 0
	codeCallerBeforeRing = 7516 // caller hung up before the transfer, e.g. before keying E
	codeCallerRinging    = 7502
	codeRejected         = 7503
	codeNoCallback       = 8019
	codeNoBinding        = 8022
	codeDisplayMode      = 8024
	codeEmptyExtension   = 8033
	codeXUnusable        = 8055
	codeConnectTimeout   = 8035
	codeNotExist         = 8100
	codeNoAnswer         = 8101
	codeBusy             = 8102
)

// callRelDirection values (reference §11.3): who hung up.
const (
	relCaller = 1
	relCallee = 2
)

// outcome is one way a call can end.
type outcome struct {
	scenario Scenario
	weight   int    // relative frequency within its table
	reach    stage  // the last stage the call reaches
	code     int    // disconnect stateCode and CDR ulFailReason
	q850     int    // fwdUnaswRsn and callOutUnaswRsn (reference §7.4)
	sip      int    // sipStatusCode
	desc     string // disconnect stateDesc
	abnormal bool   // no binding identified: direction 2, no subscriptionId
	released int    // callRelDirection: 1 caller hung up, 2 callee, 0 the platform or unknown
	hold     [2]int // seconds from the last stage to the hang-up, min and max
}

// aCalledOutcomes is the mix when someone dials X and keys E. The shares
// are a plausible guess: the platform publishes none.
var aCalledOutcomes = []outcome{
	{scenario: "answered", weight: 70, reach: stageAnswer, desc: "The user releases the call."},
	{scenario: "no-answer", weight: 8, reach: stageAlerting, code: codeNoAnswer, q850: 19, sip: 480, desc: "The callee does not answer.", hold: [2]int{30, 60}},
	{scenario: "busy", weight: 5, reach: stageCallOut, code: codeBusy, q850: 17, sip: 486, desc: "The callee is busy.", hold: [2]int{1, 3}},
	{scenario: "rejected", weight: 3, released: relCallee, reach: stageAlerting, code: codeRejected, q850: 21, sip: 603, desc: "The callee rejects the call.", hold: [2]int{3, 15}},
	{scenario: "caller-hung-up-ringing", weight: 3, released: relCaller, reach: stageAlerting, code: codeCallerRinging, sip: 487, desc: "The caller hangs up after ringing.", hold: [2]int{2, 20}},
	{scenario: "callee-not-exist", weight: 2, reach: stageCallOut, code: codeNotExist, q850: 1, sip: 404, desc: "The callee number does not exist.", hold: [2]int{1, 2}},
	{scenario: "caller-hung-up-before-e", weight: 3, released: relCaller, reach: stageCallIn, code: codeCallerBeforeRing, desc: "The caller hangs up before the call is transferred.", abnormal: true, hold: [2]int{2, 10}},
	{scenario: "no-binding", weight: 4, reach: stageCollect, code: codeNoBinding, desc: "The binding does not exist or has expired.", abnormal: true, hold: [2]int{1, 3}},
	{scenario: "empty-extension", weight: 1, reach: stageCollect, code: codeEmptyExtension, desc: "An empty extension number is received.", abnormal: true, hold: [2]int{1, 3}},
	{scenario: "connect-timeout", weight: 1, reach: stageAlerting, code: codeConnectTimeout, q850: 102, sip: 408, desc: "The platform connection times out.", hold: [2]int{84, 88}},
}

// callbackOutcomes is the mix when A dials X and has a callback record
// (or a callbackNum).
var callbackOutcomes = []outcome{
	{scenario: "callback-answered", weight: 75, reach: stageAnswer, desc: "The user releases the call."},
	{scenario: "callback-no-answer", weight: 10, reach: stageAlerting, code: codeNoAnswer, q850: 19, sip: 480, desc: "The callee does not answer.", hold: [2]int{30, 60}},
	{scenario: "callback-busy", weight: 10, reach: stageCallOut, code: codeBusy, q850: 17, sip: 486, desc: "The callee is busy.", hold: [2]int{1, 3}},
	{scenario: "callback-rejected", weight: 5, released: relCallee, reach: stageAlerting, code: codeRejected, q850: 21, sip: 603, desc: "The callee rejects the call.", hold: [2]int{3, 15}},
}

var (
	// noCallbackRecord: A dials X with nobody to call back and no
	// callbackNum; the platform plays callbackTone and hangs up.
	noCallbackRecord = outcome{scenario: "no-callback-record", reach: stageCallIn, code: codeNoCallback, desc: "No callback record exists.", hold: [2]int{3, 8}}
	// displayModeBlocked: a binding with displayNumMode "1" (show the real
	// caller) is blocked by the operators (reference §2).
	displayModeBlocked = outcome{scenario: "display-mode-blocked", reach: stageCollect, code: codeDisplayMode, desc: "Displaying the real calling number is not allowed.", hold: [2]int{1, 2}}
	// xUnusable: the X number is unusable (a number fault); the platform
	// refuses the call at once.
	xUnusable = outcome{scenario: "x-unusable", reach: stageCallIn, code: codeXUnusable, desc: "The privacy number is unusable.", abnormal: true, hold: [2]int{1, 2}}
)

func pick(rng *rand.Rand, table []outcome) outcome {
	total := 0
	for _, o := range table {
		total += o.weight
	}
	n := rng.IntN(total)
	for _, o := range table {
		if n < o.weight {
			return o
		}
		n -= o.weight
	}
	return table[len(table)-1] // unreachable: n < total
}

// render turns a plan into the call's event pushes and CDR. The JSON
// varies the way real traffic does (reference §5, §6), so receivers are
// exercised on it: the extension as extendNum or extendNumber, integers
// now and then as numeric strings, missing steps as absent keys or empty
// strings, and the undocumented voiceCheckType.
func (g *CallGenerator) render(c *callPlan) Call {
	o := c.outcome
	call := Call{
		SessionID: g.sessionID(c),
		Scenario:  o.scenario,
		Direction: c.direction,
		EndedAt:   c.end,
	}
	call.ICID = g.icid(c.times[stageCallIn])
	if !o.abnormal {
		call.SubscriptionID = c.binding.SubscriptionID
	}
	x := c.binding.VirtualNum
	display := x // displayNumMode "0": the far leg sees X

	// Events: callin and collectInfo are seen from the caller's side, the
	// rest from the forwarded leg.
	ev := func(typ string, at time.Time, fill func(o *jsonObject)) {
		var si jsonObject
		si.str("timestamp", at.Format(privatenumber.TimeLayout))
		si.str("sessionId", call.SessionID)
		fill(&si)
		if call.SubscriptionID != "" && typ != privatenumber.EventCallIn {
			si.str("subscriptionId", call.SubscriptionID) // AXE callin has none
		}
		var body jsonObject
		body.str("eventType", typ)
		body.raw("statusInfo", si.bytes())
		call.Events = append(call.Events, Event{Type: typ, Time: at, Body: body.bytes()})
	}
	callerSide := func(o *jsonObject) { o.str("caller", c.caller); o.str("called", x) }
	legSide := func(o *jsonObject) { o.str("caller", display); o.str("called", c.dst) }

	ev(privatenumber.EventCallIn, c.times[stageCallIn], func(o *jsonObject) {
		callerSide(o)
		if c.direction == privatenumber.DirectionCallback && c.binding.UserData != "" {
			o.str("userData", c.binding.UserData)
		}
	})
	if c.direction != privatenumber.DirectionCallback && o.reach >= stageCollect {
		ev(privatenumber.EventCollectInfo, c.times[stageCollect], func(o *jsonObject) {
			callerSide(o)
			o.str("digitInfo", c.digits)
		})
	}
	legEvents := [...]string{stageCallOut: privatenumber.EventCallOut, stageAlerting: privatenumber.EventAlerting, stageAnswer: privatenumber.EventAnswer}
	for s := stageCallOut; s <= o.reach; s++ {
		ev(legEvents[s], c.times[s], legSide)
	}
	asString := g.rng.IntN(10) == 0 // some integrations send integers as strings
	// callDuration and callRelDirection are sent only to apps that asked
	// for them (reference §11.3): half the calls carry both.
	optional := g.rng.IntN(2) == 0
	released := o.released
	if o.reach == stageAnswer {
		released = relCaller + g.rng.IntN(2) // either side ends a talk
	}
	ev(privatenumber.EventDisconnect, c.end, func(obj *jsonObject) {
		if o.reach >= stageCallOut {
			legSide(obj)
		} else {
			callerSide(obj)
		}
		obj.num("stateCode", o.code, asString)
		obj.str("stateDesc", o.desc)
		if optional && released != 0 {
			obj.num("callRelDirection", released, asString)
		}
	})

	call.Fee = g.renderFee(c, &call, asString, optional)
	return call
}

// renderFee writes the CDR with the fields of reference §6 in the order
// of the platform's samples.
func (g *CallGenerator) renderFee(c *callPlan, call *Call, asString, optional bool) []byte {
	o := c.outcome
	x := c.binding.VirtualNum
	var f jsonObject
	f.num("direction", c.direction, asString)
	f.str("spId", g.cfg.SpID)
	f.str("appKey", g.cfg.AppKey)
	f.str("icid", call.ICID)
	f.str("bindNum", x)
	f.str("sessionId", call.SessionID)
	f.str("subscriptionId", call.SubscriptionID)
	f.str("callerNum", c.caller)
	f.str("calleeNum", x)
	if o.reach >= stageCallOut {
		f.str("fwdDisplayNum", x)
		f.str("fwdDstNum", c.dst)
	}
	emptyMissing := g.rng.IntN(10) == 0 // a missing step as "" instead of an absent key
	times := [...]string{stageCallIn: "callInTime", stageCallOut: "fwdStartTime", stageAlerting: "fwdAlertingTime", stageAnswer: "fwdAnswerTime"}
	for s := stageCallIn; s <= stageAnswer; s++ {
		switch {
		case times[s] == "":
		case s <= o.reach:
			f.str(times[s], c.times[s].Format(privatenumber.TimeLayout))
		case emptyMissing:
			f.str(times[s], "")
		}
	}
	f.str("callEndTime", c.end.Format(privatenumber.TimeLayout))
	if optional {
		talk := 0 // whole seconds from the answer to the end
		if o.reach == stageAnswer {
			talk = int(c.end.Sub(c.times[stageAnswer]) / time.Second)
		}
		f.num("callDuration", talk, asString)
	}
	if o.code != codeNormal {
		f.str("failTime", c.end.Format(privatenumber.TimeLayout))
	}
	f.num("fwdUnaswRsn", o.q850, asString)
	f.num("ulFailReason", o.code, asString)
	f.num("sipStatusCode", o.sip, asString)
	f.num("callOutUnaswRsn", o.q850, asString)
	if c.recStart.IsZero() {
		f.num("recordFlag", 0, asString)
	} else {
		rec := &Recording{ICID: call.ICID, Domain: g.cfg.RecordDomain, ObjectName: g.objectName(c.recStart),
			Start: c.recStart, Duration: c.end.Sub(c.recStart)}
		direct := g.rng.Float64() < g.cfg.EmptyDomainShare
		if direct {
			rec.Domain = ""
		}
		f.num("recordFlag", 1, asString)
		f.str("recordStartTime", c.recStart.Format(privatenumber.TimeLayout))
		f.str("recordDomain", rec.Domain)
		f.str("recordBucketName", bucketName(g.cfg.AppKey))
		f.str("recordObjectName", rec.ObjectName)
		if direct {
			f.str("recordFileDownloadUrl", g.cfg.DirectURL(*rec))
		}
		call.Recording = rec
	}
	ttsPlays := 0
	if o.code == codeNoCallback {
		ttsPlays = 1 // the callbackTone
	}
	f.num("ttsPlayTimes", ttsPlays, asString)
	f.num("ttsTransDuration", 0, asString)
	f.str("mptyId", call.SubscriptionID)
	f.str("serviceType", "005") // the AXE sample's value; the mapping is UNCONFIRMED
	f.str("hostName", hostName(g.seq))
	if !o.abnormal {
		// The field list names it extendNum, the AXE sample sends extendNumber.
		key := "extendNum"
		if g.rng.IntN(10) < 3 {
			key = "extendNumber"
		}
		f.str(key, c.binding.ExtendNum)
	}
	if g.rng.IntN(10) < 3 {
		f.num("voiceCheckType", 0, false) // undocumented, seen in 2022 traffic
	}
	return f.bytes()
}

// jsonObject writes a JSON object whose keys keep their order, as the
// platform's samples show them, without any error path: its values are
// only strings, integers and other objects.
type jsonObject struct{ buf []byte }

func (o *jsonObject) key(k string) {
	if len(o.buf) == 0 {
		o.buf = append(o.buf, '{')
	} else {
		o.buf = append(o.buf, ',')
	}
	o.buf = appendJSONString(o.buf, k)
	o.buf = append(o.buf, ':')
}

func (o *jsonObject) str(k, v string) { o.key(k); o.buf = appendJSONString(o.buf, v) }

// num writes an integer, as a numeric string when quoted is set.
func (o *jsonObject) num(k string, v int, quoted bool) {
	o.key(k)
	if quoted {
		o.buf = append(o.buf, '"')
	}
	o.buf = strconv.AppendInt(o.buf, int64(v), 10)
	if quoted {
		o.buf = append(o.buf, '"')
	}
}

func (o *jsonObject) raw(k string, v []byte) { o.key(k); o.buf = append(o.buf, v...) }

func (o *jsonObject) bytes() []byte {
	if len(o.buf) == 0 {
		return []byte("{}")
	}
	return append(o.buf, '}')
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD (ranging over a string yields utf8.RuneError for it), as
// encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}
