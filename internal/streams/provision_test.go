package streams_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/streams"
)

// Check names every missing stream and the bucket, creates nothing, and
// passes once Provision ran.
func TestCheckNamesWhatIsMissingAndCreatesNothing(t *testing.T) {
	_, js := connect(t)
	ctx := testContext(t)
	err := streams.Check(ctx, js)
	if !errors.Is(err, streams.ErrNotProvisioned) {
		t.Fatalf("Check on an empty server = %v, want ErrNotProvisioned", err)
	}
	for _, want := range []string{"stream PN_EVENTS", "stream PN_FEES", "stream PN_RECORDINGS", "stream PN_REJECTED", "stream PN_DEAD", "bucket PN_NONCES"} {
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

// Provision creates the nonce bucket with its limits, and a key created with
// its own TTL expires while a key without one stays: the store ingest
// builds on (create-only, per-key TTL) works.
func TestProvisionCreatesTheNonceBucketWithPerKeyTTL(t *testing.T) {
	_, js := connect(t)
	ctx := testContext(t)
	cfg := smallConfig()
	if err := streams.Provision(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, streams.Nonces)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.History() != 1 || st.TTL() != 0 || st.LimitMarkerTTL() <= 0 || st.Bytes() != 0 {
		t.Errorf("bucket status: history %d ttl %s marker ttl %s bytes %d", st.History(), st.TTL(), st.LimitMarkerTTL(), st.Bytes())
	}
	info := st.(*jetstream.KeyValueBucketStatus).StreamInfo()
	if info.Config.MaxBytes != cfg.NonceMaxBytes || info.Config.Discard != jetstream.DiscardNew || !info.Config.AllowMsgTTL {
		t.Errorf("bucket stream: max bytes %d discard %s msg ttl %t", info.Config.MaxBytes, info.Config.Discard, info.Config.AllowMsgTTL)
	}

	if _, err := kv.Create(ctx, "short", []byte("d1"), jetstream.KeyTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "kept", []byte("d2")); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "short", []byte("d1")); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Errorf("second Create of a live key = %v, want ErrKeyExists", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := kv.Get(ctx, "short")
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("key with a 1 s TTL still there after 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := kv.Get(ctx, "kept"); err != nil {
		t.Errorf("key without TTL: %v", err)
	}
	// An expired nonce may be claimed again.
	if _, err := kv.Create(ctx, "short", []byte("d3"), jetstream.KeyTTL(time.Minute)); err != nil {
		t.Errorf("Create after expiry = %v", err)
	}
}

// Streams created by the previous release (DiscardOld, no byte limit, 2 MiB
// messages) are updated in place by Provision, keeping their messages; a
// byte limit below what a data stream holds drops nothing.
func TestProvisionUpdatesStreamsOfThePreviousRelease(t *testing.T) {
	_, js := connect(t)
	ctx := testContext(t)
	for _, sc := range smallConfig().StreamConfigs() {
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
