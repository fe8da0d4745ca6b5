package retry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// errTyped declares itself permanent, the way a package's row error does.
type errTyped struct{}

func (errTyped) Error() string        { return "typed" }
func (errTyped) Is(target error) bool { return target == ErrPermanent }

func TestPermanentClassification(t *testing.T) {
	base := errors.New("bad value")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", base, false},
		{"marked", Permanent(base), true},
		{"marked, then wrapped", fmt.Errorf("insert: %w", Permanent(base)), true},
		{"joined with a transient one", errors.Join(errors.New("down"), Permanent(base)), true},
		{"a type that declares itself", fmt.Errorf("row: %w", errTyped{}), true},
		{"context ended", context.Canceled, false},
	}
	for _, tt := range tests {
		if got := IsPermanent(tt.err); got != tt.want {
			t.Errorf("%s: IsPermanent(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil")
	}
	if err := Permanent(base); err.Error() != base.Error() || !errors.Is(err, base) {
		t.Errorf("Permanent(%v) = %v: message or chain lost", base, err)
	}
}

func TestDoRetriesTransientErrorsUntilSuccess(t *testing.T) {
	calls, waits := 0, 0
	err := Do(t.Context(), NewPolicy(time.Millisecond, 2*time.Millisecond), func() error {
		if calls++; calls < 4 {
			return errors.New("server down")
		}
		return nil
	}, func(error, time.Duration) { waits++ })
	if err != nil || calls != 4 || waits != 3 {
		t.Errorf("Do = %v after %d calls and %d waits, want nil after 4 and 3", err, calls, waits)
	}
}

func TestDoStopsAtAPermanentError(t *testing.T) {
	bad := Permanent(errors.New("bad row"))
	calls := 0
	err := Do(t.Context(), NewPolicy(time.Millisecond, time.Millisecond), func() error {
		calls++
		return fmt.Errorf("insert: %w", bad)
	}, nil)
	if calls != 1 || !IsPermanent(err) || !errors.Is(err, bad) {
		t.Errorf("Do = %v after %d calls, want the permanent error after 1", err, calls)
	}
}

func TestDoEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := Do(ctx, NewPolicy(time.Hour, time.Hour), func() error {
		calls++
		return errors.New("server down")
	}, func(error, time.Duration) { cancel() })
	if calls != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("Do = %v after %d calls, want context.Canceled after 1", err, calls)
	}
}

// Waits grow 1.5 times from Initial to Max, each within the upper Jitter
// share of its interval and never above Max.
func TestPolicyWaits(t *testing.T) {
	p := NewPolicy(100*time.Millisecond, time.Second)
	intervals := []time.Duration{100, 150, 225, 337, 506, 759, 1000, 1000, 1000}
	b := p.BackOff()
	for range 200 {
		b.Reset()
		for n, i := range intervals {
			i *= time.Millisecond
			lo, hi := i/2-time.Millisecond, i+time.Millisecond // the intervals above are rounded
			if d := b.NextBackOff(); d < lo || d > hi || d > p.Max {
				t.Fatalf("wait %d = %v, want %v..%v", n+1, d, lo, hi)
			}
			if d := p.Delay(uint64(n + 1)); d < lo || d > hi || d > p.Max {
				t.Fatalf("Delay(%d) = %v, want %v..%v", n+1, d, lo, hi)
			}
		}
	}
	if d := p.Delay(1 << 40); d < p.Max/2 || d > p.Max {
		t.Errorf("Delay(2^40) = %v, want %v..%v", d, p.Max/2, p.Max)
	}
	// The waits do spread over the interval's upper half.
	lo, hi := p.Max, time.Duration(0)
	for range 1000 {
		d := p.Delay(1)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo > 60*time.Millisecond || hi < 90*time.Millisecond {
		t.Errorf("1000 first waits within %v..%v, want them spread over 50ms..100ms", lo, hi)
	}
	exact := Policy{Initial: time.Second, Max: 10 * time.Second}
	for n, want := range []time.Duration{1000, 1500, 2250, 3375, 5062, 7593, 10000, 10000} {
		want *= time.Millisecond
		if d := exact.Delay(uint64(n + 1)); d.Round(time.Millisecond) != want && d.Truncate(time.Millisecond) != want {
			t.Errorf("without jitter, Delay(%d) = %v, want %v", n+1, d, want)
		}
	}
}
