package platformsim

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/privatenumber"
)

// DefaultRepushSchedule is when the platform pushes again after a failed
// push: at most 6 re-pushes, at 1, 4, 9, 106, 203 and 300 minutes
// (reference §7.1). The reference does not say whether these are offsets
// from the first attempt or gaps between attempts; the simulator takes
// them as offsets from the first attempt, so a push is given up 5 hours
// after it was first tried.
var DefaultRepushSchedule = []time.Duration{
	1 * time.Minute, 4 * time.Minute, 9 * time.Minute, 106 * time.Minute, 203 * time.Minute, 300 * time.Minute,
}

// ErrPusherStopped is returned by PushCall once the Pusher's Run returned.
var ErrPusherStopped = errors.New("pusher stopped")

// PusherConfig configures a Pusher.
type PusherConfig struct {
	// EventsURL receives the call event pushes, FeesURL the fee pushes.
	EventsURL, FeesURL string
	// NumStatusURL receives the X-number status pushes; empty means
	// EventsURL, the call-status URL, as the platform does when no separate
	// X-number-status URL is configured.
	NumStatusURL string
	// AppKey and AppSecret sign every attempt (X-AKSK, or X-WSSE with WSSE).
	AppKey, AppSecret string
	WSSE              bool
	// Schedule holds the re-push offsets from the first attempt; empty
	// means DefaultRepushSchedule.
	Schedule []time.Duration
	// TimeScale multiplies Schedule, e.g. 0.001 turns 1 min into 60 ms.
	TimeScale float64
	// Timeout bounds one attempt, answer included.
	Timeout time.Duration
	// Workers is the number of attempts in flight at most.
	Workers int
	// MaxPending bounds the pushes not yet delivered or given up (queued,
	// waiting to be re-pushed, in flight, or the open fee push); PushCall
	// blocks while it is reached, which slows the call generator down.
	MaxPending int
	// FeeBatchWait is how long a fee push stays open for more CDRs once it
	// has one; it is sent earlier when it holds privatenumber.MaxFeeRecords.
	FeeBatchWait time.Duration
	// RepushHeaders is RepushFresh (the zero value too: every attempt
	// signed afresh) or RepushOriginal (a re-push re-sends the first
	// attempt's headers, nonce and Created included). The platform's
	// behaviour is undocumented (reference §11.3).
	RepushHeaders string
}

// The values of PusherConfig.RepushHeaders (PN_SIM_REPUSH_HEADERS).
const (
	RepushFresh    = "fresh"
	RepushOriginal = "original"
)

func checkRepushHeaders(v string) error {
	switch v {
	case "", RepushFresh, RepushOriginal:
		return nil
	}
	return fmt.Errorf("repush headers %q: want %s or %s", v, RepushFresh, RepushOriginal)
}

