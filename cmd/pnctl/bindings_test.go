package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/platformsim"
)

// seeded serves 250 bindings on ctlX and counts the requests by path.
func seeded(t *testing.T) ([]string, map[string]bool, *sync.Map) {
	t.Helper()
	b, err := platformsim.NewBindings("", 4)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ids := map[string]bool{}
	for i := range 250 {
		bd, err := b.Create(platformsim.Binding{VirtualNum: ctlX, BindNum: fmt.Sprintf("+86139%08d", i), TimeUnit: "0", BindExpiredTime: 24}, now)
		if err != nil {
			t.Fatal(err)
		}
		ids[bd.SubscriptionID] = true
	}
	var requests sync.Map
	return simulatorOn(t, b, &requests), ids, &requests
}

func requestsTo(m *sync.Map, path string) int64 {
	n, ok := m.Load(path)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

func TestListBindings(t *testing.T) {
	conn, ids, requests := seeded(t)

	// --json: one binding per line, each once, in three pages of 100.
	out, err := ctl(t, conn, "list-bindings", "--virtual-num", ctlX, "--json")
	if err != nil {
		t.Fatalf("list-bindings: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var b axeapi.BindingInfo
		if err := json.Unmarshal(sc.Bytes(), &b); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if !ids[b.SubscriptionID] || seen[b.SubscriptionID] || b.VirtualNum != ctlX || b.BindExpiredTime != 24 {
			t.Errorf("unexpected or repeated binding %+v", b)
		}
		seen[b.SubscriptionID] = true
	}
	if len(seen) != 250 {
		t.Errorf("%d bindings listed, want 250", len(seen))
	}
	if n := requestsTo(requests, axeapi.PathAXEv2); n != 3 {
		t.Errorf("%d pages fetched, want 3", n)
	}

	// Text: a header, a row per binding, the total.
	out, err = ctl(t, conn, "list-bindings", "--virtual-num", ctlX, "--page-limit", "7")
	if err != nil {
		t.Fatalf("list-bindings: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 252 || !strings.HasPrefix(lines[0], "SUBSCRIPTION_ID") || lines[251] != "250 bindings" {
		t.Errorf("text listing: %d lines, first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}
	for id := range ids {
		if !strings.Contains(out, id+"  "+ctlX) {
			t.Fatalf("text listing lacks %s", id)
		}
	}

	if _, err := ctl(t, conn, "list-bindings"); err == nil || !strings.Contains(err.Error(), "--virtual-num") {
		t.Errorf("without --virtual-num: %v", err)
	}
	if _, err := ctl(t, conn, "list-bindings", "--virtual-num", ctlX, "--page-limit", "101"); err == nil {
		t.Error("--page-limit 101 accepted")
	}
}

func TestCountBindings(t *testing.T) {
	conn, _, _ := seeded(t)
	out, err := ctl(t, conn, "count-bindings", "--virtual-num", ctlX)
	if err != nil || out != "250\n" {
		t.Errorf("count-bindings = %q, %v", out, err)
	}
	// The X from PN_VIRTUAL_NUM, as every flag.
	t.Setenv("PN_VIRTUAL_NUM", ctlX)
	out, err = ctl(t, conn, "count-bindings", "--json")
	var got struct {
		VirtualNum string `json:"virtualNum"`
		BindCount  int    `json:"bindCount"`
	}
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || got.VirtualNum != ctlX || got.BindCount != 250 {
		t.Errorf("count-bindings --json = %q, %v", out, err)
	}
	// An X that is not the app's: the platform's code and its meaning.
	out, err = ctl(t, conn, "count-bindings", "--virtual-num", "+8613800000099")
	if err == nil || !strings.Contains(err.Error(), "1011001") || !strings.Contains(err.Error(), "meaning") {
		t.Errorf("foreign X: %q, %v", out, err)
	}
}
