package streams_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/streams"
)

// Check names every missing stream, creates nothing, and
// passes once Provision ran.
func TestCheckNamesWhatIsMissingAndCreatesNothing(t *testing.T) {
	_, js := connect(t)
	ctx := testContext(t)
	err := streams.Check(ctx, js)
	if !errors.Is(err, streams.ErrNotProvisioned) {
		t.Fatalf("Check on an empty server = %v, want ErrNotProvisioned", err)
	}
	for _, want := range []string{"stream PN_EVENTS", "stream PN_FEES", "stream PN_RECORDINGS", "stream PN_REJECTED", "stream PN_DEAD", "stream PN_NONCES"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check error %q does not name %s", err, want)
		}
	}
	if n := streamCount(t, js); n != 0 {
		t.Fatalf("Check created %d streams", n)
	}

	// One stream, created by hand: the others are still named.
	if _, err := js.CreateStream(ctx, smallConfig().StreamConfigs()[1]); err != nil {
		t.Fatal(err)
	}
	err = streams.Check(ctx, js)
	if !errors.Is(err, streams.ErrNotProvisioned) || strings.Contains(err.Error(), "PN_FEES") || !strings.Contains(err.Error(), "PN_EVENTS") {
		t.Errorf("Check with PN_FEES alone = %v", err)
	}
	if n := streamCount(t, js); n != 1 {
		t.Errorf("Check changed the stream count to %d", n)
	}

	if err := streams.Provision(ctx, js, smallConfig()); err != nil {
		t.Fatal(err)
	}
	if err := streams.Check(ctx, js); err != nil {
		t.Errorf("Check after Provision = %v", err)
	}
}

func streamCount(t *testing.T, js jetstream.JetStream) int {
	t.Helper()
	n := 0
	names := js.StreamNames(testContext(t))
	for range names.Name() {
		n++
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// Provision creates PN_NONCES as nonces.NewDeduplicated needs it: one
// subject, duplicates by Nats-Msg-Id over the nonce window, messages kept a
// little longer, refusing when full; a repeated id is answered with the
// original's sequence, whose message can be read.
func TestProvisionCreatesTheNonceStream(t *testing.T) {
	_, js := connect(t)
	ctx := testContext(t)
	cfg := smallConfig()
	cfg.NonceWindow = 2 * time.Hour
	if err := streams.Provision(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, streams.Nonces)
	if err != nil {
		t.Fatal(err)
	}
	c := st.CachedInfo().Config
	if len(c.Subjects) != 1 || c.Subjects[0] != streams.NonceSubject || c.Storage != jetstream.FileStorage ||
		c.Replicas != cfg.Replicas || c.Duplicates != 2*time.Hour || c.MaxAge != 2*time.Hour+streams.NonceGrace ||
		c.MaxBytes != cfg.NonceMaxBytes || c.Discard != jetstream.DiscardNew || c.MaxMsgSize <= 0 || c.MaxMsgSize > 4<<10 {
		t.Errorf("PN_NONCES config: %+v", c)
	}

	first, err := js.Publish(ctx, streams.NonceSubject, []byte("digest-1"), jetstream.WithMsgID("key"))
	if err != nil || first.Duplicate {
		t.Fatalf("first publish: %+v, %v", first, err)
	}
	again, err := js.Publish(ctx, streams.NonceSubject, []byte("digest-2"), jetstream.WithMsgID("key"))
	if err != nil || !again.Duplicate || again.Sequence != first.Sequence {
		t.Fatalf("publish of the same id: %+v, %v; want a duplicate of seq %d", again, err, first.Sequence)
	}
	m, err := st.GetMsg(ctx, again.Sequence)
	if err != nil || string(m.Data) != "digest-1" {
		t.Errorf("the original: %v, %v", m, err)
	}
	if _, err := js.Publish(ctx, streams.NonceSubject, make([]byte, 8<<10), jetstream.WithMsgID("big")); err == nil {
		t.Error("PN_NONCES took an 8 KiB message")
	}
}

// Streams created by the previous release (DiscardOld, no byte limit, 2 MiB
// messages) are updated in place by Provision, keeping their messages; a
// byte limit below what a data stream holds drops nothing. (That release
// kept push nonces in memory: PN_NONCES is new.)
func TestProvisionUpdatesStreamsOfThePreviousRelease(t *testing.T) {
	_, js := connect(t)
	ctx := testContext(t)
	for _, sc := range smallConfig().StreamConfigs() {
		if sc.Name == streams.Nonces || sc.Name == streams.Numbers {
			continue // new in this release
		}
		sc.MaxBytes = 0
		sc.Discard = jetstream.DiscardOld
		sc.MaxMsgSize = 2 << 20
		if _, err := js.CreateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	body := make([]byte, 100<<10)
	for i := range 10 { // 1 MB in PN_FEES and PN_RECORDINGS
		for _, subject := range []string{streams.FeeSubject, streams.RecordingSubject} {
			if _, err := js.Publish(ctx, subject, body); err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}
	}

	cfg := tinyConfig() // 512 KiB: half of what the data streams hold
	if err := streams.Provision(ctx, js, cfg); err != nil {
		t.Fatalf("Provision over the previous release's streams: %v", err)
	}
	for _, sc := range cfg.StreamConfigs() {
		info := streamInfo(t, js, sc.Name)
		c := info.Config
		if c.MaxBytes != sc.MaxBytes || c.Discard != sc.Discard || c.MaxMsgSize != sc.MaxMsgSize || c.Retention != sc.Retention {
			t.Errorf("%s after update: max bytes %d discard %s max msg size %d retention %s, want %d %s %d %s",
				sc.Name, c.MaxBytes, c.Discard, c.MaxMsgSize, c.Retention, sc.MaxBytes, sc.Discard, sc.MaxMsgSize, sc.Retention)
		}
	}
	for _, name := range []string{streams.Fees, streams.Recordings} {
		if info := streamInfo(t, js, name); info.State.Msgs != 10 || info.State.FirstSeq != 1 {
			t.Errorf("%s after a lower byte limit: %d messages from seq %d, want all 10 kept", name, info.State.Msgs, info.State.FirstSeq)
		}
	}
	if _, err := js.Publish(ctx, streams.FeeSubject, []byte("{}")); err == nil {
		t.Error("a stream over its new byte limit took another message")
	}
	if err := streams.Check(ctx, js); err != nil {
		t.Errorf("Check after the update: %v", err)
	}
}
