package chaos

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/localserver"
	"github.com/pnstream/pnstream/internal/streams"
)

// Bounds the attack run must hold.
const (
	// keptPerRequest is the most PN_REJECTED may grow per attack request
	// not signed with the app secret: the headers without credentials and
	// the first 4 KiB of the body, with room for the reason and framing.
	keptPerRequest = 8 << 10
	// keptPerSigned is the bound of a validly signed request refused as
	// invalid (400): its body is kept so that nothing is lost, so at most
	// the largest body ingest reads plus the same framing.
	keptPerSigned = maxBody + keptPerRequest
	// peakRSSLimit bounds each ingest's peak resident memory (half of its
	// 512 Mi Kubernetes limit).
	peakRSSLimit = 256 << 20
	// defaultAttackMaxPayload is nats-server's max_payload in the attack
	// run: raised the way an operator may raise it, so that what the edge
	// keeps of a refusal is bounded by ingest, not by NATS.
	defaultAttackMaxPayload = "8MB"
)

// attackMaxPayload is PN_CHAOS_NATS_MAX_PAYLOAD, default 8MB ("" or
// "default" for nats-server's own, 1 MB).
func attackMaxPayload() string {
	switch v := os.Getenv("PN_CHAOS_NATS_MAX_PAYLOAD"); v {
	case "":
		return defaultAttackMaxPayload
	case "default":
		return ""
	default:
		return v
	}
}

// attackDuration is how long the attacker sends: PN_CHAOS_ATTACK, default
// 30s.
func attackDuration(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv("PN_CHAOS_ATTACK")
	if v == "" {
		return 30 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second {
		t.Fatalf("PN_CHAOS_ATTACK=%q: want a duration of at least 1s", v)
	}
	return d
}

// TestAttackStoresNothingForgedLosesNothing runs three ingest replicas
// (real binaries on one nats-server, every stream
// provisioned by the recorder) behind the simulator's steady traffic,
// spread round-robin by the tap, while an attacker on loopback sends, for
// the attack duration: unsigned bodies of 1 MiB (some with 48 KiB of
// headers) and 2 MiB as fast as it can; the headers of real pushes
// (captured at the tap once ingest stored them) replayed with forged CDRs
// and events to every replica; and the worst bodies to decode, unsigned
// and signed with the app secret. It prints a table and fails unless every
// real push is stored exactly once, no forged or worst-body record is
// stored (ClickHouse, PN_FEES, PN_EVENTS), every attack request is refused
// (401/413 unsigned, 400/413 signed; never 200 or 503), PN_REJECTED grew by at most 8 KiB per unsigned attack request (and
// by at most the body plus 8 KiB per signed one), and each ingest's peak
// RSS stayed under 256 MiB.
func TestAttackStoresNothingForgedLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("the attack suite takes minutes; run without -short (make test-chaos)")
	}
	started := time.Now()
	attack := attackDuration(t)
	const callRate = 8
	r := newRig(t, setup{
		nodes:     1,
		sync:      os.Getenv(syncEnv),
		dupWindow: time.Minute,
		callRate:  callRate,
		// The load runs on some 15 s past the attack.
		maxCalls: int(callRate * (attack + 15*time.Second).Seconds()),
		// Re-pushes at 0.2 s to 54 s: the last ones after the attack.
		timeScale:  0.003,
		maxPayload: attackMaxPayload(),
	})
	r.startRecorder() // provisions the streams (the nonce stream too)
	replicas := r.startIngestReplicas(3)
	var urls []string
	for _, rp := range replicas {
		urls = append(urls, "http://"+rp.addr)
	}
	a := newAttacker(urls, aksk.Signer{AppKey: appKey, AppSecret: r.appSecret})
	r.tap.spread(a.capture, urls...)
	r.startSimulator()
	r.waitFor("the first rows", time.Minute, func() bool { return r.count("SELECT count() FROM fee_records") > 0 })

	before := r.streamState(streams.Rejected)
	t0 := time.Now()
	a.run(t.Context(), attack)
	attackTook := time.Since(t0)
	after := r.streamState(streams.Rejected)
	rss := map[string]int64{}
	r.notePeakRSS(replicas, rss)
	signed := r.attributeRejected(a, before.LastSeq, after.LastSeq)
	r.checkReplicasAlive(replicas)

	settled := r.settleAll(3 * time.Minute)
	o := r.verify()
	r.notePeakRSS(replicas, rss) // again: the peak may come while draining
	forged := r.storedWith(forgedMark)
	worst := r.storedWith(worstMark)

	rep := attackReport{
		rows: a.rows, other: a.other, took: attackTook, growth: int64(after.Bytes) - int64(before.Bytes),
		msgs: after.LastSeq - before.LastSeq, signed: signed, rss: rss, forged: forged, worst: worst,
	}
	t.Log(o.table(r, time.Since(started)) + rep.table())
	if !settled {
		t.Errorf("the pipeline did not settle within 3m")
	}
	o.checkUnderAttack(r)
	rep.check(t)
}

