package platformsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pnstream/pnstream/internal/axeapi"
)

// FaultsPath is the admin endpoint of fault injection: GET shows the
// active faults, PUT or POST sets the faults named in a FaultSpec body,
// DELETE clears them all. It has no authentication: the simulator is a
// test tool and listens on loopback.
const FaultsPath = "/sim/faults"

// FaultSpec names faults to inject, each for a while. A member left out
// is not changed by Faults.Set.
type FaultSpec struct {
	Push        *PushFault     `json:"push,omitempty"`
	Download    *DownloadFault `json:"download,omitempty"`
	ExpireURLs  *Window        `json:"expireUrls,omitempty"`
	FlowControl *Window        `json:"flowControl,omitempty"`
	// Numbers make X numbers unusable, each for a while (numstatus.go):
	// each is set or replaced by its number, the others are left as they
	// are.
	Numbers []NumberFault `json:"numbers,omitempty"`
}

// PushFault disturbs pushes to the callback URLs. Every attempt (first push
// or re-push) in the window is affected; a failed attempt is re-pushed on
// the documented schedule.
type PushFault struct {
	// Delay holds each attempt this long before sending it: a slow platform.
	Delay Duration `json:"delay,omitempty"`
	// Status, when set, fails each attempt as if the receiver had answered
	// it, without sending anything: the receiver is unreachable.
	Status int `json:"status,omitempty"`
	// LoseAnswer sends each attempt but counts it as failed whatever the
	// answer: the receiver stored the push, and the platform pushes it again.
	LoseAnswer bool `json:"loseAnswer,omitempty"`
	// For is how long the fault lasts from when it is set.
	For Duration `json:"for"`
}

// DownloadFault cuts recording downloads short.
type DownloadFault struct {
	// DropAfterBytes closes the connection after this many body bytes of
	// each download (0: right after the headers).
	DropAfterBytes int64 `json:"dropAfterBytes"`
	// For is how long the fault lasts from when it is set.
	For Duration `json:"for"`
}

// Window is a fault with no parameters: on for a while.
type Window struct {
	For Duration `json:"for"`
}

