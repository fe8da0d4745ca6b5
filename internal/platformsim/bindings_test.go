package platformsim

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var bindT0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func TestBindingsAllocateAndExhaust(t *testing.T) {
	b, err := NewBindings("", 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 9; i++ {
		got, err := b.Create(Binding{VirtualNum: testX1, BindNum: "+861390000000" + string(rune('0'+i)), BindExpiredTime: 1}, bindT0)
		if err != nil {
			t.Fatalf("binding %d: %v", i, err)
		}
		if want := string(rune('0' + i)); got.ExtendNum != want {
			t.Errorf("binding %d got extension %q, want %q", i, got.ExtendNum, want)
		}
	}
	if n := b.IdleExtensions(testX1, bindT0); n != 0 {
		t.Errorf("%d idle extensions, want 0", n)
	}
	if _, err := b.Create(Binding{VirtualNum: testX1, BindNum: "+8613700000000"}, bindT0); !errors.Is(err, ErrExtensionTaken) {
		t.Errorf("tenth binding on a 1-digit X: %v, want ErrExtensionTaken", err)
	}
	if _, err := b.Create(Binding{VirtualNum: testX2, BindNum: testA2}, bindT0); err != nil {
		t.Errorf("another X is not full: %v", err)
	}
	// An hour later the nine 1-hour bindings are gone and their extensions idle.
	later := bindT0.Add(time.Hour)
	if n := len(b.Snapshot(later)); n != 1 {
		t.Errorf("%d active bindings after expiry, want 1", n)
	}
	if _, err := b.Create(Binding{VirtualNum: testX1, BindNum: testA2, ExtendNum: "5"}, later); err != nil {
		t.Errorf("expired extension not reusable: %v", err)
	}
	if _, err := NewBindings("", 5); err == nil {
		t.Error("5 extension digits accepted")
	}
}

func TestBindingsPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bindings.json")
	b, err := NewBindings(path, 4)
	if err != nil {
		t.Fatal(err)
	}
	first, err := b.Create(Binding{VirtualNum: testX1, BindNum: testA1, TimeUnit: "1", BindExpiredTime: 90, CallbackExpiredTime: 30, RecordFlag: true}, bindT0)
	if err != nil {
		t.Fatal(err)
	}
	second, err := b.Create(Binding{VirtualNum: testX1, BindNum: testA2}, bindT0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if first.ExpiresAt != bindT0.Add(90*time.Minute) || first.CallbackLifetime() != 30*time.Minute {
		t.Errorf("lifetimes: expires %v, callback %v", first.ExpiresAt, first.CallbackLifetime())
	}
	if _, err := b.Modify(second.SubscriptionID, bindT0, func(bd *Binding) error { bd.UserData = "kept"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Delete(first.SubscriptionID, bindT0); err != nil {
		t.Fatal(err)
	}

	reopened, err := NewBindings(path, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reopened.Get(first.SubscriptionID); ok {
		t.Error("deleted binding came back")
	}
	got, ok := reopened.ByExtension(testX1, second.ExtendNum)
	if !ok || got.UserData != "kept" || got.SubscriptionID != second.SubscriptionID {
		t.Errorf("reloaded %+v, %v", got, ok)
	}
	// The sequence survives, so a new binding gets a new ID.
	third, err := reopened.Create(Binding{VirtualNum: testX2, BindNum: testA1}, bindT0)
	if err != nil || third.SubscriptionID == first.SubscriptionID || third.SubscriptionID == second.SubscriptionID {
		t.Errorf("third binding %+v, %v", third, err)
	}
	if _, err := NewBindings(path, 3); err == nil {
		t.Error("file of 4-digit extensions opened with 3")
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewBindings(path, 4); err == nil {
		t.Error("corrupt file accepted")
	}
}

func TestBindingsModifyAndLookup(t *testing.T) {
	b, err := NewBindings("", 2)
	if err != nil {
		t.Fatal(err)
	}
	bd, err := b.Create(Binding{VirtualNum: testX1, BindNum: testA1}, bindT0)
	if err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("refused")
	if _, err := b.Modify(bd.SubscriptionID, bindT0, func(x *Binding) error { x.UserData = "lost"; return refuse }); !errors.Is(err, refuse) {
		t.Errorf("Modify = %v, want the update's error", err)
	}
	if _, err := b.Modify(bd.SubscriptionID, bindT0, func(x *Binding) error { x.ExtendNum = "99"; return nil }); err == nil {
		t.Error("Modify changed the extension")
	}
	if got, _ := b.Get(bd.SubscriptionID); got.UserData != "" || got.ExtendNum != "01" {
		t.Errorf("failed modifies changed the binding: %+v", got)
	}
	if _, err := b.Lookup("", testX1, "01", bindT0); err != nil {
		t.Errorf("Lookup by extension: %v", err)
	}
	if _, err := b.Lookup("nope", "", "", bindT0); !errors.Is(err, ErrBindingNotFound) {
		t.Errorf("Lookup unknown: %v", err)
	}
	if _, err := b.Delete("nope", bindT0); !errors.Is(err, ErrBindingNotFound) {
		t.Errorf("Delete unknown: %v", err)
	}
	// Seeded runs see the same IDs: they derive from the sequence, X and E.
	other, _ := NewBindings("", 2)
	same, _ := other.Create(Binding{VirtualNum: testX1, BindNum: testA1}, bindT0.Add(time.Hour))
	if same.SubscriptionID != bd.SubscriptionID {
		t.Errorf("IDs differ between identical runs: %s, %s", same.SubscriptionID, bd.SubscriptionID)
	}
}
