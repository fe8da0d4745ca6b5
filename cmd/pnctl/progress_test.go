package main

import (
	"strings"
	"testing"
)

// Off a terminal, progress prints a plain line every 10% and at the end,
// never a carriage return.
func TestProgressPlainLines(t *testing.T) {
	var out strings.Builder
	p := newProgress(&out, "audit")
	for i := 1; i <= 25; i++ {
		p.update(i, 25)
	}
	got := out.String()
	if strings.Contains(got, "\r") {
		t.Errorf("plain progress contains a carriage return: %q", got)
	}
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 10 || lines[0] != "audit: 3/25 (12%)" || lines[len(lines)-1] != "audit: 25/25 (100%)" {
		t.Errorf("progress lines = %q, want 10 lines from 3/25 (12%%) to 25/25 (100%%)", lines)
	}
}

// On a terminal, progress redraws one bar in place and ends the line.
func TestProgressBar(t *testing.T) {
	var out strings.Builder
	p := &progress{out: &out, label: "replay", terminal: true, lastPct: -1}
	p.update(1, 2)
	p.update(2, 2)
	got := out.String()
	if !strings.HasPrefix(got, "\rreplay [===============               ] 1/2  50%") ||
		!strings.HasSuffix(got, "\rreplay [==============================] 2/2 100%\n") {
		t.Errorf("bar output %q", got)
	}
}
