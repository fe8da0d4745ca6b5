package streams

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Config sets how the streams are kept. Only the
// recorder's set-up (and its -migrate-only Job) provisions them, so the
// recorder's settings are the source of truth: a limit changed by hand on
// the server (nats stream edit) is set back at its next start. Change them
// through these settings.
//
// Byte limits reserve space: nats-server refuses to create a stream whose
// MaxBytes does not fit its max_file_store (max_memory_store for memory
// storage) minus what the other streams reserve. Every server of a cluster
// holds one replica of each stream, so each needs room for the sum: with
// the defaults 10+10+10 GiB (data) + 1 (PN_NUMBERS) + 1 (PN_REJECTED) +
// 2 (PN_DEAD) = 34 GiB (PN_EVENTS' limit holds the push nonces too), within the 100 GiB volume of the scale-out values
// with room for the file store's own overhead. nats-server's default
// max_file_store is 75% of the disk's free space, so a local server needs
// about 50 GiB free or smaller limits.
//
// Sizes below count a message as stored: body, subject, headers (the
// Nats-Msg-Id) and ~30 bytes of framing, so a fee record (~1.5 KB) takes
// ~1.6 KB and a call event (~0.7 KB) ~0.85 KB.
type Config struct {
	// Replicas of every stream: 1, or 3 on a cluster. PN_STREAM_REPLICAS, default 1.
	Replicas int
	// Storage is "file" or "memory". PN_STREAM_STORAGE, default file. With
	// memory the byte limits must fit the server's max_memory_store.
	Storage string
	// MaxAge of the data streams (events, fees, recordings): messages older
	// than this are dropped even if no recorder consumed them. The outage
	// a stream rides out is the shorter of MaxAge and MaxBytes at the
	// traffic's rate. PN_STREAM_MAX_AGE, default 7 days: as long as the
	// platform keeps recordings.
	MaxAge time.Duration
	// MaxBytes of each data stream (PN_EVENTS, PN_FEES, PN_RECORDINGS).
	// A full data stream refuses new messages (DiscardNew): ingest answers
	// 503 and the platform retries (for 300 minutes), so nothing is dropped
	// silently, and what the stream holds is kept until consumed.
	// PN_STREAM_MAX_BYTES, default 10 GiB: ~6.7 million fee records, which
	// is 1.9 h of a sustained peak of 1,000 records/s, 19 h at 100/s, or
	// the full 7 days at 11/s (~1 million calls a day); for events
	// (~12 million) 3.5 h at 1,000/s. Size it to the volume: (volume × 0.9
	// − the other limits) / 3.
	MaxBytes int64
	// NumbersMaxBytes of PN_NUMBERS, the X-number states: a data stream
	// (DiscardNew, MaxAge as the others) of low volume, a state change of
	// an X number now and then, so a small limit holds weeks of it.
	// PN_STREAM_NUMBERS_MAX_BYTES, default 1 GiB: ~5 million numInfo items
	// of ~200 bytes stored.
	NumbersMaxBytes int64
	// RejectedMaxAge of PN_REJECTED and PN_DEAD: time for an operator to
	// look and replay. PN_STREAM_REJECTED_MAX_AGE, default 30 days.
	RejectedMaxAge time.Duration
	// RejectedMaxBytes of PN_REJECTED, which drops its oldest when full
	// (DiscardOld): anonymous clients can fill it, and a refusal must never
	// cost a real push its place. PN_STREAM_REJECTED_MAX_BYTES, default
	// 1 GiB: ≥ 130,000 refusals of 401/413 (≤ 8 KiB each) or ~1,000 whole
	// 400 bodies of 1 MiB.
	RejectedMaxBytes int64
	// DeadMaxBytes of PN_DEAD, which drops its oldest when full
	// (DiscardOld): a flood of dead letters (a schema bug) must not stop the
	// pipeline. PN_STREAM_DEAD_MAX_BYTES, default 2 GiB: ~1.3 million dead
	// fee records, more than a day of all traffic at 10 records/s.
	DeadMaxBytes int64
	// NonceWindow is PN_EVENTS' duplicate window: how long the server
	// remembers a push nonce (a message id: a single-event push's event,
	// or the claim of another push; MaxAge keeps the message at least
	// NonceGrace longer, so that a duplicate's original can be read and
	// compared). It must be at least ingest's PN_PUSH_MAX_AGE +
	// PN_PUSH_CLOCK_SKEW, or a replay after the window would pass: ingest
	// is not ready otherwise.
	// PN_STREAM_NONCE_WINDOW, default 6h10m: the defaults 6h + 5m, plus
	// another 5m for a push whose Created is ahead of the clock (the
	// longest TTL ingest asks for). The server keeps every id of the
	// window in memory: ~205 MB per million nonces (measured).
	NonceWindow time.Duration
	// DuplicateWindow absorbs the platform's quick re-pushes (1, 4, 9
	// minutes). The server keeps every id of the window in memory, so it
	// is not stretched to cover the late ones (106–300 minutes): the
	// identity-keyed tables absorb those. PN_STREAM_DUPLICATE_WINDOW,
	// default 15m.
	DuplicateWindow time.Duration
	// MaxMsgSize caps a message, headers included. A record is at most
	// PN_INGEST_MAX_RECORD_BYTES (64 KiB), a 401/413 refusal 4 KiB plus
	// headers, a dead letter a record plus its reason (≤ 4 KiB); the
	// server refuses anything above its max_payload anyway.
	// PN_STREAM_MAX_MSG_SIZE, default 1 MiB: nats-server's default
	// max_payload, so nothing depends on raising it.
	MaxMsgSize int
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Replicas:         1,
		Storage:          "file",
		MaxAge:           7 * 24 * time.Hour,
		MaxBytes:         10 << 30,
		RejectedMaxAge:   30 * 24 * time.Hour,
		NumbersMaxBytes:  1 << 30,
		RejectedMaxBytes: 1 << 30,
		DeadMaxBytes:     2 << 30,
		NonceWindow:      6*time.Hour + 10*time.Minute,
		DuplicateWindow:  15 * time.Minute,
		MaxMsgSize:       1 << 20,
	}
}

