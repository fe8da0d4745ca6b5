package retry

import (
	"time"

	"github.com/cenkalti/backoff/v5"
)

// DefaultJitter is the Jitter of NewPolicy: waits spread over the upper
// half of each interval, so that workers that failed together do not all
// come back at once, and no wait is shorter than half of its interval.
const DefaultJitter = 0.5

// multiplier is how much each interval grows over the one before: backoff/v5's.
const multiplier = backoff.DefaultMultiplier

// Policy is how long to wait before each new attempt. The interval starts at
// Initial and grows 1.5 times per attempt up to Max; each wait is drawn
// uniformly from [(1-Jitter)×interval, interval], so no wait is longer than
// Max.
type Policy struct {
	// Initial is the first interval; it must be positive.
	Initial time.Duration
	// Max is the longest wait; it must be at least Initial.
	Max time.Duration
	// Jitter is the share of each interval that is random, 0 (none) to 1.
	Jitter float64
}

// NewPolicy returns the policy of initial and max with DefaultJitter: the
// one constructor of pnstream's backoffs.
func NewPolicy(initial, max time.Duration) Policy {
	return Policy{Initial: initial, Max: max, Jitter: DefaultJitter}
}

// BackOff returns a new backoff/v5 BackOff of p, for a retry loop in one
// process (see Do).
func (p Policy) BackOff() backoff.BackOff {
	// backoff/v5 spreads a wait around its interval, [i-f×i, i+f×i]; scaled
	// to the centre of [(1-Jitter)×i, i] it spreads over exactly that.
	scale := 1 - p.Jitter/2
	return &backoff.ExponentialBackOff{
		InitialInterval:     time.Duration(float64(p.Initial) * scale),
		MaxInterval:         time.Duration(float64(p.Max) * scale),
		Multiplier:          multiplier,
		RandomizationFactor: p.Jitter / 2 / scale,
	}
}

// Delay returns the wait before the attempt after the attempt-th failed one
// (1 for the first failure): distributed as the attempt-th wait of
// BackOff. It is for retries that outlive a loop, such as a message
// redelivered with a delay chosen from its delivery count.
func (p Policy) Delay(attempt uint64) time.Duration {
	b := p.BackOff()
	d := b.NextBackOff()
	// Once the interval is at Max every wait has the same distribution, so
	// a large attempt costs no more steps than reaching Max does.
	for i := p.Initial; attempt > 1 && i > 0 && i < p.Max; attempt-- {
		i = min(time.Duration(float64(i)*multiplier), p.Max)
		d = b.NextBackOff()
	}
	return d
}
