package recorder

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// Config of the recorder's consumers and batches.
type Config struct {
	// BatchSize is the most records in one ClickHouse insert. ClickHouse
	// wants few, large inserts (about one a second); on the test machine
	// 18.16 took 10k-row batches at ~53k rows/s and 50k-row ones at ~92k,
	// and 20k rows of ~1.5 KB take about 40 MB of memory. A table has up to
	// three batches in hand (one collected, one waiting, one inserting).
	// PN_RECORDER_BATCH_SIZE, default 20000.
	BatchSize int
	// BatchWait is the longest a record waits for its batch to fill, which
	// bounds push-to-row latency (target p99 < 2 s). PN_RECORDER_BATCH_WAIT,
	// default 1s.
	BatchWait time.Duration
	// AckWait before JetStream redelivers an unacknowledged message. While
	// an insert is retried the recorder keeps its messages alive with
	// progress acks, so this only matters when a recorder dies.
	// PN_RECORDER_ACK_WAIT, default 30s.
	AckWait time.Duration
	// MaxDeliveries after which a message is dead-lettered before being
	// processed again: a message that keeps killing recorders must not
	// stall the stream. PN_RECORDER_MAX_DELIVERIES, default 100.
	MaxDeliveries int
	// RetryInitial and RetryMax bound the backoff between insert attempts
	// while ClickHouse is unavailable; attempts go on until it is back.
	// PN_RECORDER_RETRY_INITIAL (default 500ms), PN_RECORDER_RETRY_MAX (default 30s).
	RetryInitial time.Duration
	RetryMax     time.Duration
	// ShutdownTimeout bounds flushing the open batches on shutdown.
	// PN_RECORDER_SHUTDOWN_TIMEOUT, default 20s.
	ShutdownTimeout time.Duration
	// ConsumerPrefix names the durable consumers: <prefix>-fees and
	// <prefix>-events; replicas with the same prefix share the work.
	// PN_RECORDER_CONSUMER_PREFIX, default pn-recorder.
	ConsumerPrefix string
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		BatchSize:       20000,
		BatchWait:       time.Second,
		AckWait:         30 * time.Second,
		MaxDeliveries:   100,
		RetryInitial:    500 * time.Millisecond,
		RetryMax:        30 * time.Second,
		ShutdownTimeout: 20 * time.Second,
		ConsumerPrefix:  "pn-recorder",
	}
}

// RegisterFlags binds the fields to flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.BatchSize, "recorder-batch-size", c.BatchSize, "most records in one ClickHouse insert")
	fs.DurationVar(&c.BatchWait, "recorder-batch-wait", c.BatchWait, "longest a record waits for its batch")
	fs.DurationVar(&c.AckWait, "recorder-ack-wait", c.AckWait, "JetStream ack wait of the consumers")
	fs.IntVar(&c.MaxDeliveries, "recorder-max-deliveries", c.MaxDeliveries, "deliveries after which a message is dead-lettered")
	fs.DurationVar(&c.RetryInitial, "recorder-retry-initial", c.RetryInitial, "first backoff while ClickHouse is unavailable")
	fs.DurationVar(&c.RetryMax, "recorder-retry-max", c.RetryMax, "longest backoff while ClickHouse is unavailable")
	fs.DurationVar(&c.ShutdownTimeout, "recorder-shutdown-timeout", c.ShutdownTimeout, "time to flush batches on shutdown")
	fs.StringVar(&c.ConsumerPrefix, "recorder-consumer-prefix", c.ConsumerPrefix, "prefix of the durable consumer names")
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	if c.BatchSize < 1 || c.BatchSize > 1_000_000 {
		errs = append(errs, fmt.Errorf("recorder batch size %d: want 1 to 1000000", c.BatchSize))
	}
	if c.BatchWait <= 0 || c.RetryInitial <= 0 || c.RetryMax < c.RetryInitial || c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("recorder batch wait, retry and shutdown durations must be positive, retry max >= retry initial"))
	}
	if c.AckWait < 3*c.BatchWait || c.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("recorder ack wait %s: want at least 1s and 3 x batch wait", c.AckWait))
	}
	if c.MaxDeliveries < 2 {
		errs = append(errs, fmt.Errorf("recorder max deliveries %d: want at least 2", c.MaxDeliveries))
	}
	if c.ConsumerPrefix == "" {
		errs = append(errs, errors.New("recorder consumer prefix is empty"))
	}
	return errors.Join(errs...)
}
