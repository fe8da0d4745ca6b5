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
	// and an insert of 5,300 CDRs cost it twice the CPU a row of one of
	// 20,000. A table has up to two batches in hand (one inserting, the
	// next collected meanwhile); BatchMaxBytes bounds their memory, which
	// this alone does not (20k CDRs peaked at 806 MiB of heap when three
	// were in hand, without the bounds below).
	// PN_RECORDER_BATCH_SIZE, default 20000.
	BatchSize int
	// BatchMaxBytes bounds the message data of one batch: a batch closes at
	// BatchSize records or BatchMaxBytes bytes, whichever comes first, so
	// memory is bounded whatever the size of the records (up to the NATS
	// max_payload, whatever ingest accepts today). A single message larger
	// than this is inserted alone. The insert itself goes to ClickHouse in
	// blocks of at most 4096 rows or 4 MiB (one part all the same), so the
	// driver's buffers do not grow with it. Measured (memory_test.go, a
	// backlog drained by one consumer in a process of its own, default
	// settings): CDRs of 1.5 KB (20,000 a batch, the count binds) peak at
	// 145-171 MiB of live heap, 256-285 MiB of heap and 297-329 MiB of RSS;
	// records of 60 KiB at 92-118 MiB live, 170-180 MiB heap. Per batch in
	// hand that is the message (which dead letters need as received), the
	// raw JSON the PII policy rewrote, the row and its values. With both
	// consumers draining and the mirror, 32 MiB keeps the live heap under
	// half of the pod's GOMEMLIMIT (850 MiB).
	// PN_RECORDER_BATCH_MAX_BYTES, default 32 MiB.
	BatchMaxBytes int
	// BatchWait is the longest a record waits for its batch to fill, which
	// bounds push-to-row latency (target p99 < 2 s). PN_RECORDER_BATCH_WAIT,
	// default 1s.
	BatchWait time.Duration
	// AckWait before JetStream redelivers an unacknowledged message. From
	// collection to ack the recorder keeps a batch's messages alive with a
	// progress ack every AckWait/3 (a slow insert, retries), so this only
	// matters when a recorder dies.
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
		BatchMaxBytes:   32 << 20,
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
	fs.IntVar(&c.BatchMaxBytes, "recorder-batch-max-bytes", c.BatchMaxBytes, "most bytes of message data in one ClickHouse insert (a larger message goes alone)")
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
	if c.BatchMaxBytes < 1<<10 || c.BatchMaxBytes > 1<<30 {
		errs = append(errs, fmt.Errorf("recorder batch max bytes %d: want 1 KiB to 1 GiB", c.BatchMaxBytes))
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
