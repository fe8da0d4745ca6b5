package testenv

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Polling intervals of Eventually: short at first, for conditions that are
// met in milliseconds, then longer, so that a slow one costs little CPU.
const (
	firstPoll = 5 * time.Millisecond
	maxPoll   = 100 * time.Millisecond
)

// Eventually polls cond until it reports true, and fails t with cond's last
// description if that has not happened within timeout. cond says what it
// observed ("3 of 5 rows", "consumer has 2 pending"), so that a failure
// shows how far the condition got rather than only that it timed out. Call
// it from the test's goroutine.
func Eventually(t testing.TB, timeout time.Duration, cond func() (ok bool, observed string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := firstPoll
	for {
		ok, observed := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: condition not met after %s: %s", timeout, observed)
		}
		time.Sleep(min(wait, time.Until(deadline)+time.Millisecond))
		wait = min(2*wait, maxPoll)
	}
}

// Background is a function Go runs in the background for a test.
type Background struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed

	mu        sync.Mutex
	collected bool // Stop or Wait handed err to the test
	abandoned bool // StopWithin gave up on fn: the cleanup does not wait
}

// Go runs fn in the background with a context that ends when the test ends
// or Stop is called; fn should then return nil. When the test ends, Go
// waits for fn and fails the test with its error, unless the test already
// took that error from Stop or Wait.
func Go(t testing.TB, fn func(ctx context.Context) error) *Background {
	t.Helper()
	// t.Context is cancelled before the test's cleanups run, so fn is told
	// to stop before the cleanup below waits for it.
	ctx, cancel := context.WithCancel(t.Context())
	b := &Background{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.err = fn(ctx)
	}()
	t.Cleanup(func() {
		b.cancel()
		b.mu.Lock()
		abandoned := b.abandoned
		b.mu.Unlock()
		if abandoned {
			return
		}
		<-b.done
		b.mu.Lock()
		defer b.mu.Unlock()
		if !b.collected && b.err != nil {
			t.Errorf("testenv: background function: %v", b.err)
		}
	})
	return b
}

// Done is closed when fn has returned.
func (b *Background) Done() <-chan struct{} { return b.done }

// Wait waits for fn to return and returns its error, which the test then
// owns.
func (b *Background) Wait() error {
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	b.collected = true
	return b.err
}

// Cancel cancels fn's context and returns at once, for a test that checks
// what happens while fn stops; Wait, Stop or StopWithin then waits for it.
func (b *Background) Cancel() { b.cancel() }

// Stop cancels fn's context, then waits as Wait does.
func (b *Background) Stop() error {
	b.cancel()
	return b.Wait()
}

// StopWithin stops fn as Stop does, for a test that a prompt stop is part
// of: it fails t if fn has not returned within d of being cancelled, and
// leaves fn running rather than hang the test's cleanup on it.
func (b *Background) StopWithin(t testing.TB, d time.Duration) error {
	t.Helper()
	b.cancel()
	select {
	case <-b.done:
	case <-time.After(d):
		b.mu.Lock()
		b.abandoned = true
		b.mu.Unlock()
		t.Fatalf("testenv: background function still running %s after it was stopped", d)
	}
	return b.Wait()
}
