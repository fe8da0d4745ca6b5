package streams_test

import (
	"errors"
	"fmt"
	"slices"
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
	for _, want := range []string{"stream PN_EVENTS", "stream PN_FEES", "stream PN_RECORDINGS", "stream PN_REJECTED", "stream PN_DEAD"} {
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

// Provision makes PN_EVENTS the store of push nonces as
// nonces.NewDeduplicated needs it: the events and the claim subject,
// duplicates by Nats-Msg-Id over the nonce window, messages kept at least
// a little longer, refusing when full; a repeated id is answered with the
// original's sequence, whose message can be read. No PN_NONCES.
func TestProvisionMakesTheEventStreamHoldTheNonces(t *testing.T) {
	_, js := connect(t)
	ctx := testContext(t)
	cfg := smallConfig()
	cfg.NonceWindow = 2 * time.Hour
	if err := streams.Provision(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, streams.Events)
	if err != nil {
		t.Fatal(err)
	}
	c := st.CachedInfo().Config
	if !slices.Equal(c.Subjects, []string{streams.EventSubjectPrefix + ">", streams.ClaimSubject}) || c.Storage != jetstream.FileStorage ||
		c.Duplicates != 2*time.Hour || c.MaxAge < 2*time.Hour+streams.NonceGrace || c.Discard != jetstream.DiscardNew {
		t.Errorf("PN_EVENTS config: %+v", c)
	}
	if _, err := js.Stream(ctx, streams.LegacyNonces); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("%s: %v, want no such stream", streams.LegacyNonces, err)
	}

	first, err := js.Publish(ctx, streams.ClaimSubject, []byte("digest-1"), jetstream.WithMsgID("key"))
	if err != nil || first.Duplicate {
		t.Fatalf("first publish: %+v, %v", first, err)
	}
	again, err := js.Publish(ctx, streams.EventSubject("callin"), []byte("digest-2"), jetstream.WithMsgID("key"))
	if err != nil || !again.Duplicate || again.Sequence != first.Sequence {
		t.Fatalf("publish of the same id on another subject: %+v, %v; want a duplicate of seq %d", again, err, first.Sequence)
	}
	m, err := st.GetMsg(ctx, again.Sequence)
	if err != nil || string(m.Data) != "digest-1" {
		t.Errorf("the original: %v, %v", m, err)
	}
}

// The nonce stream of earlier versions is retired by Provision: the nonces
// it remembers (stored within the window) are copied into PN_EVENTS with
// their ids and digests, so that a replay stays a duplicate, and the
// stream is deleted; older ones are not copied. Provision again, or a
// second process, finds nothing to do.
func TestProvisionRetiresTheLegacyNonceStream(t *testing.T) {
	_, js := connect(t)
	ctx := testContext(t)
	cfg := smallConfig()
	legacy, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: streams.LegacyNonces, Subjects: []string{streams.LegacyNonceSubject}, Storage: jetstream.FileStorage,
		Duplicates: cfg.NonceWindow, MaxAge: cfg.NonceWindow + streams.NonceGrace, Discard: jetstream.DiscardNew,
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2500 // more than one fetch
	for i := range n {
		if _, err := js.Publish(ctx, streams.LegacyNonceSubject, []byte(fmt.Sprint("digest-", i)), jetstream.WithMsgID(fmt.Sprint("key-", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := legacy.Info(ctx); err != nil {
		t.Fatal(err)
	}
	if err := streams.Provision(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(ctx, streams.LegacyNonces); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("%s after Provision: %v, want deleted", streams.LegacyNonces, err)
	}
	ev, err := js.Stream(ctx, streams.Events)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1234, n - 1} {
		ack, err := js.Publish(ctx, streams.ClaimSubject, []byte("forged"), jetstream.WithMsgID(fmt.Sprint("key-", i)))
		if err != nil || !ack.Duplicate {
			t.Fatalf("nonce %d after the move: %+v, %v; want a duplicate", i, ack, err)
		}
		m, err := ev.GetMsg(ctx, ack.Sequence)
		if err != nil || string(m.Data) != fmt.Sprint("digest-", i) || m.Subject != streams.ClaimSubject {
			t.Errorf("nonce %d's original: %+v, %v", i, m, err)
		}
	}
	info, err := ev.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != n {
		t.Errorf("PN_EVENTS holds %d messages, want the %d nonces", info.State.Msgs, n)
	}
	if err := streams.Provision(ctx, js, cfg); err != nil {
		t.Errorf("Provision again: %v", err)
	}
}

// Nonces stored before the window are forgotten anyway: the retirement
// copies none of them.
func TestRetireLegacyNoncesSkipsExpiredOnes(t *testing.T) {
	_, js := connect(t)
	ctx := testContext(t)
	if err := streams.Provision(ctx, js, smallConfig()); err != nil {
		t.Fatal(err)
	}
	legacy, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: streams.LegacyNonces, Subjects: []string{streams.LegacyNonceSubject}, Duplicates: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(ctx, streams.LegacyNonceSubject, []byte("d"), jetstream.WithMsgID("old"))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := legacy.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	// A window that began after the nonce was stored.
	if err := streams.RetireLegacyNonces(ctx, js, time.Since(stored.Time)/2); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(ctx, streams.LegacyNonces); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("%s: %v, want deleted", streams.LegacyNonces, err)
	}
	ack, err = js.Publish(ctx, streams.ClaimSubject, []byte("d"), jetstream.WithMsgID("old"))
	if err != nil || ack.Duplicate {
		t.Errorf("an expired nonce after the move: %+v, %v; want new", ack, err)
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
		if sc.Name == streams.Numbers {
			continue // new in this release
		}
		sc.MaxBytes = 0
		sc.Discard = jetstream.DiscardOld
		sc.Duplicates = 2 * time.Minute
		if sc.Name == streams.Events {
			sc.Subjects = []string{streams.EventSubjectPrefix + ">"}
		}
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