// Duration is a time.Duration written in JSON as "1m30s".
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string such as "30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// Validate reports every problem of the spec.
func (s FaultSpec) Validate() error {
	var errs []error
	window := func(name string, d Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s.for %s: want > 0", name, time.Duration(d)))
		}
	}
	if p := s.Push; p != nil {
		window("push", p.For)
		if p.Status != 0 && (p.Status < 100 || p.Status > 599 || p.Status == http.StatusOK) {
			errs = append(errs, fmt.Errorf("push.status %d: want a non-200 HTTP status", p.Status))
		}
		if p.Delay < 0 {
			errs = append(errs, fmt.Errorf("push.delay %s: want >= 0", time.Duration(p.Delay)))
		}
		if p.Status == 0 && !p.LoseAnswer && p.Delay == 0 {
			errs = append(errs, errors.New("push: set status, loseAnswer or delay"))
		}
	}
	if d := s.Download; d != nil {
		window("download", d.For)
		if d.DropAfterBytes < 0 {
			errs = append(errs, fmt.Errorf("download.dropAfterBytes %d: want >= 0", d.DropAfterBytes))
		}
	}
	if s.ExpireURLs != nil {
		window("expireUrls", s.ExpireURLs.For)
	}
	if s.FlowControl != nil {
		window("flowControl", s.FlowControl.For)
	}
	for i, n := range s.Numbers {
		window(fmt.Sprintf("numbers[%d]", i), n.For)
		if err := n.validate(); err != nil {
			errs = append(errs, fmt.Errorf("numbers[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// Faults holds the faults in effect, each until its window ends. It is
// safe for concurrent use; a nil *Faults injects nothing.
type Faults struct {
	now func() time.Time

	mu               sync.Mutex
	push             PushFault
	pushUntil        time.Time
	download         DownloadFault
	downloadUntil    time.Time
	expireURLsUntil  time.Time
	flowControlUntil time.Time
	numbers          map[string]numberFault // by X number
	numbersChanged   chan struct{}          // signalled on every Set and Clear of numbers
}

// NewFaults returns a Faults with none in effect. now nil means time.Now.
func NewFaults(now func() time.Time) *Faults {
	if now == nil {
		now = time.Now
	}
	return &Faults{now: now, numbers: map[string]numberFault{}, numbersChanged: make(chan struct{}, 1)}
}

// Set starts the faults of spec, each for its For from now, replacing
// faults of the same kind. It fails, changing nothing, on an invalid spec.
func (f *Faults) Set(spec FaultSpec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	now := f.now()
	until := func(d Duration) time.Time { return now.Add(time.Duration(d)) }
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := spec.Push; p != nil {
		f.push, f.pushUntil = *p, until(p.For)
	}
	if d := spec.Download; d != nil {
		f.download, f.downloadUntil = *d, until(d.For)
	}
	if w := spec.ExpireURLs; w != nil {
		f.expireURLsUntil = until(w.For)
	}
	if w := spec.FlowControl; w != nil {
		f.flowControlUntil = until(w.For)
	}
	for _, n := range spec.Numbers {
		f.numbers[n.Number] = numberFault{NumberFault: n, until: until(n.For)}
	}
	if len(spec.Numbers) > 0 {
		f.signalNumbers()
	}
	return nil
}

// Clear ends every fault.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.push, f.pushUntil = PushFault{}, time.Time{}
	f.download, f.downloadUntil = DownloadFault{}, time.Time{}
	f.expireURLsUntil, f.flowControlUntil = time.Time{}, time.Time{}
	if len(f.numbers) > 0 {
		clear(f.numbers)
		f.signalNumbers()
	}
}

// Active returns the faults in effect, For being the time each has left.
func (f *Faults) Active() FaultSpec {
	if f == nil {
		return FaultSpec{}
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	left := func(until time.Time) (Duration, bool) {
		return Duration(until.Sub(now).Round(time.Millisecond)), now.Before(until)
	}
	var s FaultSpec
	if d, ok := left(f.pushUntil); ok {
		p := f.push
		p.For = d
		s.Push = &p
	}
	if d, ok := left(f.downloadUntil); ok {
		p := f.download
		p.For = d
		s.Download = &p
	}
	if d, ok := left(f.expireURLsUntil); ok {
		s.ExpireURLs = &Window{For: d}
	}
	if d, ok := left(f.flowControlUntil); ok {
		s.FlowControl = &Window{For: d}
	}
	for _, n := range f.numbers {
		if d, ok := left(n.until); ok {
			nf := n.NumberFault
			nf.For = d
			s.Numbers = append(s.Numbers, nf)
		}
	}
	slices.SortFunc(s.Numbers, func(a, b NumberFault) int { return strings.Compare(a.Number, b.Number) })
	return s
}

// APIFault answers API requests with flow control (1010010) while that
// fault is on; it is the APIConfig.Fault of the simulator.
func (f *Faults) APIFault(*http.Request) *axeapi.APIError {
	if f == nil || !f.open(&f.flowControlUntil, f.now()) {
		return nil
	}
	return &axeapi.APIError{ResultCode: "1010010", ResultDesc: "Flow control: the request rate exceeds the limit, retry after a minute"}
}

// open reports whether the window ending at *until is open at now.
func (f *Faults) open(until *time.Time, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return now.Before(*until)
}

// pushFault returns the push fault in effect at now.
func (f *Faults) pushFault(now time.Time) (PushFault, bool) {
	if f == nil {
		return PushFault{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.push, now.Before(f.pushUntil)
}

// downloadDrop returns after how many bytes downloads are cut at now.
func (f *Faults) downloadDrop(now time.Time) (int64, bool) {
	if f == nil {
		return 0, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.download.DropAfterBytes, now.Before(f.downloadUntil)
}

// urlsExpired reports whether every download URL counts as expired at now.
func (f *Faults) urlsExpired(now time.Time) bool {
	return f != nil && f.open(&f.expireURLsUntil, now)
}

// ServeHTTP serves FaultsPath.
func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut, http.MethodPost:
		var spec FaultSpec
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields() // a misspelt fault must not pass silently
		if err := dec.Decode(&spec); err != nil {
			http.Error(w, "fault spec: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := f.Set(spec); err != nil {
			http.Error(w, "fault spec: "+err.Error(), http.StatusBadRequest)
			return
		}
	case http.MethodDelete:
		f.Clear()
	default:
		w.Header().Set("Allow", "GET, PUT, POST, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	writeJSON(w, http.StatusOK, f.Active())
}
