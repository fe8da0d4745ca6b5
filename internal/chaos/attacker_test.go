package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/axeapi"
)

// maxBody is ingest's default PN_INGEST_MAX_BODY_BYTES: the attack's "1 MiB"
// bodies are exactly that, the largest ingest must read.
const maxBody = 1 << 20

// Markers in every identity the attacker makes up: a record holding one
// must never be stored. forgedMark is in what an attacker without the
// secret sends; worstMark in the worst bodies signed with the secret.
const (
	forgedMark = "forged-"
	worstMark  = "worst-"
)

// attackRow is one kind of attack request and what came of it.
type attackRow struct {
	name   string
	group  string // a (unsigned 1 MiB), b (replayed headers), c (worst bodies)
	signed bool   // signed with the app secret (c only)

	mu         sync.Mutex
	requests   int
	answers    map[int]int // HTTP status → count; 0 for no answer
	firstErr   string      // of the first request without an answer
	maxLatency time.Duration

	// Filled from PN_REJECTED after the attack.
	keptMsgs  int
	keptBytes int64
}

func (row *attackRow) record(status int, took time.Duration, err error) {
	row.mu.Lock()
	defer row.mu.Unlock()
	row.requests++
	row.answers[status]++
	if err != nil && row.firstErr == "" {
		row.firstErr = err.Error()
	}
	row.maxLatency = max(row.maxLatency, took)
}

// attacker sends hostile requests straight to the ingest replicas, from a
// fixed number of goroutines, for a fixed time, on loopback only.
type attacker struct {
	targets []string // ingest base URLs
	signer  aksk.Signer
	client  *http.Client
	rows    []*attackRow
	other   kept          // PN_REJECTED messages of no row, filled after the attack
	next    atomic.Uint64 // round-robin over targets
	seq     atomic.Uint64 // makes every body unique

	// captured holds the headers of real pushes ingest answered 200, for
	// the replays; capture fills it from the tap.
	mu       sync.Mutex
	captured []http.Header
	capCond  chan struct{} // closed and replaced when a header arrives
}

func newAttacker(targets []string, signer aksk.Signer) *attacker {
	a := &attacker{
		targets: targets,
		signer:  signer,
		client: &http.Client{
			Timeout:   15 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 8, ResponseHeaderTimeout: 15 * time.Second},
		},
		capCond: make(chan struct{}),
	}
	return a
}

func (a *attacker) row(name, group string, signed bool) *attackRow {
	row := &attackRow{name: name, group: group, signed: signed, answers: map[int]int{}}
	a.rows = append(a.rows, row)
	return row
}

// capture is the tap's observer: it keeps the headers of the pushes ingest
// stored, the most recent first to be replayed.
func (a *attacker) capture(_ string, h http.Header, status int) {
	if status != http.StatusOK || (h.Get(aksk.HeaderAKSK) == "" && h.Get(aksk.HeaderWSSE) == "") {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.captured) >= 256 {
		a.captured = a.captured[1:]
	}
	a.captured = append(a.captured, h)
	close(a.capCond)
	a.capCond = make(chan struct{})
}

// takeCaptured returns the latest captured header not replayed yet,
// waiting for one until ctx is done.
func (a *attacker) takeCaptured(ctx context.Context) (http.Header, bool) {
	for {
		a.mu.Lock()
		if n := len(a.captured); n > 0 {
			h := a.captured[n-1]
			a.captured = a.captured[:n-1]
			a.mu.Unlock()
			return h, true
		}
		wait := a.capCond
		a.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, false
		case <-wait:
		}
	}
}