// RegisterFlags binds the fields to flags on fs, with the current values as
// defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Replicas, "stream-replicas", c.Replicas, "replicas of every JetStream stream (1, or 3 on a cluster)")
	fs.StringVar(&c.Storage, "stream-storage", c.Storage, "stream storage: file or memory")
	fs.DurationVar(&c.MaxAge, "stream-max-age", c.MaxAge, "max age of messages in the data streams")
	fs.Int64Var(&c.MaxBytes, "stream-max-bytes", c.MaxBytes, "byte limit of each data stream (PN_EVENTS, PN_FEES, PN_RECORDINGS); full refuses new messages")
	fs.Int64Var(&c.NumbersMaxBytes, "stream-numbers-max-bytes", c.NumbersMaxBytes, "byte limit of PN_NUMBERS (X-number states); full refuses new messages")
	fs.DurationVar(&c.RejectedMaxAge, "stream-rejected-max-age", c.RejectedMaxAge, "max age of messages in PN_REJECTED and PN_DEAD")
	fs.Int64Var(&c.RejectedMaxBytes, "stream-rejected-max-bytes", c.RejectedMaxBytes, "byte limit of PN_REJECTED; full drops its oldest")
	fs.Int64Var(&c.DeadMaxBytes, "stream-dead-max-bytes", c.DeadMaxBytes, "byte limit of PN_DEAD; full drops its oldest")
	fs.DurationVar(&c.NonceWindow, "stream-nonce-window", c.NonceWindow, "duplicate window of PN_EVENTS, which holds the push nonces: how long a nonce is remembered (>= ingest's push max age + clock skew)")
	fs.DurationVar(&c.DuplicateWindow, "stream-duplicate-window", c.DuplicateWindow, "JetStream duplicate window (ids are kept in server memory)")
	fs.IntVar(&c.MaxMsgSize, "stream-max-msg-size", c.MaxMsgSize, "largest message a stream accepts, headers included, bytes")
}

// minMsgSize is a 64 KiB record (PN_INGEST_MAX_RECORD_BYTES's default) with
// room for its headers, or a dead letter's.
const minMsgSize = 80 << 10

