package archive

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// DefaultRecordingHosts are the platform's storage domains as far as the
// reference shows them (recordDomain values such as ostorQH2.huawei.com,
// and Huawei Cloud object storage).
const DefaultRecordingHosts = ".huawei.com,.huaweicloud.com,.myhuaweicloud.com"

// Config of the recording archive: the S3 bucket and the mirror workers.
type Config struct {
	// Connection is the bucket and how to reach it; an empty Endpoint
	// disables the mirror (jobs wait in PN_RECORDINGS and on
	// pn.fees.recorded).
	Connection
	// ProbeInterval is how often the recorder checks that S3 answers (a
	// HEAD of the bucket), exported as pn_archive_s3_up, so an unreachable
	// S3 shows within minutes (PN_S3_PROBE_INTERVAL, default 30s).
	ProbeInterval time.Duration
	// ProbeTimeout bounds one check (PN_S3_PROBE_TIMEOUT, default 10s).
	ProbeTimeout time.Duration
	// LockMode and LockDays set object-lock retention on every recording:
	// "" (none), GOVERNANCE or COMPLIANCE. A bucket created by pnstream then
	// has object locking enabled. PN_S3_LOCK_MODE, PN_S3_LOCK_DAYS.
	LockMode string
	LockDays int
	// ObjectLocking creates the bucket (when pnstream creates it) with
	// object locking on, without default retention: what legal holds
	// (internal/holds, the console) need. PN_S3_OBJECT_LOCKING.
	ObjectLocking bool
	// SSE asks S3 to encrypt each object: "" or "SSE-S3". PN_S3_SSE.
	SSE string

	// Hosts recordings may be downloaded from: "host" exactly, ".domain"
	// any subdomain. PN_RECORDING_HOSTS, default DefaultRecordingHosts.
	Hosts string
	// AllowPrivate lets downloads reach loopback and private addresses over
	// plain http: local runs with the simulator only.
	// PN_RECORDING_ALLOW_PRIVATE, default false.
	AllowPrivate bool
	// MaxBytes caps one recording. PN_RECORDING_MAX_BYTES, default 1 GiB.
	MaxBytes int64
	// DownloadTimeout caps one download. PN_RECORDING_DOWNLOAD_TIMEOUT, default 10m.
	DownloadTimeout time.Duration
	// SpoolDir holds downloads while they are hashed and uploaded; it needs
	// Concurrency x MaxBytes free at worst. Downloads of at most 4 MiB (by
	// Content-Length) are held in memory instead, within MemorySpool.
	// PN_RECORDING_SPOOL_DIR, default the system temp dir.
	SpoolDir string
	// MemorySpool is the memory all workers of a Mirror may hold for small
	// downloads at once; 0 spools every download to SpoolDir.
	// PN_RECORDING_MEMORY_SPOOL, default 16 MiB.
	MemorySpool int64
	// Concurrency is the number of mirror workers, and of uploads at a time:
	// each worker downloads the next recording while it uploads one.
	// PN_RECORDING_CONCURRENCY, default 4.
	Concurrency int
	// RetryInitial and RetryMax bound the backoff between attempts; attempts
	// go on until the recording's deadline (call end + 7 days).
	// PN_RECORDING_RETRY_INITIAL (default 10s), PN_RECORDING_RETRY_MAX (default 15m).
	RetryInitial, RetryMax time.Duration
	// FlowControlPause is how long all workers pause when the platform
	// answers 1010010 ("retry after a minute"). PN_RECORDING_FLOW_CONTROL_PAUSE, default 1m.
	FlowControlPause time.Duration
	// AckWait of the job consumer; long downloads keep their job with
	// progress acks. PN_RECORDING_ACK_WAIT, default 60s.
	AckWait time.Duration
	// MaxPending bounds the jobs in progress or waiting for a retry: a job
	// nak'ed with a delay keeps its place until it is redelivered, so this
	// must be far above Concurrency or retries starve new jobs.
	// PN_RECORDING_MAX_PENDING, default 10000.
	MaxPending int
	// Consumer is the durable consumer shared by all recorders.
	// PN_RECORDING_CONSUMER, default pn-archive.
	Consumer string
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Connection:       DefaultConnection(),
		ProbeInterval:    30 * time.Second,
		ProbeTimeout:     10 * time.Second,
		Hosts:            DefaultRecordingHosts,
		MaxBytes:         1 << 30,
		DownloadTimeout:  10 * time.Minute,
		SpoolDir:         os.TempDir(),
		MemorySpool:      memSpoolBudget,
		Concurrency:      4,
		RetryInitial:     10 * time.Second,
		RetryMax:         15 * time.Minute,
		FlowControlPause: time.Minute,
		AckWait:          60 * time.Second,
		MaxPending:       10000,
		Consumer:         "pn-archive",
	}
}