// send posts body (prefix then a shared tail, never modified) to the next
// replica, or to target when given, and records the answer in row.
func (a *attacker) send(ctx context.Context, row *attackRow, target, path string, header http.Header, prefix, tail []byte) {
	if target == "" {
		target = a.targets[a.next.Add(1)%uint64(len(a.targets))]
	}
	size := int64(len(prefix) + len(tail))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target+path, io.MultiReader(bytes.NewReader(prefix), bytes.NewReader(tail)))
	if err != nil {
		row.record(0, 0, err)
		return
	}
	req.ContentLength = size
	if header != nil {
		req.Header = header
	}
	req.Header.Set("Content-Type", axeapi.ContentType)
	req.Header.Set("X-Request-Id", fmt.Sprintf("atk%d-%d", a.index(row), a.seq.Load()))
	if row.signed {
		a.signer.Sign(req.Header)
	}
	start := time.Now()
	resp, err := a.client.Do(req)
	if err != nil {
		row.record(0, time.Since(start), err)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	row.record(resp.StatusCode, time.Since(start), nil)
}

func (a *attacker) index(row *attackRow) int {
	for i, r := range a.rows {
		if r == row {
			return i
		}
	}
	return -1
}

// rowOf returns the row an X-Request-Id names, nil for none.
func (a *attacker) rowOf(requestID string) *attackRow {
	var i, n int
	if _, err := fmt.Sscanf(requestID, "atk%d-%d", &i, &n); err != nil || i < 0 || i >= len(a.rows) {
		return nil
	}
	return a.rows[i]
}

// run attacks for d from the goroutines it starts, and returns when all
// of them have finished their last request.
func (a *attacker) run(ctx context.Context, d time.Duration) {
	until := time.Now().Add(d)
	running := func() bool { return ctx.Err() == nil && time.Now().Before(until) }
	// Waiting for a captured header ends with the attack; requests in
	// flight then finish (ctx).
	waitCtx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	var wg sync.WaitGroup
	goN := func(n int, f func()) {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for running() {
					f()
				}
			}()
		}
	}

	// a) Unsigned bodies of the largest size ingest reads, every one
	// different (a refusal kept whole is not deduplicated away), some with
	// 48 KiB of extra headers, and bodies twice the limit.
	mib := a.row("unsigned 1 MiB", "a", false)
	mibHdr := a.row("unsigned 1 MiB + 48 KiB headers", "a", false)
	two := a.row("unsigned 2 MiB", "a", false)
	tail1, tail2 := forgedPadTail(maxBody), forgedPadTail(2*maxBody)
	junk := http.Header{}
	for i := range 24 {
		junk.Set(fmt.Sprintf("X-Pad-%02d", i), strings.Repeat("h", 2000))
	}
	var aTurn atomic.Uint64
	goN(4, func() {
		n := a.seq.Add(1)
		switch aTurn.Add(1) % 4 {
		case 0, 1:
			a.send(ctx, mib, "", privatenumberPathFees, nil, forgedPadPrefix(n), tail1)
		case 2:
			a.send(ctx, mibHdr, "", privatenumberPathFees, junk.Clone(), forgedPadPrefix(n), tail1)
		default:
			a.send(ctx, two, "", privatenumberPathFees, nil, forgedPadPrefix(n), tail2)
		}
	})

	// b) The headers of real pushes, replayed with forged bodies to every
	// replica, each replica its own forged record.
	rfee := a.row("replayed header + forged CDR", "b", false)
	revent := a.row("replayed header + forged event", "b", false)
	goN(2, func() {
		h, ok := a.takeCaptured(waitCtx)
		if !ok {
			return
		}
		for _, target := range a.targets {
			n := a.seq.Add(1)
			id := fmt.Sprintf("%sr-%d", forgedMark, n)
			if n%2 == 0 {
				a.send(ctx, rfee, target, privatenumberPathFees, h.Clone(), nil, feePush(id, time.Now()))
			} else {
				a.send(ctx, revent, target, privatenumberPathEvents, h.Clone(), nil, eventPush(id, time.Now()))
			}
		}
	})

	// c) The worst bodies to decode, unsigned (refused before decoding,
	// or not) and signed with the app secret, which reach the decoder. The
	// signed ones are at most 4 a second: each is a legitimate 400 that
	// keeps its body.
	type worstRows struct {
		w                worstBody
		unsigned, signed *attackRow
	}
	var worst []worstRows
	for _, w := range worstBodies() {
		worst = append(worst, worstRows{w, a.row("worst, unsigned: "+w.name, "c", false), a.row("worst, signed: "+w.name, "c", true)})
	}
	signedTick := time.NewTicker(250 * time.Millisecond)
	defer signedTick.Stop()
	var cTurn atomic.Uint64
	goN(2, func() {
		wr := worst[cTurn.Add(1)%uint64(len(worst))]
		n := a.seq.Add(1)
		a.send(ctx, wr.unsigned, "", wr.w.path, nil, uniquePrefix('u', n), wr.w.body[1:])
		select {
		case <-signedTick.C:
			a.send(ctx, wr.signed, "", wr.w.path, nil, uniquePrefix('s', n), wr.w.body[1:])
		default:
		}
	})
	wg.Wait()
	a.client.CloseIdleConnections()
}