func (c PusherConfig) validate() error {
	var errs []error
	if c.EventsURL == "" || c.FeesURL == "" {
		errs = append(errs, errors.New("events and fees URLs are required"))
	}
	if c.TimeScale <= 0 {
		errs = append(errs, fmt.Errorf("time scale %g: want > 0", c.TimeScale))
	}
	if c.Timeout <= 0 || c.FeeBatchWait <= 0 {
		errs = append(errs, fmt.Errorf("timeout %s and fee batch wait %s: want > 0", c.Timeout, c.FeeBatchWait))
	}
	if c.Workers < 1 || c.MaxPending < 1 {
		errs = append(errs, fmt.Errorf("workers %d and max pending %d: want >= 1", c.Workers, c.MaxPending))
	}
	if err := checkRepushHeaders(c.RepushHeaders); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// PushStats counts the pushes of a Pusher. A push is one HTTP body: one
// call event, or one fee push of 1 to 50 CDRs.
type PushStats struct {
	Events     int64 `json:"events"`     // event pushes accepted
	FeePushes  int64 `json:"feePushes"`  // fee pushes formed
	FeeRecords int64 `json:"feeRecords"` // CDRs in them
	Attempts   int64 `json:"attempts"`   // first pushes and re-pushes made
	Delivered  int64 `json:"delivered"`  // pushes answered 200
	Retried    int64 `json:"retried"`    // re-pushes made
	Failed     int64 `json:"failed"`     // attempts that failed
	NumStatus  int64 `json:"numStatus"`  // X-number status pushes accepted
	GivenUp    int64 `json:"givenUp"`    // pushes dropped after the last re-push
	Pending    int64 `json:"pending"`    // pushes neither delivered nor given up
}

// Pusher sends call events and fee pushes to the callback URLs as the
// platform does: each attempt signed afresh (or, with RepushOriginal,
// every re-push with the first attempt's headers), anything but HTTP 200 (a
// timeout, a refused connection) a failure, re-pushed on the schedule.
// CDRs of calls that end close together are merged into one fee push.
//
// Run owns the goroutines; pushes may be queued before it starts. When
// Run returns, the pushes not yet delivered are abandoned (a platform
// that stops does not deliver either) and Stats counts them as Pending.
type Pusher struct {
	cfg    PusherConfig
	client *http.Client
	faults *Faults
	log    *zap.Logger
	signer aksk.Signer

	slots chan struct{}  // one per pending push
	ready chan *delivery // pushes due for an attempt; holds MaxPending, so a send never blocks
	wake  chan struct{}  // tells the scheduler its deadlines changed
	done  chan struct{}  // closed when Run returns

	mu      sync.Mutex
	retries deliveryHeap
	batch   *feeBatch // the open fee push, nil when none

	events, feePushes, feeRecords, numStatus, attempts, delivered, retried, failed, givenUp atomic.Int64
}

type delivery struct {
	url     string
	body    []byte
	header  http.Header // the first attempt's, kept with RepushOriginal
	what    string      // for logs
	first   time.Time   // of the first attempt
	attempt int         // attempts made
	due     time.Time   // of the next re-push
}

type feeBatch struct {
	records [][]byte
	icids   []string
	opened  time.Time
}

// NewPusher returns a Pusher that sends with client (whose CheckRedirect
// should refuse redirects: the platform follows none). faults may be nil.
func NewPusher(cfg PusherConfig, client *http.Client, faults *Faults, log *zap.Logger) (*Pusher, error) {
	if len(cfg.Schedule) == 0 {
		cfg.Schedule = DefaultRepushSchedule
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("pusher config: %w", err)
	}
	return &Pusher{
		cfg: cfg, client: client, faults: faults, log: log,
		signer: aksk.Signer{AppKey: cfg.AppKey, AppSecret: cfg.AppSecret, WSSE: cfg.WSSE},
		slots:  make(chan struct{}, cfg.MaxPending),
		ready:  make(chan *delivery, cfg.MaxPending),
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}, nil
}

// Stats returns the counters so far.
func (p *Pusher) Stats() PushStats {
	return PushStats{
		Events: p.events.Load(), FeePushes: p.feePushes.Load(), FeeRecords: p.feeRecords.Load(), NumStatus: p.numStatus.Load(),
		Attempts: p.attempts.Load(), Delivered: p.delivered.Load(), Retried: p.retried.Load(),
		Failed: p.failed.Load(), GivenUp: p.givenUp.Load(), Pending: int64(len(p.slots)),
	}
}

// PushCall queues the call's events, one push each, and adds its CDR to
// the open fee push. It blocks while MaxPending pushes are pending, and
// fails with ctx's error or ErrPusherStopped.
func (p *Pusher) PushCall(ctx context.Context, c Call) error {
	for _, e := range c.Events {
		if err := p.acquire(ctx); err != nil {
			return err
		}
		p.events.Add(1)
		p.ready <- &delivery{url: p.cfg.EventsURL, body: e.Body, what: e.Type + " event of session " + c.SessionID}
	}
	return p.addFee(ctx, c.ICID, c.Fee)
}

// PushNumStatus queues an X-number status push of body, re-pushed on the
// schedule like every push. It blocks while MaxPending pushes are pending,
// and fails with ctx's error or ErrPusherStopped.
func (p *Pusher) PushNumStatus(ctx context.Context, body []byte, what string) error {
	if err := p.acquire(ctx); err != nil {
		return err
	}
	p.numStatus.Add(1)
	url := p.cfg.NumStatusURL
	if url == "" {
		url = p.cfg.EventsURL
	}
	p.ready <- &delivery{url: url, body: body, what: what}
	return nil
}

func (p *Pusher) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return ErrPusherStopped
	}
}

func (p *Pusher) release() { <-p.slots }

func (p *Pusher) addFee(ctx context.Context, icid string, record []byte) error {
	for {
		p.mu.Lock()
		if p.batch != nil {
			full := p.appendLocked(icid, record)
			p.mu.Unlock()
			if full != nil {
				p.ready <- full
			}
			return nil
		}
		p.mu.Unlock()
		// Opening a fee push takes a slot; take it without holding mu.
		if err := p.acquire(ctx); err != nil {
			return err
		}
		p.mu.Lock()
		if p.batch == nil {
			p.batch = &feeBatch{opened: time.Now()}
			p.appendLocked(icid, record) // one record: never full
			p.mu.Unlock()
			p.poke()
			return nil
		}
		p.mu.Unlock()
		p.release() // another caller opened one meanwhile
	}
}

// appendLocked adds a CDR to the open fee push and, when that fills it,
// closes it and returns its delivery.
func (p *Pusher) appendLocked(icid string, record []byte) *delivery {
	p.batch.records = append(p.batch.records, record)
	p.batch.icids = append(p.batch.icids, icid)
	if len(p.batch.records) < privatenumber.MaxFeeRecords {
		return nil
	}
	return p.sealLocked()
}

