package platformsim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors of the binding store. The API maps each to the platform's result
// code in one place (apiErrorFor in api.go).
var (
	// ErrBindingNotFound: no active binding has that subscriptionId or
	// virtualNum+extendNum (1012007).
	ErrBindingNotFound = errors.New("binding not found")
	// ErrExtensionTaken: the requested extendNum is in use on that X, or X
	// has no idle extension left (1020167 "No idle extend Number").
	ErrExtensionTaken = errors.New("no idle extend number")
	// ErrDuplicateBinding: the A number is already bound on that X
	// (1012008; the FAQ lists "duplicate bind" under it, UNCONFIRMED for AXE).
	ErrDuplicateBinding = errors.New("bindNum already bound on this virtualNum")
)

// Binding is one AXE binding: callers dial X (VirtualNum), key E
// (ExtendNum) and reach A (BindNum).
//
// TimeUnit, BindExpiredTime and CallbackExpiredTime are the values the
// query API reports; ExpiresAt is authoritative for expiry. They differ
// after a modify when the bind already set the lifetime: the platform then
// keeps reporting the bind-time values (reference §3, quirk).
type Binding struct {
	SubscriptionID string `json:"subscriptionId"`
	VirtualNum     string `json:"virtualNum"` // X
	BindNum        string `json:"bindNum"`    // A
	ExtendNum      string `json:"extendNum"`  // E

	DisplayNumMode string `json:"displayNumMode"`
	RecordFlag     bool   `json:"recordFlag"`
	RecordHintTone string `json:"recordHintTone,omitempty"`
	CallbackTone   string `json:"callbackTone,omitempty"`
	CallbackNum    string `json:"callbackNum,omitempty"`

	TimeUnit            string `json:"timeUnit"` // "0" hours, "1" minutes
	BindExpiredTime     int    `json:"bindExpiredTime"`
	CallbackExpiredTime int    `json:"callbackExpiredTime"`
	UserData            string `json:"userData,omitempty"`

	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"` // zero = never

	// ExpirySetAtBind records that the bind request itself carried
	// timeUnit or bindExpiredTime, which freezes the reported values.
	ExpirySetAtBind bool `json:"expirySetAtBind,omitempty"`
	// CallbackValidity is the effective lifetime of a callback record made
	// by a call on this binding; 0 = as long as the binding. Create sets it
	// from TimeUnit and CallbackExpiredTime; a modify may change it.
	CallbackValidity time.Duration `json:"callbackValidity,omitempty"`
}

// Active reports whether the binding has not expired at now.
func (b Binding) Active(now time.Time) bool {
	return b.ExpiresAt.IsZero() || now.Before(b.ExpiresAt)
}

// CallbackLifetime is the lifetime of a callback record created by a call
// on this binding (CallbackValidity); 0 means the record lives as long as
// the binding.
func (b Binding) CallbackLifetime() time.Duration {
	return b.CallbackValidity
}

// lifetime converts a bind-API amount in unit ("1" minutes, else hours).
func lifetime(unit string, amount int) time.Duration {
	if unit == "1" {
		return time.Duration(amount) * time.Minute
	}
	return time.Duration(amount) * time.Hour
}

type extKey struct{ x, e string }

// Bindings is the simulator's binding store, safe for concurrent use.
// With a path, every change is written to that JSON file (atomically, by
// rename) before it is acknowledged, and the file is loaded at start.
type Bindings struct {
	mu     sync.Mutex
	path   string
	digits int
	seq    uint64
	byID   map[string]*Binding
	byExt  map[extKey]string
}

// storeFile is the persisted form of a Bindings.
type storeFile struct {
	Seq      uint64    `json:"seq"`
	Digits   int       `json:"extensionDigits"`
	Bindings []Binding `json:"bindings"`
}