// Paths of ingest the attacker posts to.
const (
	privatenumberPathFees   = "/v1/notifications/fees"
	privatenumberPathEvents = "/v1/notifications/events"
	privatenumberPathAny    = "/v1/notifications"
)

const pushTime = "2006-01-02 15:04:05"

// uniquePrefix opens a JSON object with a key that makes the body unique:
// `{"n":"u000000000000042",`; the body continues without its `{`.
func uniquePrefix(kind byte, n uint64) []byte {
	return fmt.Appendf(nil, `{"n":"%c%015d",`, kind, n)
}

// forgedPadPrefix and forgedPadTail make a fee push of exactly size bytes:
// one forged CDR padded with a long string; n makes it unique.
func forgedPadPrefix(n uint64) []byte {
	return fmt.Appendf(nil, `{"eventType":"fee","feeLst":[{"icid":"%sa-%015d","sessionId":"%sa-%015d","callInTime":"2026-11-27 00:00:00","pad":"`,
		forgedMark, n, forgedMark, n)
}

func forgedPadTail(size int) []byte {
	head := len(forgedPadPrefix(0))
	const end = `"}]}`
	return []byte(strings.Repeat("x", size-head-len(end)) + end)
}

// cdr is a complete, valid CDR with the given icid and sessionId.
func cdr(icid, sessionID string, at time.Time) map[string]any {
	at = at.UTC()
	return map[string]any{
		"direction": 0, "spId": "sp", "appKey": appKey, "icid": icid, "bindNum": "+8613800000001",
		"sessionId": sessionID, "subscriptionId": "sub-" + icid, "callerNum": "+8613800000002",
		"calleeNum": "+8613800000001", "fwdDisplayNum": "+8613800000001", "fwdDstNum": "+8613800000003",
		"callInTime": at.Add(-time.Minute).Format(pushTime), "fwdStartTime": at.Add(-50 * time.Second).Format(pushTime),
		"callEndTime": at.Format(pushTime), "fwdUnaswRsn": 0, "ulFailReason": 0, "sipStatusCode": 0,
		"callOutUnaswRsn": 0, "recordFlag": 0, "ttsPlayTimes": 0, "ttsTransDuration": 0,
		"serviceType": "005", "hostName": "callenabler246.huaweicaas.com",
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of plain values
	}
	return b
}

// feePush is a valid fee push of one forged CDR.
func feePush(id string, at time.Time) []byte {
	return mustJSON(map[string]any{"eventType": "fee", "feeLst": []any{cdr(id, id, at)}})
}

// eventPush is a valid callin event of a forged session.
func eventPush(id string, at time.Time) []byte {
	return mustJSON(map[string]any{"eventType": "callin", "statusInfo": map[string]any{
		"sessionId": id, "timestamp": at.UTC().Format(pushTime), "caller": "+8613800000002", "called": "+8613800000001",
	}})
}

