package platformsim

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// Call is one simulated AXE call: its call events in the order they
// happened and its CDR, consistent with each other (same sessionId, same
// times, the disconnect's stateCode equal to the CDR's ulFailReason).
type Call struct {
	ICID           string
	SessionID      string
	Scenario       Scenario
	Direction      int    // privatenumber.DirectionACalled, DirectionCallback or DirectionAbnormal
	SubscriptionID string // "" when no binding was found
	EndedAt        time.Time

	// Events are the call event pushes, one push body each.
	Events []Event
	// Fee is the CDR as the platform puts it in a fee push's feeLst: a
	// JSON object, not a whole push.
	Fee []byte
	// Recording is set when the CDR has recordFlag 1.
	Recording *Recording
}

// Event is one call event push.
type Event struct {
	Type string
	Time time.Time
	Body []byte // {"eventType":…,"statusInfo":{…}}
}

// Recording is the audio of a recorded call, as the CDR names it.
type Recording struct {
	ICID       string
	Domain     string // recordDomain; "" when the CDR carries recordFileDownloadUrl instead
	ObjectName string // recordObjectName, the fileName of the recording API
	Start      time.Time
	Duration   time.Duration // whole seconds, from recordStartTime to callEndTime
}

// CallConfig configures a CallGenerator.
type CallConfig struct {
	// Seed makes the sequence of calls reproducible.
	Seed uint64
	// AppKey and SpID fill the CDR's appKey and spId.
	AppKey string
	SpID   string
	// RecordDomain is the recordDomain of recorded calls.
	RecordDomain string
	// EmptyDomainShare is the share of recorded CDRs that carry an empty
	// recordDomain and a recordFileDownloadUrl instead (reference §4).
	EmptyDomainShare float64
	// DirectURL returns the recordFileDownloadUrl of such a recording.
	// Required when EmptyDomainShare > 0.
	DirectURL func(Recording) string
	// Unusable, if set, reports whether an X number is unusable now (a
	// number fault): every call through it fails at callin with 8055.
	Unusable func(x string) bool
}

// CallGenerator produces AXE calls on a set of bindings, deterministically:
// the same seed and the same sequence of Next arguments yield the same
// calls. It remembers callback records (who last reached each A) so that
// A's own calls to X go back to that party, as the platform does. It is
// not safe for concurrent use: one goroutine owns it.
type CallGenerator struct {
	cfg       CallConfig
	rng       *rand.Rand
	seq       uint64
	callbacks map[string]callbackRecord // by subscriptionId
}

type callbackRecord struct {
	party   string
	expires time.Time // zero = as long as the binding
}

// NewCallGenerator returns a generator; cfg must be valid.
func NewCallGenerator(cfg CallConfig) *CallGenerator {
	return &CallGenerator{
		cfg:       cfg,
		rng:       rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		callbacks: make(map[string]callbackRecord),
	}
}

// Next returns a call on one of bindings that ended at now (its times lie
// before now). It returns false when bindings is empty.
func (g *CallGenerator) Next(bindings []Binding, now time.Time) (Call, bool) {
	if len(bindings) == 0 {
		return Call{}, false
	}
	g.seq++
	b := bindings[g.rng.IntN(len(bindings))]
	var c *callPlan
	if g.rng.IntN(100) < 80 {
		c = g.planACalled(b, now)
	} else {
		c = g.planCallback(b, now)
	}
	return g.render(c), true
}

// callPlan is a call decided but not yet rendered as JSON.
type callPlan struct {
	binding   Binding
	outcome   outcome
	caller    string // who dialled X
	dst       string // the far leg: A when someone called A, B on a callback
	digits    string // what the caller keyed (A-called only)
	times     [stageAnswer + 1]time.Time
	end       time.Time
	direction int
	recStart  time.Time // zero when not recorded
}

func (g *CallGenerator) planACalled(b Binding, now time.Time) *callPlan {
	o := pick(g.rng, aCalledOutcomes)
	if b.DisplayNumMode == "1" {
		o = displayModeBlocked // operator rule: real-caller display blocks the call
	}
	if g.unusable(b) {
		o = xUnusable
	}
	c := &callPlan{binding: b, outcome: o, caller: g.mobile(), dst: b.BindNum, digits: b.ExtendNum, direction: privatenumber.DirectionACalled}
	if o.abnormal {
		c.direction = privatenumber.DirectionAbnormal
		c.digits = g.unboundExtension(b)
		if o.code == codeEmptyExtension {
			c.digits = ""
		}
	}
	g.schedule(c, now, true)
	if o.reach >= stageCallOut && !o.abnormal {
		// The caller reached A through X: A's next call to X goes back to them.
		var exp time.Time
		if d := b.CallbackLifetime(); d > 0 {
			exp = c.end.Add(d)
		}
		g.callbacks[b.SubscriptionID] = callbackRecord{party: c.caller, expires: exp}
	}
	return c
}

