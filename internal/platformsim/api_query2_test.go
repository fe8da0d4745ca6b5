package platformsim

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/axeapi"
)

// seedBindings creates n bindings on x, the clock moving 1 ms every 7
// bindings so that page boundaries fall inside a millisecond too.
func (h *apiHarness) seedBindings(x string, n int) map[string]bool {
	h.t.Helper()
	ids := map[string]bool{}
	for i := range n {
		if i%7 == 0 {
			h.clock.Advance(time.Millisecond)
		}
		bd, err := h.bindings.Create(Binding{VirtualNum: x, BindNum: fmt.Sprintf("+86139%08d", i), TimeUnit: "0", BindExpiredTime: 24}, h.clock.Now())
		if err != nil {
			h.t.Fatal(err)
		}
		ids[bd.SubscriptionID] = true
	}
	return ids
}

func TestQueryV2PagesThroughEveryBinding(t *testing.T) {
	h := newAPIHarness(t, nil)
	ctx := context.Background()
	want := h.seedBindings(testX1, 250)
	h.seedBindings(testX2, 5) // another X: never listed

	got := map[string]bool{}
	for b, err := range h.client.QueryBindingsV2(ctx, axeapi.BindingRef{VirtualNum: testX1}, 100) {
		if err != nil {
			t.Fatal(err)
		}
		if got[b.SubscriptionID] {
			t.Errorf("%s listed twice", b.SubscriptionID)
		}
		got[b.SubscriptionID] = true
		if !want[b.SubscriptionID] || b.VirtualNum != testX1 || b.BindExpiredTime != 24 || b.ExtendNum == "" {
			t.Errorf("unexpected binding %+v", b)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d bindings listed, want %d", len(got), len(want))
	}
	if n := h.v2Calls.Load(); n != 3 {
		t.Errorf("%d pages fetched, want 3", n)
	}

	// Stopping after the first page, even on its last binding, fetches no
	// second page.
	for _, stopAfter := range []int{1, 100} {
		h.v2Calls.Store(0)
		seen := 0
		for _, err := range h.client.QueryBindingsV2(ctx, axeapi.BindingRef{VirtualNum: testX1}, 100) {
			if err != nil {
				t.Fatal(err)
			}
			if seen++; seen == stopAfter {
				break
			}
		}
		if n := h.v2Calls.Load(); n != 1 {
			t.Errorf("break after %d: %d requests, want 1", stopAfter, n)
		}
	}

	// One binding by its ID; an X without bindings is an empty listing.
	var id string
	for id = range want {
		break
	}
	n := 0
	for b, err := range h.client.QueryBindingsV2(ctx, axeapi.BindingRef{SubscriptionID: id}, 0) {
		if err != nil || b.SubscriptionID != id {
			t.Errorf("by subscriptionId: %+v, %v", b, err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("by subscriptionId: %d bindings", n)
	}
	for b, err := range h.client.QueryBindingsV2(ctx, axeapi.BindingRef{VirtualNum: testXShenzhen}, 10) {
		t.Errorf("X without bindings listed %+v, %v", b, err)
	}
}

func TestQueryV2RefusesBadPageParameters(t *testing.T) {
	h := newAPIHarness(t, nil)
	x := url.QueryEscape(testX1)
	for _, q := range []string{
		"virtualNum=" + x + "&limit=0",
		"virtualNum=" + x + "&limit=101",
		"virtualNum=" + x + "&limit=ten",
		"virtualNum=" + x + "&cursor=0_0",
		"virtualNum=" + x + "&cursor=0000000000000-0",
		"virtualNum=" + x + "&cursor=0000000000000_123456789012345678901",
		"limit=10",
	} {
		for _, path := range []string{axeapi.PathAXEv2, axeapi.PathVirtualNumber} {
			if path == axeapi.PathVirtualNumber && q == "limit=10" {
				continue // number is optional there
			}
			status, _, body := h.raw("GET", path+"?"+q, nil, "", true)
			if status != 403 || body["resultcode"] != "1010002" {
				t.Errorf("%s?%s: HTTP %d %v, want 403 1010002", path, q, status, body)
			}
		}
	}
	for _, path := range []string{axeapi.PathAXEv2, axeapi.PathVirtualNumber} {
		status, _, body := h.raw("GET", path+"?virtualNum="+x+"&number="+x, nil, "", false)
		if status != 400 || body["resultcode"] != "1023006" {
			t.Errorf("unsigned %s: HTTP %d %v, want 400 1023006", path, status, body)
		}
	}
}

func TestCountBindings(t *testing.T) {
	h := newAPIHarness(t, nil)
	ctx := context.Background()
	h.seedBindings(testX1, 120)
	h.seedBindings(testX2, 3)
	for x, want := range map[string]int{testX1: 120, testX2: 3, testXShenzhen: 0} {
		if n, err := h.client.CountBindings(ctx, x); err != nil || n != want {
			t.Errorf("CountBindings(%s) = %d, %v; want %d", x, n, err, want)
		}
	}
	_, err := h.client.CountBindings(ctx, "+8613811112222")
	wantResult(t, err, "1011001", nil)

	// Without number, the app's numbers are paged.
	status, _, body := h.raw("GET", axeapi.PathVirtualNumber+"?cursor=0000000000000_0&limit=2", nil, "", true)
	list, _ := body["numberList"].([]any)
	if status != 200 || len(list) != 2 || body["nextCusor"] != "0000000000000_2" {
		t.Fatalf("first page: HTTP %d %v", status, body)
	}
	status, _, body = h.raw("GET", axeapi.PathVirtualNumber+"?cursor=0000000000000_2&limit=2", nil, "", true)
	list, _ = body["numberList"].([]any)
	if _, more := body["nextCusor"]; status != 200 || len(list) != 1 || more {
		t.Errorf("last page: HTTP %d %v", status, body)
	}
}