// replica is one ingest process of the attack run.
type replica struct {
	name, addr string
	prog       *localserver.Program
}

// startIngestReplicas starts n ingest processes on their own ports and
// waits until each is ready.
func (r *rig) startIngestReplicas(n int) []*replica {
	r.t.Helper()
	var out []*replica
	for i := range n {
		rp := &replica{name: fmt.Sprintf("ingest-%d", i+1), addr: r.freeAddr()}
		env := append(r.pipelineEnv(),
			"PN_INGEST_ADDR="+rp.addr,
			"PN_INGEST_PUBLISH_TIMEOUT=3s",
			"PN_INGEST_WRITE_TIMEOUT=6s",
			"PN_INGEST_SHUTDOWN_TIMEOUT=10s",
		)
		rp.prog = r.program(rp.name, filepath.Join(bins, "ingest"), env, nil, localserver.HTTPProbe("http://"+rp.addr+"/readyz"))
		r.start(rp.prog)
		out = append(out, rp)
	}
	return out
}

func (r *rig) checkReplicasAlive(replicas []*replica) {
	r.t.Helper()
	progs := append([]*localserver.Program{r.recorder, r.sim}, r.peers...)
	for _, rp := range replicas {
		progs = append(progs, rp.prog)
	}
	for _, p := range progs {
		if err := p.Err(); err != nil {
			r.t.Errorf("exited during the attack: %v", err)
		}
	}
}

// notePeakRSS keeps in peaks the highest VmHWM (peak resident set) of
// each replica's process, read from /proc while it runs.
func (r *rig) notePeakRSS(replicas []*replica, peaks map[string]int64) {
	r.t.Helper()
	for _, rp := range replicas {
		n, err := peakRSS(rp.prog.Pid())
		if err != nil {
			r.t.Errorf("%s: %v", rp.name, err)
			continue
		}
		peaks[rp.name] = max(peaks[rp.name], n)
	}
}

// peakRSS returns the VmHWM of a process in bytes (Linux).
func peakRSS(pid int) (int64, error) {
	if pid == 0 {
		return 0, fmt.Errorf("peak RSS: not running")
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak RSS: %q: %w", sc.Text(), err)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	return 0, fmt.Errorf("peak RSS: no VmHWM in /proc/%d/status", pid)
}

func (r *rig) streamState(name string) jetstream.StreamState {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := r.js.Stream(ctx, name)
	if err != nil {
		r.t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		r.t.Fatalf("stream %s: %v", name, err)
	}
	return info.State
}

// scan calls each for every message of a stream with sequence from..to,
// bodies included or not.
func (r *rig) scan(name string, from, to uint64, headersOnly bool, each func(jetstream.Msg)) {
	r.t.Helper()
	if from > to {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := r.js.Stream(ctx, name)
	if err != nil {
		r.t.Fatalf("stream %s: %v", name, err)
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from, HeadersOnly: headersOnly,
	})
	if err != nil {
		r.t.Fatalf("scan %s: %v", name, err)
	}
	for empty := 0; empty < 3; {
		batch, err := c.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			r.t.Fatalf("scan %s: %v", name, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				r.t.Fatalf("scan %s: %v", name, err)
			}
			each(m)
			if md.Sequence.Stream >= to {
				return
			}
		}
		if err := batch.Error(); err != nil {
			r.t.Fatalf("scan %s: %v", name, err)
		}
		if n == 0 {
			empty++
		}
	}
	r.t.Fatalf("scan %s: sequence %d never came", name, to)
}

