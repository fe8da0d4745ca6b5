package streams

import "testing"

// Replay re-drives only to the subjects pnstream consumes, and never a
// recorded CDR the mirror dead-lettered: its body had its URLs redacted,
// and replayed into PN_FEES it would replace the CDR's row.
func TestReplayableSubjects(t *testing.T) {
	tests := []struct {
		dead, subject string
		want          bool
	}{
		{DeadPrefix + "fees", FeeSubject, true},
		{DeadPrefix + "fees", RecordedFeeSubject, true},
		{DeadPrefix + "recordings", RecordedFeeSubject, false},
		{DeadPrefix + "recordings", RecordingSubject, true},
		{DeadPrefix + "events", EventSubject("answer"), true},
		{DeadPrefix + "numbers", NumberSubject, true},
		{DeadPrefix + "events", EventSubjectPrefix + "a.b", false},
		{DeadPrefix + "fees", "pn.fees.other", false},
		{DeadPrefix + "fees", "", false},
	}
	for _, tt := range tests {
		if got := replayable(tt.dead, tt.subject); got != tt.want {
			t.Errorf("replayable(%q, %q) = %v, want %v", tt.dead, tt.subject, got, tt.want)
		}
	}
}
