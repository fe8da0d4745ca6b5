package recorder

import (
	"testing"
	"time"
)

// A request for the rest of a batch that the server ended early with
// fewer messages than asked reached BatchMaxBytes: the batch is full, and
// asking again would spin until BatchWait. One that ran its wait, or got
// all it asked, says nothing of the bytes.
func TestFullByBytes(t *testing.T) {
	tests := []struct {
		asked, got int
		took, wait time.Duration
		want       bool
	}{
		{19999, 5274, 3 * time.Millisecond, time.Second, true},         // filled to the byte limit
		{14725, 0, 2 * time.Millisecond, 800 * time.Millisecond, true}, // the next message does not fit
		{19999, 12, time.Second, time.Second, false},                   // a slow stream: the wait ran out
		{10, 10, time.Millisecond, time.Second, false},                 // the count was reached
		{100, 0, 600 * time.Millisecond, time.Second, false},           // late: not told apart from a wait
	}
	for _, tt := range tests {
		if got := fullByBytes(tt.asked, tt.got, tt.took, tt.wait); got != tt.want {
			t.Errorf("fullByBytes(%d, %d, %s, %s) = %v, want %v", tt.asked, tt.got, tt.took, tt.wait, got, tt.want)
		}
	}
}