// worstBody is a body built to cost a decoder the most per byte.
type worstBody struct {
	name string
	path string
	body []byte // a JSON object, at most maxBody-32 bytes: room for uniquePrefix
}

// worstBodies are the worst bodies to decode that the attack sends, each
// near the body limit but the oversized record.
func worstBodies() []worstBody {
	const size = maxBody - 32
	at := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	fill := func(head, unit, end string) []byte {
		n := (size - len(head) - len(end)) / len(unit)
		return []byte(head + strings.Repeat(unit, n) + end)
	}
	withField := func(icid, field string) []byte {
		rec := mustJSON(cdr(icid, icid, at))
		return []byte(`{"eventType":"fee","feeLst":[` + string(rec[:len(rec)-1]) + `,` + field + `}]}`)
	}

	var out []worstBody
	// Hundreds of thousands of empty records: the list limit must refuse
	// it at the 51st, not after decoding them all.
	out = append(out, worstBody{"many tiny records", privatenumberPathAny, fill(`{"eventType":"fee","feeLst":[{}`, `,{}`, `]}`)})

	// Deep nesting inside a record.
	head := withField(worstMark+"deep", `"x":`)
	head = head[:len(head)-len(`}]}`)]
	depth := (size - len(head) - len(`}]}`)) / 2
	out = append(out, worstBody{"deep nesting", privatenumberPathFees,
		[]byte(string(head) + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}]}`)})

	// One huge string of escapes, each of which a decoder must unescape.
	pre := withField(worstMark+"str", `"pad":"`)
	pre = pre[:len(pre)-len(`}]}`)]
	out = append(out, worstBody{"huge escaped string", privatenumberPathFees, fill(string(pre), `\u00e9`, `"}]}`)})

	// Many distinct keys in one record.
	var b strings.Builder
	keys := withField(worstMark+"keys", `"k0":0`)
	b.Write(keys[:len(keys)-len(`}]}`)])
	for i := 1; b.Len() < size-32; i++ {
		fmt.Fprintf(&b, `,"k%d":%d`, i, i)
	}
	b.WriteString(`}]}`)
	out = append(out, worstBody{"many keys", privatenumberPathFees, []byte(b.String())})

	// Valid CDRs far beyond 50.
	var recs []any
	for i, n := 0, 0; n < size-4096; i++ {
		c := cdr(fmt.Sprintf("%s51-%05d", worstMark, i), fmt.Sprintf("%s51-%05d", worstMark, i), at)
		recs = append(recs, c)
		n += len(mustJSON(c)) + 1
	}
	out = append(out, worstBody{fmt.Sprintf("%d valid records", len(recs)), privatenumberPathFees,
		mustJSON(map[string]any{"eventType": "fee", "feeLst": recs})})

	// One valid CDR above the 64 KiB record limit, alone in its push.
	out = append(out, worstBody{"one 100 KiB record", privatenumberPathFees,
		withField(worstMark+"big", `"pad":"`+strings.Repeat("y", 100<<10)+`"`)})

	// Hundreds of thousands of empty X-number states on the call-status
	// path: refused at the 101st item.
	out = append(out, worstBody{"many tiny numInfo items", privatenumberPathEvents, fill(`{"eventType":"numStatus","numInfo":[{}`, `,{}`, `]}`)})

	// One X-number state above the 64 KiB record limit, alone in its push.
	out = append(out, worstBody{"one 100 KiB numInfo item", privatenumberPathEvents,
		[]byte(`{"eventType":"numStatus","numInfo":[{"number":"+8617000000099","status":"9","pad":"` + strings.Repeat("y", 100<<10) + `"}]}`)})

	// A call event of nearly 1 MiB.
	ev := eventPush(worstMark+"event", at)
	out = append(out, worstBody{"1 MiB event", privatenumberPathEvents,
		fill(string(ev[:len(ev)-2])+`,"pad":"`, "z", `"}}`)})
	return out
}
