package streams

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Config sets how the streams are kept. The defaults suit one local server;
// production sets Replicas to 3.
type Config struct {
	// Replicas of every stream: 1, or 3 on a cluster. PN_STREAM_REPLICAS, default 1.
	Replicas int
	// Storage is "file" or "memory". PN_STREAM_STORAGE, default file.
	Storage string
	// MaxAge of the data streams (events, fees, recordings); the recorder
	// normally consumes within seconds, so this is the outage a stream can
	// ride out. PN_STREAM_MAX_AGE, default 7 days: as long as the platform
	// keeps recordings.
	MaxAge time.Duration
	// RejectedMaxAge of PN_REJECTED and PN_DEAD: time for an operator to
	// look and replay. PN_STREAM_REJECTED_MAX_AGE, default 30 days.
	RejectedMaxAge time.Duration
	// DuplicateWindow absorbs the platform's quick re-pushes (1, 4, 9
	// minutes). The server keeps every id of the window in memory, so it
	// is not stretched to cover the late ones (106–300 minutes): the
	// identity-keyed tables absorb those. PN_STREAM_DUPLICATE_WINDOW,
	// default 15m.
	DuplicateWindow time.Duration
	// MaxMsgSize caps a message; a fee record is ~1.5 KB, a rejected body at
	// most the ingest body limit. PN_STREAM_MAX_MSG_SIZE, default 2 MiB.
	MaxMsgSize int
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Replicas:        1,
		Storage:         "file",
		MaxAge:          7 * 24 * time.Hour,
		RejectedMaxAge:  30 * 24 * time.Hour,
		DuplicateWindow: 15 * time.Minute,
		MaxMsgSize:      2 << 20,
	}
}

// RegisterFlags binds the fields to flags on fs, with the current values as
// defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Replicas, "stream-replicas", c.Replicas, "replicas of every JetStream stream (1, or 3 on a cluster)")
	fs.StringVar(&c.Storage, "stream-storage", c.Storage, "stream storage: file or memory")
	fs.DurationVar(&c.MaxAge, "stream-max-age", c.MaxAge, "max age of messages in the data streams")
	fs.DurationVar(&c.RejectedMaxAge, "stream-rejected-max-age", c.RejectedMaxAge, "max age of messages in PN_REJECTED and PN_DEAD")
	fs.DurationVar(&c.DuplicateWindow, "stream-duplicate-window", c.DuplicateWindow, "JetStream duplicate window (ids are kept in server memory)")
	fs.IntVar(&c.MaxMsgSize, "stream-max-msg-size", c.MaxMsgSize, "largest message a stream accepts, bytes")
}

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
	if c.MaxMsgSize < 64<<10 {
		errs = append(errs, fmt.Errorf("stream max msg size %d: want at least 64 KiB", c.MaxMsgSize))
	}
	return errors.Join(errs...)
}

// StreamConfigs returns the JetStream configuration of each stream.
func (c Config) StreamConfigs() []jetstream.StreamConfig {
	storage := jetstream.FileStorage
	if c.Storage == "memory" {
		storage = jetstream.MemoryStorage
	}
	base := func(name, desc string, subjects []string, maxAge time.Duration) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    subjects,
			Storage:     storage,
			Replicas:    c.Replicas,
			MaxAge:      maxAge,
			Duplicates:  c.DuplicateWindow,
			MaxMsgSize:  int32(c.MaxMsgSize),
			Discard:     jetstream.DiscardOld,
			Retention:   jetstream.LimitsPolicy,
		}
	}
	recordings := base(Recordings, "one mirror job per recorded call", []string{RecordingSubject}, c.MaxAge)
	recordings.Retention = jetstream.WorkQueuePolicy
	return []jetstream.StreamConfig{
		base(Events, "call events, one message per event", []string{EventSubjectPrefix + ">"}, c.MaxAge),
		base(Fees, "fee records (CDRs), one message per record", []string{FeeSubject}, c.MaxAge),
		recordings,
		base(Rejected, "push bodies that failed validation or authentication", []string{RejectedPrefix + ">"}, c.RejectedMaxAge),
		base(Dead, "messages that could never be processed, with the last error", []string{DeadPrefix + ">"}, c.RejectedMaxAge),
	}
}
