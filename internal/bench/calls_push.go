package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/platformsim"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
)

// How the calls stage makes and sends calls: the simulator's generator,
// and pushes as the platform sends them.

// callSource hands out the simulator's calls to any worker. It lives as
// long as the Bench, so that repetitions never repeat an identity.
type callSource struct {
	mu       sync.Mutex
	gen      *platformsim.CallGenerator
	bindings []platformsim.Binding
	recBytes int64 // fixed recording size; 0: the call's own
}

func newCallSource(recBytes int64) *callSource {
	return &callSource{
		gen: platformsim.NewCallGenerator(platformsim.CallConfig{
			Seed: 14, AppKey: corpusAppKey, SpID: corpusSpID, RecordDomain: simDomain,
		}),
		bindings: benchBindings(),
		recBytes: recBytes,
	}
}

// next returns a call that ended now. The audio of a recorded call is
// kept by store, as the platform keeps it for the record-URL API.
func (s *callSource) next(store *platformsim.RecordingStore) platformsim.Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UTC()
	c, _ := s.gen.Next(s.bindings, now) // bindings are never empty
	if c.Recording != nil {
		if s.recBytes > 0 {
			c.Recording.Duration = durationFor(s.recBytes)
		}
		store.Add(*c.Recording, now) // under mu: in time order, as Add wants
	}
	return c
}

// callTally counts what calls sent, to reconcile with what was stored.
type callTally struct {
	mu                            sync.Mutex
	calls, events, cdrs, recorded int
	recordingBytes                int64
}

func (t *callTally) add(c *platformsim.Call) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls++
	t.events += len(c.Events)
	t.cdrs++
	if c.Recording != nil {
		t.recorded++
		t.recordingBytes += wavBytes(c.Recording.Duration)
	}
}

// wavBytes is the size of the simulator's WAV of d (whole seconds).
func wavBytes(d time.Duration) int64 {
	return wavHeader + int64(d/time.Second)*wavBytesPerSecond
}

// callPusher sends calls as the platform does: each event in its own
// POST, one after another, then the CDR into the open fee push, which is
// sent once it holds 50 CDRs, or with the next CDR that comes after it
// waited feeBatchWait (the simulator's default), or by flush.
type callPusher struct {
	events, fees *pushClient
	dues         *dueTimes // nil: no latency bookkeeping

	mu     sync.Mutex
	open   [][]byte
	icids  []string
	opened time.Time
}

// feeBatchWait is how long a fee push waits for more CDRs, as
// platformsim.DefaultConfig's FeeBatchWait.
const feeBatchWait = time.Second

func newCallPusher(baseURL string, conns int, signed bool) *callPusher {
	s := signer()
	if !signed {
		s = nil
	}
	return &callPusher{events: newPushClient(baseURL+ingest.PathEvents, conns, s), fees: newPushClient(baseURL+ingest.PathFees, conns, s)}
}

func (p *callPusher) close() { p.events.close(); p.fees.close() }

// push sends c, due at due (zero when not paced).
func (p *callPusher) push(ctx context.Context, c *platformsim.Call, due time.Time) error {
	if p.dues != nil {
		p.dues.set("s:"+c.SessionID, due)
	}
	for i := range c.Events {
		if err := p.events.post(ctx, c.Events[i].Body); err != nil {
			return fmt.Errorf("%s event: %w", c.Events[i].Type, err)
		}
	}
	now := time.Now()
	p.mu.Lock()
	var stale [][]byte
	var staleIDs []string
	staleDue := p.opened.Add(feeBatchWait) // when the platform would have sent it
	if len(p.open) > 0 && !now.Before(staleDue) {
		stale, staleIDs = p.sealLocked()
	}
	if len(p.open) == 0 {
		p.opened = now
	}
	p.open, p.icids = append(p.open, c.Fee), append(p.icids, c.ICID)
	var full [][]byte
	var fullIDs []string
	if len(p.open) == privatenumber.MaxFeeRecords {
		full, fullIDs = p.sealLocked()
	}
	p.mu.Unlock()
	if due.IsZero() {
		due = now
	}
	return errors.Join(p.sendFees(ctx, stale, staleIDs, staleDue), p.sendFees(ctx, full, fullIDs, due))
}

func (p *callPusher) sealLocked() ([][]byte, []string) {
	records, icids := p.open, p.icids
	p.open, p.icids = nil, nil
	return records, icids
}

// flush sends the open fee push, if any.
func (p *callPusher) flush(ctx context.Context) error {
	p.mu.Lock()
	records, icids := p.sealLocked()
	p.mu.Unlock()
	return p.sendFees(ctx, records, icids, time.Now())
}

func (p *callPusher) sendFees(ctx context.Context, records [][]byte, icids []string, due time.Time) error {
	if len(records) == 0 {
		return nil
	}
	if p.dues != nil {
		for _, id := range icids {
			p.dues.set("f:"+id, due)
		}
	}
	if err := p.fees.post(ctx, platformsim.AppendFeePush(nil, records)); err != nil {
		return fmt.Errorf("fee push of %d CDRs: %w", len(records), err)
	}
	return nil
}

// dueTimes are when the push carrying each record was due: a call's
// events when the call was, a CDR when its fee push was sent.
type dueTimes struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (d *dueTimes) set(key string, at time.Time) {
	d.mu.Lock()
	d.m[key] = at
	d.mu.Unlock()
}

// dueKey returns the dueTimes key of a stored message: its event's
// session, or its CDR's icid (its Nats-Msg-Id "fee:<icid>"); false for a
// nonce claim.
func dueKey(m jetstream.Msg) (string, bool) {
	switch {
	case m.Subject() == streams.ClaimSubject:
		return "", false
	case strings.HasPrefix(m.Subject(), streams.EventSubjectPrefix):
		// Its id is the push's nonce: the session is in the event.
		ev, err := privatenumber.DecodeCallEvent(m.Data())
		if err != nil {
			return "event " + err.Error(), true
		}
		return "s:" + ev.SessionID, true
	}
	return "f:" + strings.TrimPrefix(m.Headers().Get(jetstream.MsgIDHeader), "fee:"), true
}