// RegisterFlags binds the fields to flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Connection.RegisterFlags(fs, "S3 endpoint host:port; empty disables the recording mirror")
	fs.DurationVar(&c.ProbeInterval, "s3-probe-interval", c.ProbeInterval, "how often the recorder checks that S3 answers (pn_archive_s3_up)")
	fs.DurationVar(&c.ProbeTimeout, "s3-probe-timeout", c.ProbeTimeout, "time limit of one S3 check")
	fs.StringVar(&c.LockMode, "s3-lock-mode", c.LockMode, "object-lock retention mode: GOVERNANCE or COMPLIANCE (empty: none)")
	fs.IntVar(&c.LockDays, "s3-lock-days", c.LockDays, "object-lock retention in days")
	fs.BoolVar(&c.ObjectLocking, "s3-object-locking", c.ObjectLocking, "create the bucket with object locking (for legal holds) even without a lock mode")
	fs.StringVar(&c.SSE, "s3-sse", c.SSE, "server-side encryption: SSE-S3 (empty: none)")
	fs.StringVar(&c.Hosts, "recording-hosts", c.Hosts, "hosts recordings may be downloaded from, comma separated (.domain = any subdomain)")
	fs.BoolVar(&c.AllowPrivate, "recording-allow-private", c.AllowPrivate, "allow downloads from loopback/private addresses over http (local runs only)")
	fs.Int64Var(&c.MaxBytes, "recording-max-bytes", c.MaxBytes, "largest recording accepted")
	fs.DurationVar(&c.DownloadTimeout, "recording-download-timeout", c.DownloadTimeout, "time limit of one download")
	fs.StringVar(&c.SpoolDir, "recording-spool-dir", c.SpoolDir, "directory for downloads in flight")
	fs.Int64Var(&c.MemorySpool, "recording-memory-spool", c.MemorySpool, "bytes all mirror workers may hold in memory for downloads of up to 4 MiB; 0 spools every download to the spool dir")
	fs.IntVar(&c.Concurrency, "recording-concurrency", c.Concurrency, "mirror workers")
	fs.DurationVar(&c.RetryInitial, "recording-retry-initial", c.RetryInitial, "first backoff of a failed mirror attempt")
	fs.DurationVar(&c.RetryMax, "recording-retry-max", c.RetryMax, "longest backoff of a failed mirror attempt")
	fs.DurationVar(&c.FlowControlPause, "recording-flow-control-pause", c.FlowControlPause, "pause of all workers on platform flow control")
	fs.DurationVar(&c.AckWait, "recording-ack-wait", c.AckWait, "ack wait of the mirror consumer")
	fs.IntVar(&c.MaxPending, "recording-max-pending", c.MaxPending, "most jobs in progress or waiting for a retry")
	fs.StringVar(&c.Consumer, "recording-consumer", c.Consumer, "durable consumer name of the mirror")
}

// Enabled reports whether the mirror is configured.
func (c Config) Enabled() bool { return c.Endpoint != "" }

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	errs = append(errs, c.Connection.problems(c.Enabled())...)
	if c.ProbeInterval <= 0 || c.ProbeTimeout <= 0 || c.ProbeTimeout > c.ProbeInterval {
		errs = append(errs, fmt.Errorf("s3 probe interval %v and timeout %v: want positive, timeout <= interval", c.ProbeInterval, c.ProbeTimeout))
	}
	switch strings.ToUpper(c.LockMode) {
	case "":
	case "GOVERNANCE", "COMPLIANCE":
		if c.LockDays < 1 {
			errs = append(errs, fmt.Errorf("s3 lock mode %s needs lock days >= 1", c.LockMode))
		}
	default:
		errs = append(errs, fmt.Errorf("s3 lock mode %q: want GOVERNANCE or COMPLIANCE", c.LockMode))
	}
	if c.SSE != "" && c.SSE != "SSE-S3" {
		errs = append(errs, fmt.Errorf("s3 sse %q: want SSE-S3 or empty", c.SSE))
	}
	if len(c.hostList()) == 0 && c.Enabled() {
		errs = append(errs, errors.New("recording hosts (PN_RECORDING_HOSTS) is empty: no recording could be fetched"))
	}
	if c.MaxBytes < 1 || c.Concurrency < 1 || c.Concurrency > 256 {
		errs = append(errs, fmt.Errorf("recording max bytes %d and concurrency %d: want positive, concurrency <= 256", c.MaxBytes, c.Concurrency))
	}
	if c.DownloadTimeout <= 0 || c.RetryInitial <= 0 || c.RetryMax < c.RetryInitial || c.FlowControlPause <= 0 || c.AckWait < time.Second {
		errs = append(errs, errors.New("recording download timeout, retry, pause must be positive (retry max >= initial), ack wait >= 1s"))
	}
	if c.MaxPending < 2*c.Concurrency {
		errs = append(errs, fmt.Errorf("recording max pending %d: want at least twice the concurrency", c.MaxPending))
	}
	if c.MemorySpool < 0 {
		errs = append(errs, fmt.Errorf("recording memory spool %d: want 0 or more", c.MemorySpool))
	}
	if c.Consumer == "" {
		errs = append(errs, errors.New("recording consumer name is empty"))
	}
	return errors.Join(errs...)
}

// Redacted returns a copy of c safe to log.
func (c Config) Redacted() Config {
	c.Connection = c.Connection.Redacted()
	return c
}

func (c Config) hostList() []string {
	var hosts []string
	for h := range strings.SplitSeq(c.Hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// Policy returns the download host policy of c.
func (c Config) Policy() HostPolicy {
	return HostPolicy{Hosts: c.hostList(), AllowPrivate: c.AllowPrivate}
}