func (g *CallGenerator) planCallback(b Binding, now time.Time) *callPlan {
	c := &callPlan{binding: b, caller: b.BindNum, direction: privatenumber.DirectionCallback}
	rec, ok := g.callbacks[b.SubscriptionID]
	switch {
	case ok && (rec.expires.IsZero() || now.Before(rec.expires)):
		c.dst, c.outcome = rec.party, pick(g.rng, callbackOutcomes)
	case b.CallbackNum != "":
		c.dst, c.outcome = b.CallbackNum, pick(g.rng, callbackOutcomes)
	default:
		c.outcome = noCallbackRecord // the platform plays callbackTone and hangs up
	}
	if g.unusable(b) {
		c.outcome = xUnusable
	}
	g.schedule(c, now, false)
	return c
}

func (g *CallGenerator) unusable(b Binding) bool {
	return g.cfg.Unusable != nil && g.cfg.Unusable(b.VirtualNum)
}

// schedule lays out the call's stage times so that it ends at now, and
// decides whether it is recorded.
func (g *CallGenerator) schedule(c *callPlan, now time.Time, collect bool) {
	var off [stageAnswer + 1]int // seconds since callin
	t := 0
	for s := stageCollect; s <= c.outcome.reach; s++ {
		switch s {
		case stageCollect:
			if !collect {
				off[s] = t
				continue
			}
			t += g.between(3, 8) // prompt, then keying E
		case stageCallOut:
			t += g.between(0, 1)
		case stageAlerting:
			t += g.between(1, 4)
		case stageAnswer:
			t += g.between(2, 20)
		}
		off[s] = t
	}
	hold := g.between(c.outcome.hold[0], c.outcome.hold[1])
	if c.outcome.reach == stageAnswer {
		hold = g.talkSeconds()
	}
	end := t + hold
	base := now.UTC().Truncate(time.Second).Add(-time.Duration(end) * time.Second)
	for s := stageCallIn; s <= c.outcome.reach; s++ {
		c.times[s] = base.Add(time.Duration(off[s]) * time.Second)
	}
	c.end = base.Add(time.Duration(end) * time.Second)
	// Calls under 3 s produce no recording (reference §1); the binding's
	// recordFlag decides the rest.
	if c.outcome.reach == stageAnswer && hold >= 3 && c.binding.RecordFlag {
		c.recStart = c.times[stageAnswer].Add(time.Duration(g.between(0, 1)) * time.Second)
	}
}

// talkSeconds draws a conversation length: one call in ten is shorter
// than 3 s (a hang-up on hearing a voice), the rest about 1.5 min on
// average, capped at 30 min.
func (g *CallGenerator) talkSeconds() int {
	if g.rng.IntN(10) == 0 {
		return g.between(1, 2)
	}
	return min(3+int(g.rng.ExpFloat64()*90), 1800)
}

func (g *CallGenerator) between(lo, hi int) int { return lo + g.rng.IntN(hi-lo+1) }

// mobile returns a mainland China mobile number in E.164.
func (g *CallGenerator) mobile() string {
	prefixes := [...]string{"130", "133", "135", "137", "138", "139", "150", "151", "158", "177", "186", "188"}
	return fmt.Sprintf("+86%s%08d", prefixes[g.rng.IntN(len(prefixes))], g.rng.IntN(100_000_000))
}

// unboundExtension returns digits of E's length that are not b's own.
func (g *CallGenerator) unboundExtension(b Binding) string {
	n := max(len(b.ExtendNum), 1)
	limit := 1
	for range n {
		limit *= 10
	}
	for {
		e := fmt.Sprintf("%0*d", n, g.rng.IntN(limit))
		if e != b.ExtendNum {
			return e
		}
	}
}

// icid mimics the platform's "<32 hex>.<10 digits>.<9 digits>.<digit>".
// The sequence number makes it unique within a run, the call-in time
// across runs.
func (g *CallGenerator) icid(callIn time.Time) string {
	return fmt.Sprintf("%016x%016x.%d.%d.%d", g.rng.Uint64(), g.rng.Uint64(), callIn.Unix(), g.seq, g.rng.IntN(10))
}

// sessionID uses one of the two formats seen in the wild, unique by the
// sequence number.
func (g *CallGenerator) sessionID(c *callPlan) string {
	callIn := c.times[stageCallIn]
	if g.rng.IntN(4) == 0 {
		return fmt.Sprintf("%s_%s_4_%08x_%d_%d_1_0", c.caller, c.binding.VirtualNum, g.rng.Uint32(), g.seq, g.between(100, 999))
	}
	return fmt.Sprintf("%d_%d_4294967295_%s@%s", 1200+g.rng.IntN(10), g.seq, callIn.Format("20060102150405"), hostName(g.seq))
}

// objectName mimics "22051313251812007961340.wav": the recording's start
// as yyMMddHHmmss, then eleven digits, here from the sequence number.
func (g *CallGenerator) objectName(start time.Time) string {
	return start.Format("060102150405") + fmt.Sprintf("%011d", g.seq%100_000_000_000) + ".wav"
}

func hostName(seq uint64) string {
	return "callenabler" + strconv.Itoa(245+int(seq%2)) + ".huaweicaas.com"
}

func bucketName(appKey string) string { return "sp-" + strings.ToLower(appKey) }