// attributeRejected charges every message PN_REJECTED took during the
// attack (sequences from+1..to) to the attack row its X-Request-Id names,
// and returns what the signed requests kept: the signed rows' messages,
// plus those of no row answered 400 (only a signed request can be).
func (r *rig) attributeRejected(a *attacker, from, to uint64) kept {
	r.t.Helper()
	var signed kept
	r.scan(streams.Rejected, from+1, to, true, func(m jetstream.Msg) {
		h := m.Headers()
		size, _ := strconv.ParseInt(h.Get(nats.MsgSize), 10, 64)
		// The stored size: subject, headers, body and the store's framing.
		n := int64(len(m.Subject())+headerLen(h)+30) + size
		row := a.rowOf(h.Get(streams.HeaderOrigHeaders + "X-Request-Id"))
		switch {
		case row != nil:
			row.keptMsgs++
			row.keptBytes += n
			if row.signed {
				signed.add(n)
			}
		case h.Get(streams.HeaderStatus) == strconv.Itoa(http.StatusBadRequest):
			signed.add(n)
			a.other.add(n)
		default:
			a.other.add(n)
		}
	})
	return signed
}

// headerLen is the size of h as stored, without the size header that a
// headers-only delivery adds.
func headerLen(h nats.Header) int {
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range h {
		if k == nats.MsgSize {
			continue
		}
		for _, v := range vs {
			n += len(k) + len(": \r\n") + len(v)
		}
	}
	return n
}

// kept counts messages kept in PN_REJECTED and their bytes.
type kept struct {
	msgs  int
	bytes int64
}

func (k *kept) add(n int64) { k.msgs++; k.bytes += n }

// stored counts records holding a marker: ClickHouse rows (any version,
// not only FINAL) and messages of PN_FEES and PN_EVENTS.
type stored struct{ feeRows, eventRows, feeMsgs, eventMsgs int }

func (s stored) total() int { return s.feeRows + s.eventRows + s.feeMsgs + s.eventMsgs }

func (s stored) String() string {
	return fmt.Sprintf("fee_records %d, call_events %d, PN_FEES %d, PN_EVENTS %d", s.feeRows, s.eventRows, s.feeMsgs, s.eventMsgs)
}

// storedWith searches ClickHouse and the data streams for mark.
func (r *rig) storedWith(mark string) stored {
	r.t.Helper()
	like := "'%" + mark + "%'" // mark holds no quote, % or _
	s := stored{
		feeRows:   int(r.mustCount("SELECT count() FROM fee_records WHERE icid LIKE " + like + " OR session_id LIKE " + like + " OR raw LIKE " + like)),
		eventRows: int(r.mustCount("SELECT count() FROM call_events WHERE session_id LIKE " + like + " OR raw LIKE " + like)),
	}
	for name, n := range map[string]*int{streams.Fees: &s.feeMsgs, streams.Events: &s.eventMsgs} {
		st := r.streamState(name)
		if st.Msgs == 0 {
			continue
		}
		r.scan(name, st.FirstSeq, st.LastSeq, false, func(m jetstream.Msg) {
			if bytes.Contains(m.Data(), []byte(mark)) {
				*n++
			}
		})
	}
	return s
}

