package platformsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// X-number status pushes (X号码状态通知, reference §11.1). A number fault
// makes an X unusable with a documented cause for a while: the simulator
// pushes the unusable state when the fault starts, fails every call through
// that X meanwhile (callin, then a disconnect with stateCode 8055 "X
// unusable" and the CDR to match), and pushes the number usable again when
// the fault ends or is cleared. New bindings on the X are not refused: the
// platform's answer to them is not documented.

// Status codes the simulator sends. Which of 5, 9, 10 and 11 means usable,
// paused and unusable, or frozen for binding is UNCONFIRMED (the doc's
// table and prose do not line up); the simulator's pick is below, and a
// NumberFault may send another code for the unusable state.
const (
	StatusUsable   = "5"  // usable
	StatusUnusable = "9"  // paused and unusable: no binding, calls or SMS
	StatusFrozen   = "10" // frozen for binding: existing bindings keep working (not sent by default)
)

// numberFaultCauses are the causes a NumberFault may give: every
// documented cause of an unusable number (6, restriction lifted, is what
// the end of a cause-5 fault sends).
var numberFaultCauses = []string{
	privatenumber.CauseDeleted, privatenumber.CauseArrears, privatenumber.CauseSuspended, privatenumber.CauseCallsRestricted,
	privatenumber.CauseForwardAlways, privatenumber.CauseForwardNoAnswer, privatenumber.CauseForwardBusy,
}

// NumberFault makes the X number Number unusable for For, with Cause
// (1, 2, 3, 5, 7, 8 or 9) and Status (default StatusUnusable).
type NumberFault struct {
	Number string   `json:"number"`
	Cause  string   `json:"cause"`
	Status string   `json:"status,omitempty"`
	For    Duration `json:"for"`
}

func (n NumberFault) validate() error {
	var errs []error
	if !e164.MatchString(n.Number) {
		errs = append(errs, fmt.Errorf("number %q: want E.164 such as +8617000000001", n.Number))
	}
	if !slices.Contains(numberFaultCauses, n.Cause) {
		errs = append(errs, fmt.Errorf("cause %q: want one of %v", n.Cause, numberFaultCauses))
	}
	if n.Status != "" && !slices.Contains(privatenumber.NumberStatusCodes, n.Status) {
		errs = append(errs, fmt.Errorf("status %q: want one of %v", n.Status, privatenumber.NumberStatusCodes))
	}
	return errors.Join(errs...)
}

// status is the code of the unusable state.
func (n NumberFault) status() string {
	if n.Status == "" {
		return StatusUnusable
	}
	return n.Status
}

type numberFault struct {
	NumberFault
	until time.Time
}

// NumInfo is one item of an X-number status push.
type NumInfo struct {
	Number string `json:"number"`
	Status string `json:"status"`
	Cause  string `json:"cause,omitempty"`
}

// NumStatusBody returns the body of an X-number status push.
func NumStatusBody(items []NumInfo) []byte {
	b, err := json.Marshal(struct {
		EventType string    `json:"eventType"`
		NumInfo   []NumInfo `json:"numInfo"`
	}{privatenumber.EventTypeNumStatus, items})
	if err != nil {
		panic(fmt.Sprintf("platformsim: marshal numStatus: %v", err)) // strings only: cannot fail
	}
	return b
}

func (f *Faults) signalNumbers() {
	select {
	case f.numbersChanged <- struct{}{}:
	default: // a signal is pending already
	}
}

// unusableNumbers returns the number faults in effect at now, and when the
// next of them ends (zero when none does).
func (f *Faults) unusableNumbers(now time.Time) (map[string]NumberFault, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]NumberFault, len(f.numbers))
	var next time.Time
	for x, n := range f.numbers {
		if !now.Before(n.until) {
			delete(f.numbers, x) // over: the watcher pushes it usable
			continue
		}
		out[x] = n.NumberFault
		if next.IsZero() || n.until.Before(next) {
			next = n.until
		}
	}
	return out, next
}

// numberUnusable reports whether a number fault on x is in effect at now.
func (f *Faults) numberUnusable(x string, now time.Time) bool {
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.numbers[x]
	return ok && now.Before(n.until)
}

// watchNumbers pushes the X-number states the number faults call for,
// until ctx is done: the unusable state when a fault starts or changes,
// the usable one when it ends (cause 6, restriction lifted, after a cause-5
// fault; no cause otherwise). The changes of one moment go in one push, at
// most MaxNumInfoItems items each.
func (s *Simulator) watchNumbers(ctx context.Context) error {
	pushed := map[string]NumberFault{} // the unusable states pushed and not yet ended
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		want, next := s.faults.unusableNumbers(time.Now())
		var items []NumInfo
		for x, n := range want {
			if p, ok := pushed[x]; !ok || p.Cause != n.Cause || p.status() != n.status() {
				items = append(items, NumInfo{Number: x, Status: n.status(), Cause: n.Cause})
				pushed[x] = n
			}
		}
		for x, p := range pushed {
			if _, ok := want[x]; !ok {
				item := NumInfo{Number: x, Status: StatusUsable}
				if p.Cause == privatenumber.CauseCallsRestricted {
					item.Cause = privatenumber.CauseRestrictionLifted
				}
				items = append(items, item)
				delete(pushed, x)
			}
		}
		slices.SortFunc(items, func(a, b NumInfo) int { return strings.Compare(a.Number, b.Number) })
		for chunk := range slices.Chunk(items, privatenumber.MaxNumInfoItems) {
			if err := s.pusher.PushNumStatus(ctx, NumStatusBody(chunk), fmt.Sprintf("numStatus push of %d numbers from %s", len(chunk), chunk[0].Number)); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("push numStatus: %w", err)
			}
			s.log.Info("X-number states pushed", zap.Any("numInfo", chunk))
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-s.faults.numbersChanged:
		}
	}
}