// NewBindings returns a store whose extensions have extensionDigits digits
// (1..4, the app's console setting). path "" keeps the bindings in memory
// only; otherwise the file is loaded if it exists. A file written with a
// different number of digits is refused.
func NewBindings(path string, extensionDigits int) (*Bindings, error) {
	if extensionDigits < 1 || extensionDigits > 4 {
		return nil, fmt.Errorf("extension digits %d: want 1..4", extensionDigits)
	}
	b := &Bindings{path: path, digits: extensionDigits, byID: map[string]*Binding{}, byExt: map[extKey]string{}}
	if path == "" {
		return b, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load bindings: %w", err)
	}
	var f storeFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("load bindings %s: %w", path, err)
	}
	if f.Digits != extensionDigits {
		return nil, fmt.Errorf("load bindings %s: written with %d extension digits, configured %d", path, f.Digits, extensionDigits)
	}
	b.seq = f.Seq
	for i := range f.Bindings {
		bd := f.Bindings[i]
		b.byID[bd.SubscriptionID] = &bd
		b.byExt[extKey{bd.VirtualNum, bd.ExtendNum}] = bd.SubscriptionID
	}
	return b, nil
}

// ExtensionDigits is the configured length of E.
func (b *Bindings) ExtensionDigits() int { return b.digits }

// Snapshot returns the active (unexpired) bindings at now, ordered by
// creation.
func (b *Bindings) Snapshot(now time.Time) []Binding {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Binding, 0, len(b.byID))
	for _, bd := range b.byID {
		if bd.Active(now) {
			out = append(out, *bd)
		}
	}
	slices.SortFunc(out, func(x, y Binding) int {
		if c := x.CreatedAt.Compare(y.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.SubscriptionID, y.SubscriptionID)
	})
	return out
}

// Get returns the binding with that subscriptionId. It may have expired
// but not yet been purged: check Active.
func (b *Bindings) Get(subscriptionID string) (Binding, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bd, ok := b.byID[subscriptionID]
	if !ok {
		return Binding{}, false
	}
	return *bd, true
}

// ByExtension returns the binding of E on X. It may have expired but not
// yet been purged: check Active.
func (b *Bindings) ByExtension(virtualNum, extendNum string) (Binding, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id, ok := b.byExt[extKey{virtualNum, extendNum}]
	if !ok {
		return Binding{}, false
	}
	return *b.byID[id], true
}

// Create stores a new binding at now. An empty ExtendNum gets the lowest
// idle extension of X (1..10^digits-1, zero-padded); a requested one must
// be idle. SubscriptionID, CreatedAt, ExpiresAt and CallbackValidity are
// set here from TimeUnit, BindExpiredTime (0 = never) and
// CallbackExpiredTime. Errors:
// ErrExtensionTaken, ErrDuplicateBinding, or a persistence failure.
// The caller validates the fields.
func (b *Bindings) Create(bd Binding, now time.Time) (Binding, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.purgeLocked(now)
	for _, other := range b.byID {
		if other.VirtualNum == bd.VirtualNum && other.BindNum == bd.BindNum {
			return Binding{}, ErrDuplicateBinding
		}
	}
	if bd.ExtendNum == "" {
		e, ok := b.idleLocked(bd.VirtualNum)
		if !ok {
			return Binding{}, ErrExtensionTaken
		}
		bd.ExtendNum = e
	} else if _, taken := b.byExt[extKey{bd.VirtualNum, bd.ExtendNum}]; taken {
		return Binding{}, ErrExtensionTaken
	}
	b.seq++
	bd.SubscriptionID = subscriptionID(b.seq, bd.VirtualNum, bd.ExtendNum)
	bd.CreatedAt = now.UTC()
	bd.ExpiresAt = expiry(now, bd.TimeUnit, bd.BindExpiredTime)
	bd.CallbackValidity = lifetime(bd.TimeUnit, bd.CallbackExpiredTime)
	b.byID[bd.SubscriptionID] = &bd
	b.byExt[extKey{bd.VirtualNum, bd.ExtendNum}] = bd.SubscriptionID
	if err := b.saveLocked(); err != nil {
		b.removeLocked(bd.SubscriptionID)
		b.seq--
		return Binding{}, err
	}
	return bd, nil
}

// IdleExtensions reports how many extensions of X are free at now.
func (b *Bindings) IdleExtensions(virtualNum string, now time.Time) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.purgeLocked(now)
	used := 0
	for k := range b.byExt {
		if k.x == virtualNum {
			used++
		}
	}
	return b.capacity() - used
}

// Lookup finds an active binding by subscriptionId or, when that is empty,
// by virtualNum+extendNum, as the unbind, query and modify APIs do.
func (b *Bindings) Lookup(subscriptionID, virtualNum, extendNum string, now time.Time) (Binding, error) {
	var (
		bd Binding
		ok bool
	)
	if subscriptionID != "" {
		bd, ok = b.Get(subscriptionID)
	} else {
		bd, ok = b.ByExtension(virtualNum, extendNum)
	}
	if !ok || !bd.Active(now) {
		return Binding{}, ErrBindingNotFound
	}
	return bd, nil
}

