package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// progress reports how far a long command got: a bar redrawn in place
// when out is a terminal, otherwise a plain line every 10% (and at the
// end), so that logs and CI output stay readable.
type progress struct {
	out      io.Writer
	label    string
	terminal bool
	lastPct  int
	lastDraw time.Time
}

func newProgress(out io.Writer, label string) *progress {
	return &progress{out: out, label: label, terminal: isTerminal(out), lastPct: -1}
}

// isTerminal reports whether w is a terminal. A character device is not
// enough: /dev/null is one, and output sent there is not watched.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// update records that done of total items are handled.
func (p *progress) update(done, total int) {
	if total <= 0 {
		return
	}
	pct := done * 100 / total
	if p.terminal {
		// Redraw at most 10 times a second, and always at the end.
		if done < total && time.Since(p.lastDraw) < 100*time.Millisecond {
			return
		}
		p.lastDraw = time.Now()
		const width = 30
		fill := width * done / total
		fmt.Fprintf(p.out, "\r%s [%s%s] %d/%d %3d%%", p.label, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), done, total, pct)
		if done == total {
			fmt.Fprintln(p.out)
		}
		return
	}
	if pct/10 > p.lastPct/10 || (done == total && pct != p.lastPct) {
		fmt.Fprintf(p.out, "%s: %d/%d (%d%%)\n", p.label, done, total, pct)
		p.lastPct = pct
	}
}
