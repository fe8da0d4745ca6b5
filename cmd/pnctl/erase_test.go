package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// erase --dry-run lists what it would remove and removes nothing; erase
// removes the subscriber's CDR and events and prints the report; under
// masked it refuses and says why.
func TestEraseCommand(t *testing.T) {
	flags, w := migratedDatabase(t)
	at := privatenumber.Time{Time: time.Now().UTC().Add(-time.Hour).Truncate(time.Second)}
	fees := []privatenumber.FeeRecord{
		{ICID: "mine", SessionID: "s-mine", BindNum: "+8617000000001", CallerNum: "+8613800000001", CallInTime: at, Raw: []byte(`{}`)},
		{ICID: "theirs", SessionID: "s-theirs", BindNum: "+8617000000001", CallerNum: "+8613900000002", CallInTime: at, Raw: []byte(`{}`)},
	}
	if err := w.InsertFees(t.Context(), fees); err != nil {
		t.Fatal(err)
	}
	events := []privatenumber.CallEvent{{EventType: "callin", Timestamp: at, SessionID: "s-mine", Caller: "+8613800000001", Called: "+8617000000001", Raw: []byte(`{}`)}}
	if err := w.InsertEvents(t.Context(), events); err != nil {
		t.Fatal(err)
	}
	flags = append(flags, "--pii-mode", "raw", "--operator", "ops")
	count := func() int {
		var n uint64
		if err := w.Conn().QueryRow(t.Context(), "SELECT count() FROM "+w.Database()+".fee_records").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return int(n)
	}

	var out bytes.Buffer
	if err := run(context.Background(), append([]string{"erase", "--number", "8613800000001", "--dry-run"}, flags...), &out); err != nil {
		t.Fatalf("erase --dry-run: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "would remove 1 CDR") || count() != 2 {
		t.Errorf("dry run output (%d CDRs left):\n%s", count(), out.String())
	}
	out.Reset()
	if err := run(context.Background(), append([]string{"erase", "--number", "+8613800000001"}, flags...), &out); err != nil {
		t.Fatalf("erase: %v\n%s", err, out.String())
	}
	for _, want := range []string{"removed      1 CDR (stored copies) of 1 icids in fee_records", "removed      1 call events", "kept         ", "removed 1 CDRs, 1 call events"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("erase output lacks %q:\n%s", want, out.String())
		}
	}
	if count() != 1 {
		t.Errorf("%d CDRs left, want the other subscriber's", count())
	}
	err := run(context.Background(), append([]string{"erase", "--number", "+8613900000002"}, append(flags, "--pii-mode", "masked")...), &out)
	if err == nil || !strings.Contains(err.Error(), "masked") {
		t.Errorf("erase under masked = %v, want a refusal naming masked", err)
	}
}
