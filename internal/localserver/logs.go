package localserver

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// tailLimit is how much of each log an error message quotes at most.
const tailLimit = 4096

// logMark is a log file and its size when a run started, so that error
// messages quote only what that run wrote.
type logMark struct {
	path string
	from int64
}

func markLogs(paths []string) []logMark {
	marks := make([]logMark, len(paths))
	for i, p := range paths {
		marks[i] = logMark{path: p, from: fileSize(p)}
	}
	return marks
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		// A log that does not exist yet starts at 0; any other problem shows
		// up when the tail is read.
		return 0
	}
	return fi.Size()
}

// tails returns the tail of each log written since it was marked, for error
// messages, or "" when none has anything new.
func tails(marks []logMark) string {
	var b strings.Builder
	for _, m := range marks {
		t, err := tail(m.path, m.from, tailLimit)
		switch {
		case err != nil:
			fmt.Fprintf(&b, "\n--- %s: %v", m.path, err)
		case t != "":
			fmt.Fprintf(&b, "\n--- tail of %s:\n%s", m.path, t)
		}
	}
	return b.String()
}

// tail returns at most limit bytes from the end of path, not reaching before
// offset from, starting at a line boundary.
func tail(path string, from, limit int64) (string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if fi.Size() < from {
		from = 0 // rotated or truncated since the run started
	}
	start := max(from, fi.Size()-limit)
	b, err := io.ReadAll(io.NewSectionReader(f, start, fi.Size()-start))
	if err != nil {
		return "", err
	}
	if start > from {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimRight(string(b), "\n"), nil
}
