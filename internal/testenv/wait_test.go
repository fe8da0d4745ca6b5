package testenv_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/testenv"
)

// fakeT records what a helper reports, so that a helper's failures can be
// checked without failing this test. end runs what the testing package
// runs when a test ends: the context is cancelled, then the cleanups.
type fakeT struct {
	testing.TB
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	failures []string
	cleanups []func()
}

func newFakeT(t *testing.T) *fakeT {
	ctx, cancel := context.WithCancel(context.Background())
	return &fakeT{TB: t, ctx: ctx, cancel: cancel}
}

func (f *fakeT) Helper()                  {}
func (f *fakeT) Context() context.Context { return f.ctx }
func (f *fakeT) Cleanup(fn func())        { f.cleanups = append(f.cleanups, fn) }

func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, fmt.Sprintf(format, args...))
}

func (f *fakeT) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	runtime.Goexit()
}

// run calls fn as a test body would be called: on a goroutine of its own,
// which Fatalf ends.
func (f *fakeT) run(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

func (f *fakeT) end() []string {
	f.cancel()
	for _, fn := range slices.Backward(f.cleanups) {
		fn()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failures
}

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		calls++
		return calls == 3, fmt.Sprintf("%d calls", calls)
	})
	if calls != 3 {
		t.Errorf("condition called %d times, want 3", calls)
	}
}

func TestEventuallyFailsWithTheLastObservation(t *testing.T) {
	f := newFakeT(t)
	calls := 0
	began := time.Now()
	f.run(func() {
		testenv.Eventually(f, 50*time.Millisecond, func() (bool, string) {
			calls++
			return false, fmt.Sprintf("%d calls", calls)
		})
		t.Error("Eventually returned for a condition that never holds")
	})
	took := time.Since(began)
	failures := f.end()
	want := fmt.Sprintf("condition not met after 50ms: %d calls", calls)
	if len(failures) != 1 || !strings.Contains(failures[0], want) {
		t.Errorf("failures %q, want one saying %q", failures, want)
	}
	if took < 50*time.Millisecond || took > 2*time.Second || calls < 2 {
		t.Errorf("gave up after %s and %d calls, want 50ms and several", took, calls)
	}
}

func TestGoReportsAnErrorNobodyTook(t *testing.T) {
	f := newFakeT(t)
	testenv.Go(f, func(context.Context) error { return errors.New("boom") })
	if failures := f.end(); len(failures) != 1 || !strings.Contains(failures[0], "boom") {
		t.Errorf("failures %q, want the function's error", failures)
	}
}

func TestGoStopsTheFunctionWhenTheTestEnds(t *testing.T) {
	f := newFakeT(t)
	b := testenv.Go(f, func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	})
	select {
	case <-b.Done():
		t.Fatal("returned before the test ended")
	default:
	}
	if failures := f.end(); len(failures) != 0 {
		t.Errorf("failures %q, want none", failures)
	}
	select {
	case <-b.Done():
	default:
		t.Error("still running after the test's cleanup")
	}
}

func TestGoStopHandsTheErrorToTheTest(t *testing.T) {
	f := newFakeT(t)
	b := testenv.Go(f, func(ctx context.Context) error {
		<-ctx.Done()
		return errors.New("stopped")
	})
	if err := b.Stop(); err == nil || err.Error() != "stopped" {
		t.Errorf("Stop() = %v, want the function's error", err)
	}
	if failures := f.end(); len(failures) != 0 {
		t.Errorf("failures %q: an error the test took must not fail it again", failures)
	}
}

func TestGoCancelThenStopWithinHandsTheErrorToTheTest(t *testing.T) {
	f := newFakeT(t)
	b := testenv.Go(f, func(ctx context.Context) error {
		<-ctx.Done()
		return errors.New("stopped")
	})
	b.Cancel()
	<-b.Done() // Cancel does not wait
	var err error
	f.run(func() { err = b.StopWithin(f, 5*time.Second) })
	if err == nil || err.Error() != "stopped" {
		t.Errorf("StopWithin() = %v, want the function's error", err)
	}
	if failures := f.end(); len(failures) != 0 {
		t.Errorf("failures %q, want none", failures)
	}
}

func TestGoStopWithinFailsOnAFunctionThatDoesNotStop(t *testing.T) {
	f := newFakeT(t)
	release := make(chan struct{})
	b := testenv.Go(f, func(context.Context) error {
		<-release // ignores its context
		return errors.New("late")
	})
	f.run(func() {
		_ = b.StopWithin(f, 50*time.Millisecond)
		t.Error("StopWithin returned for a function still running")
	})
	// The cleanup must not wait for the function it gave up on.
	failures := f.end()
	want := "still running 50ms after it was stopped"
	if len(failures) != 1 || !strings.Contains(failures[0], want) {
		t.Errorf("failures %q, want one saying %q", failures, want)
	}
	close(release)
	<-b.Done()
}