func (p *Pusher) sealLocked() *delivery {
	b := p.batch
	p.batch = nil
	body := AppendFeePush(nil, b.records)
	p.feePushes.Add(1)
	p.feeRecords.Add(int64(len(b.records)))
	return &delivery{url: p.cfg.FeesURL, body: body, what: fmt.Sprintf("fee push of %d CDRs from icid %s", len(b.records), b.icids[0])}
}

// AppendFeePush appends the fee push carrying records (CDRs as Call.Fee
// holds them, at most privatenumber.MaxFeeRecords) as the platform sends it.
func AppendFeePush(dst []byte, records [][]byte) []byte {
	dst = append(dst, `{"eventType":"fee","feeLst":[`...)
	for i, r := range records {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, r...)
	}
	return append(dst, "]}"...)
}

func (p *Pusher) poke() {
	select {
	case p.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Run sends pushes until ctx is done, then waits for its goroutines (an
// attempt in flight is cancelled) and returns nil.
func (p *Pusher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { p.schedule(ctx) })
	for range p.cfg.Workers {
		wg.Go(func() { p.work(ctx) })
	}
	wg.Wait()
	close(p.done)
	if n := len(p.slots); n > 0 {
		p.log.Warn("pushes abandoned at shutdown", zap.Int("pending", n))
	}
	return nil
}

// schedule hands due re-pushes to the workers and closes the open fee
// push once it has waited FeeBatchWait.
func (p *Pusher) schedule(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		var due []*delivery
		next := now.Add(time.Hour)
		p.mu.Lock()
		for len(p.retries) > 0 && !p.retries[0].due.After(now) {
			due = append(due, heap.Pop(&p.retries).(*delivery))
		}
		if len(p.retries) > 0 {
			next = p.retries[0].due
		}
		if p.batch != nil {
			if closeAt := p.batch.opened.Add(p.cfg.FeeBatchWait); !closeAt.After(now) {
				due = append(due, p.sealLocked())
			} else if closeAt.Before(next) {
				next = closeAt
			}
		}
		p.mu.Unlock()
		for _, d := range due {
			p.ready <- d
		}
		timer.Reset(next.Sub(now))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-p.wake:
		}
	}
}

func (p *Pusher) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-p.ready:
			p.attempt(ctx, d)
		}
	}
}

// attempt pushes once and decides what follows: done, a re-push on the
// schedule, or giving up.
func (p *Pusher) attempt(ctx context.Context, d *delivery) {
	now := time.Now()
	if d.attempt == 0 {
		d.first = now
	} else {
		p.retried.Add(1)
	}
	d.attempt++
	p.attempts.Add(1)
	err := p.send(ctx, d)
	if err == nil {
		p.delivered.Add(1)
		p.release()
		return
	}
	if ctx.Err() != nil {
		return // shutting down: the push stays pending, and is abandoned
	}
	p.failed.Add(1)
	if d.attempt > len(p.cfg.Schedule) {
		p.givenUp.Add(1)
		p.release()
		p.log.Warn("push given up after the last re-push", zap.String("push", d.what), zap.Int("attempts", d.attempt), zap.Error(err))
		return
	}
	offset := time.Duration(float64(p.cfg.Schedule[d.attempt-1]) * p.cfg.TimeScale)
	d.due = d.first.Add(offset)
	p.log.Debug("push failed, re-push scheduled", zap.String("push", d.what), zap.Int("attempt", d.attempt),
		zap.Time("due", d.due), zap.Error(err))
	p.mu.Lock()
	heap.Push(&p.retries, d)
	p.mu.Unlock()
	p.poke()
}

// send makes one attempt; nil means the receiver answered 200.
func (p *Pusher) send(ctx context.Context, d *delivery) error {
	// Signed before a fault may drop the attempt: the first attempt's
	// headers are those of its time, sent or not.
	if d.header == nil || p.cfg.RepushHeaders != RepushOriginal {
		d.header = http.Header{}
		d.header.Set("Content-Type", axeapi.ContentType)
		p.signer.Sign(d.header) // a fresh nonce and Created
	}
	fault, faulty := p.faults.pushFault(time.Now())
	if faulty && fault.Delay > 0 {
		t := time.NewTimer(time.Duration(fault.Delay))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	if faulty && fault.Status != 0 {
		return fmt.Errorf("injected fault: answered %d without sending", fault.Status)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return fmt.Errorf("push request: %w", err)
	}
	req.Header = d.header.Clone()
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	// The answer's body means nothing to the platform; it is read only so
	// the connection can be reused, and a failure to read it changes nothing.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("push answered %s", resp.Status)
	case faulty && fault.LoseAnswer:
		return errors.New("injected fault: answer lost")
	}
	return nil
}

// deliveryHeap orders re-pushes by due time (container/heap).
type deliveryHeap []*delivery

func (h deliveryHeap) Len() int           { return len(h) }
func (h deliveryHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h deliveryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deliveryHeap) Push(x any)        { *h = append(*h, x.(*delivery)) }
func (h *deliveryHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return d
}