// mustCount runs a count query and fails the test when it cannot.
func (r *rig) mustCount(query string) uint64 {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n uint64
	if err := r.ch.QueryRow(ctx, query).Scan(&n); err != nil {
		r.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// settleAll is settle for a run where records nobody sent may be stored
// (the attack's, when it succeeds): it waits until the simulator is done,
// every record it sent has a row, and the consumers are drained.
func (r *rig) settleAll(timeout time.Duration) bool {
	return r.settleWhen(timeout, func() bool {
		ts := r.tap.stats()
		fees, events := r.strings("SELECT icid FROM fee_records"), r.strings(
			`SELECT concat('event:', session_id, ':', event_type, ':', toString(event_time, 'UTC')) FROM call_events`)
		missing, _ := diff(ts.sentFees, fees)
		missingEvents, _ := diff(ts.sentEvents, events)
		return missing+missingEvents == 0
	})
}

// checkUnderAttack is check without its empty PN_REJECTED: the attack
// fills it on purpose.
func (o *outcome) checkUnderAttack(r *rig) {
	t := r.t
	t.Helper()
	if o.sim.Push.GivenUp != 0 || o.sim.Push.Pending != 0 {
		t.Errorf("the simulator gave up %d pushes, %d pending", o.sim.Push.GivenUp, o.sim.Push.Pending)
	}
	if int64(len(o.tap.sentFees)) != o.sim.Calls {
		t.Errorf("the tap saw %d CDRs of %d calls", len(o.tap.sentFees), o.sim.Calls)
	}
	if o.lost() != 0 || o.duplicated() != 0 || o.extraFees+o.extraEvents != 0 {
		t.Errorf("lost %d, duplicated %d, stored but never sent %d", o.lost(), o.duplicated(), o.extraFees+o.extraEvents)
	}
	for name, n := range o.pending {
		if n != 0 {
			t.Errorf("%s: %d messages left pending", name, n)
		}
	}
	if o.dead != 0 {
		t.Errorf("PN_DEAD holds %d messages", o.dead)
	}
	if len(o.leaked) > 0 {
		t.Errorf("secrets in the logs at %v", o.leaked)
	}
}

// attackReport is what the attack did and cost.
type attackReport struct {
	rows   []*attackRow
	took   time.Duration
	growth int64  // PN_REJECTED State.Bytes after minus before
	msgs   uint64 // messages PN_REJECTED took
	signed kept   // of those, what signed requests kept
	other  kept   // of those, what no attack row is named in
	rss    map[string]int64
	forged stored // records with forgedMark
	worst  stored // records with worstMark
}

// requests sums the requests of the signed or unsigned rows.
func (rep *attackReport) requests(signed bool) int {
	n := 0
	for _, row := range rep.rows {
		if row.signed == signed {
			n += row.requests
		}
	}
	return n
}

// perUnsigned is PN_REJECTED's growth, less what the signed requests
// kept, per unsigned attack request.
func (rep *attackReport) perUnsigned() int64 {
	return (rep.growth - rep.signed.bytes) / int64(max(rep.requests(false), 1))
}

func (rep *attackReport) perSigned() int64 {
	return rep.signed.bytes / int64(max(rep.requests(true), 1))
}

func (rep *attackReport) table() string {
	var b strings.Builder
	mp := attackMaxPayload()
	if mp == "" {
		mp = "default (1MB)"
	}
	fmt.Fprintf(&b, "\nattack: %s, 8 goroutines on loopback, 3 ingest replicas, nats max_payload %s\n", rep.took.Round(time.Millisecond), mp)
	fmt.Fprintf(&b, "%-2s %-44s %6s  %-30s %18s %10s %8s\n", "", "attack kind", "reqs", "answers (0 = none)", "PN_REJECTED kept", "per req", "slowest")
	for _, row := range rep.rows {
		fmt.Fprintf(&b, "%-2s %-44s %6d  %-30s %18s %10s %8s\n", row.group, row.name, row.requests, answers(row.answers),
			fmt.Sprintf("%s (%d)", bytesOf(row.keptBytes), row.keptMsgs), bytesOf(row.keptBytes/int64(max(row.requests, 1))),
			row.maxLatency.Round(10*time.Millisecond))
		if row.firstErr != "" {
			fmt.Fprintf(&b, "   first request without an answer: %.160s\n", row.firstErr)
		}
	}
	fmt.Fprintf(&b, "%-2s %-44s %6s  %-30s %18s\n", "", "(no attack row: not an attack request, or no X-Request-Id kept)", "", "",
		fmt.Sprintf("%s (%d)", bytesOf(rep.other.bytes), rep.other.msgs))
	fmt.Fprintf(&b, "PN_REJECTED grew %s in %d messages (State.Bytes); signed requests kept %s in %d\n",
		bytesOf(rep.growth), rep.msgs, bytesOf(rep.signed.bytes), rep.signed.msgs)
	fmt.Fprintf(&b, "unsigned: %d requests, %s kept per request (bound %s); signed: %d requests, %s per request (bound %s: a signed 400 keeps its body)\n",
		rep.requests(false), bytesOf(rep.perUnsigned()), bytesOf(keptPerRequest),
		rep.requests(true), bytesOf(rep.perSigned()), bytesOf(keptPerSigned))
	var names []string
	for name := range rep.rss {
		names = append(names, name)
	}
	sort.Strings(names)
	var peaks []string
	for _, name := range names {
		peaks = append(peaks, name+" "+bytesOf(rep.rss[name]))
	}
	fmt.Fprintf(&b, "peak RSS (VmHWM): %s (bound %s)\n", strings.Join(peaks, ", "), bytesOf(peakRSSLimit))
	fmt.Fprintf(&b, "forged records stored: %s\n", rep.forged)
	fmt.Fprintf(&b, "signed worst-body records stored: %s\n", rep.worst)
	return b.String()
}

// check fails the test for every bound the attack broke.
func (rep *attackReport) check(t *testing.T) {
	t.Helper()
	if rep.forged.total() != 0 {
		t.Errorf("forged records stored: %s", rep.forged)
	}
	if rep.worst.total() != 0 {
		t.Errorf("records of the signed worst bodies stored: %s", rep.worst)
	}
	signedReqs := 0
	for _, row := range rep.rows {
		// A stranger gets 401 or 413 (or the connection closed on a body
		// nobody reads); a signed invalid body 400 or 413, once it is kept:
		// a 503 would have the platform re-push a body that can never be
		// stored, and a 200 stored something.
		want := map[int]bool{http.StatusUnauthorized: true, http.StatusRequestEntityTooLarge: true, 0: true}
		if row.signed {
			want = map[int]bool{http.StatusBadRequest: true, http.StatusRequestEntityTooLarge: true}
		}
		for status, n := range row.answers {
			if !want[status] {
				t.Errorf("%s: %d requests answered %d", row.name, n, status)
			}
		}
		if row.signed {
			signedReqs += row.requests
		} else if row.requests == 0 {
			t.Errorf("%s: no request sent; the attack did not run", row.name)
		}
	}
	if signedReqs == 0 {
		t.Errorf("no signed worst body sent; the attack did not run")
	}
	if n := rep.perUnsigned(); n > keptPerRequest {
		t.Errorf("PN_REJECTED grew %s per unsigned attack request; bound %s", bytesOf(n), bytesOf(keptPerRequest))
	}
	if n := rep.perSigned(); n > keptPerSigned {
		t.Errorf("PN_REJECTED grew %s per signed attack request; bound %s", bytesOf(n), bytesOf(keptPerSigned))
	}
	for name, n := range rep.rss {
		if n >= peakRSSLimit {
			t.Errorf("%s: peak RSS %s; bound %s", name, bytesOf(n), bytesOf(peakRSSLimit))
		}
	}
}

func answers(m map[int]int) string {
	var codes []int
	for c := range m {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", c, m[c]))
	}
	return strings.Join(parts, " ")
}

func bytesOf(n int64) string {
	switch {
	case n >= 10<<20 || n <= -10<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	case n >= 1<<20 || n <= -1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 10<<10 || n <= -10<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	case n >= 1<<10 || n <= -1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