// maxMsgSizeLimit is nats-server's hard limit of max_payload.
const maxMsgSizeLimit = 64 << 20

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("stream replicas %d: want 1 to 5", c.Replicas))
	}
	if c.Storage != "file" && c.Storage != "memory" {
		errs = append(errs, fmt.Errorf("stream storage %q: want file or memory", c.Storage))
	}
	if c.MaxAge <= 0 || c.RejectedMaxAge <= 0 {
		errs = append(errs, errors.New("stream max ages must be positive"))
	}
	if c.DuplicateWindow <= 0 || c.DuplicateWindow > c.MaxAge {
		errs = append(errs, fmt.Errorf("stream duplicate window %s: want >0 and <= max age", c.DuplicateWindow))
	}
	if c.MaxMsgSize < minMsgSize || c.MaxMsgSize > maxMsgSizeLimit {
		errs = append(errs, fmt.Errorf("stream max msg size %d: want %d (80 KiB) to %d (64 MiB)", c.MaxMsgSize, minMsgSize, maxMsgSizeLimit))
	}
	// A stream must hold at least one message of the largest size.
	for _, l := range []struct {
		name  string
		bytes int64
	}{{"stream max bytes", c.MaxBytes}, {"stream numbers max bytes", c.NumbersMaxBytes}, {"stream rejected max bytes", c.RejectedMaxBytes}, {"stream dead max bytes", c.DeadMaxBytes}} {
		if l.bytes <= 0 || l.bytes < int64(c.MaxMsgSize) {
			errs = append(errs, fmt.Errorf("%s %d: want positive and at least the max msg size (%d)", l.name, l.bytes, c.MaxMsgSize))
		}
	}
	if c.NonceWindow < time.Minute {
		errs = append(errs, fmt.Errorf("stream nonce window %s: want at least 1m (and at least ingest's push max age + clock skew)", c.NonceWindow))
	}
	if c.MaxAge < c.NonceWindow+NonceGrace {
		errs = append(errs, fmt.Errorf("stream max age %s: want at least the nonce window %s + %s, so that a remembered nonce's message can be read", c.MaxAge, c.NonceWindow, NonceGrace))
	}
	return errors.Join(errs...)
}

func (c Config) storage() jetstream.StorageType {
	if c.Storage == "memory" {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// StreamConfigs returns the JetStream configuration of each stream.
func (c Config) StreamConfigs() []jetstream.StreamConfig {
	base := func(name, desc string, subjects []string, maxAge time.Duration, maxBytes int64, discard jetstream.DiscardPolicy) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    subjects,
			Storage:     c.storage(),
			Replicas:    c.Replicas,
			MaxAge:      maxAge,
			MaxBytes:    maxBytes,
			Duplicates:  c.DuplicateWindow,
			MaxMsgSize:  int32(c.MaxMsgSize),
			Discard:     discard,
			Retention:   jetstream.LimitsPolicy,
		}
	}
	// Data streams refuse when full: the publisher gets an error and the
	// platform retries. PN_REJECTED and PN_DEAD make room instead.
	// PN_EVENTS holds the call events, one message per event, and the nonce
	// claims of the other pushes (ClaimSubject). Its duplicate window is the
	// nonce window, because a single-event push's message has the push
	// nonce as its id (nonces.NewDeduplicated): one stored message both
	// claims the nonce and stores the event. Re-pushes with the original
	// headers are absorbed by that id; with fresh headers, by the
	// identity-keyed table, like the late ones.
	events := base(Events, "call events, one message per event; the nonce claims of other pushes on "+ClaimSubject,
		[]string{EventSubjectPrefix + ">", ClaimSubject}, c.MaxAge, c.MaxBytes, jetstream.DiscardNew)
	events.Duplicates = c.NonceWindow
	recordings := base(Recordings, "mirror jobs of backfills and of CDRs stored before "+RecordedFeeSubject, []string{RecordingSubject}, c.MaxAge, c.MaxBytes, jetstream.DiscardNew)
	recordings.Retention = jetstream.WorkQueuePolicy
	return []jetstream.StreamConfig{
		events,
		base(Fees, "fee records (CDRs), one message per record; recorded calls on "+RecordedFeeSubject, []string{FeeSubject, RecordedFeeSubject}, c.MaxAge, c.MaxBytes, jetstream.DiscardNew),
		recordings,
		base(Numbers, "X-number states, one message per numInfo item", []string{NumberSubject}, c.MaxAge, c.NumbersMaxBytes, jetstream.DiscardNew),
		base(Rejected, "push bodies that failed validation or authentication", []string{RejectedPrefix + ">"}, c.RejectedMaxAge, c.RejectedMaxBytes, jetstream.DiscardOld),
		base(Dead, "messages that could never be processed, with the last error", []string{DeadPrefix + ">"}, c.RejectedMaxAge, c.DeadMaxBytes, jetstream.DiscardOld),
	}
}

// NonceGrace is how much longer than its id (NonceWindow) a message whose
// id is a push nonce is kept at least: a duplicate answer names the
// original's sequence, which must still be readable.
const NonceGrace = time.Minute