// Delete removes an active binding. Errors: ErrBindingNotFound, or a
// persistence failure (the binding is then kept).
func (b *Bindings) Delete(subscriptionID string, now time.Time) (Binding, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	bd, ok := b.byID[subscriptionID]
	if !ok || !bd.Active(now) {
		return Binding{}, ErrBindingNotFound
	}
	old := *bd
	b.removeLocked(subscriptionID)
	if err := b.saveLocked(); err != nil {
		b.byID[old.SubscriptionID] = &old
		b.byExt[extKey{old.VirtualNum, old.ExtendNum}] = old.SubscriptionID
		return Binding{}, err
	}
	return old, nil
}

// Modify applies update to a copy of the active binding and stores the
// result; an update error leaves the binding unchanged and is returned as
// is. update must not change SubscriptionID, VirtualNum or ExtendNum.
// Errors: ErrBindingNotFound, update's error, or a persistence failure.
func (b *Bindings) Modify(subscriptionID string, now time.Time, update func(*Binding) error) (Binding, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, ok := b.byID[subscriptionID]
	if !ok || !cur.Active(now) {
		return Binding{}, ErrBindingNotFound
	}
	next := *cur
	if err := update(&next); err != nil {
		return Binding{}, err
	}
	if next.SubscriptionID != cur.SubscriptionID || next.VirtualNum != cur.VirtualNum || next.ExtendNum != cur.ExtendNum {
		return Binding{}, errors.New("modify: identity fields changed")
	}
	old := *cur
	*cur = next
	if err := b.saveLocked(); err != nil {
		*cur = old
		return Binding{}, err
	}
	return next, nil
}

// expiry is now plus the bind lifetime, or zero for 0 (never).
func expiry(now time.Time, unit string, amount int) time.Time {
	if amount == 0 {
		return time.Time{}
	}
	return now.UTC().Add(lifetime(unit, amount))
}

func (b *Bindings) capacity() int {
	c := 1
	for range b.digits {
		c *= 10
	}
	return c - 1 // all zeros is not an extension: capacity 9/99/999/9999
}

func (b *Bindings) idleLocked(virtualNum string) (string, bool) {
	for n := 1; n <= b.capacity(); n++ {
		e := fmt.Sprintf("%0*d", b.digits, n)
		if _, taken := b.byExt[extKey{virtualNum, e}]; !taken {
			return e, true
		}
	}
	return "", false
}

// purgeLocked forgets expired bindings so their extensions become idle.
// It changes only derived state, so it is not persisted by itself.
func (b *Bindings) purgeLocked(now time.Time) {
	for id, bd := range b.byID {
		if !bd.Active(now) {
			b.removeLocked(id)
		}
	}
}

func (b *Bindings) removeLocked(id string) {
	if bd, ok := b.byID[id]; ok {
		delete(b.byExt, extKey{bd.VirtualNum, bd.ExtendNum})
		delete(b.byID, id)
	}
}

// saveLocked writes the store to its file through a temporary file and a
// rename, so a crash leaves either the old or the new content.
func (b *Bindings) saveLocked() error {
	if b.path == "" {
		return nil
	}
	f := storeFile{Seq: b.seq, Digits: b.digits, Bindings: make([]Binding, 0, len(b.byID))}
	for _, bd := range b.byID {
		f.Bindings = append(f.Bindings, *bd)
	}
	slices.SortFunc(f.Bindings, func(x, y Binding) int { return strings.Compare(x.SubscriptionID, y.SubscriptionID) })
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("save bindings: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(b.path), filepath.Base(b.path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("save bindings: %w", err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name()) // best effort; the write error is what matters
		return fmt.Errorf("save bindings: %w", err)
	}
	if err := os.Rename(tmp.Name(), b.path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("save bindings: %w", err)
	}
	return nil
}

// subscriptionID derives a UUID-shaped id from the store's sequence number
// and the binding's X and E, so a seeded run produces the same ids.
func subscriptionID(seq uint64, x, e string) string {
	sum := sha256.Sum256([]byte(strconv.FormatUint(seq, 10) + "|" + x + "|" + e))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
