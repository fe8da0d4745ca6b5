package retention

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// Config is the retention policy and its schedule. Only cmd/ fills it from
// the environment.
type Config struct {
	// RowsDays is how many days of CDRs and call events are kept, counted
	// from the call's time (callInTime, the event's timestamp) to the start
	// of today, UTC (PN_RETENTION_ROWS_DAYS, default 0: keep forever).
	RowsDays int
	// RecordingsDays is how many days of recordings are kept, in S3 and in
	// pn.recordings, counted from the call's day (the object key's date)
	// (PN_RETENTION_RECORDINGS_DAYS, default 0: keep forever).
	RecordingsDays int
	// Interval between two runs across all recorders
	// (PN_RETENTION_INTERVAL, default 1h): each recorder looks this often,
	// and runs only when no replica ran within the interval.
	Interval time.Duration
	// Lease is how long a run may hold the job before another recorder
	// takes it over, as if the holder had died (PN_RETENTION_LEASE,
	// default 1h).
	Lease time.Duration
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{Interval: time.Hour, Lease: time.Hour}
}

// RegisterFlags binds the fields to flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.RowsDays, "retention-rows-days", c.RowsDays, "days of CDRs and call events kept (0 keeps them forever)")
	fs.IntVar(&c.RecordingsDays, "retention-recordings-days", c.RecordingsDays, "days of recordings kept in S3 and pn.recordings (0 keeps them forever)")
	fs.DurationVar(&c.Interval, "retention-interval", c.Interval, "time between two retention runs across all recorders")
	fs.DurationVar(&c.Lease, "retention-lease", c.Lease, "how long a retention run holds the job before another recorder may take it over")
}

// Enabled reports whether anything expires.
func (c Config) Enabled() bool { return c.RowsDays > 0 || c.RecordingsDays > 0 }

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	if c.RowsDays < 0 || c.RecordingsDays < 0 {
		errs = append(errs, fmt.Errorf("retention rows days %d and recordings days %d: want 0 (keep forever) or more", c.RowsDays, c.RecordingsDays))
	}
	if c.Interval <= 0 || c.Lease <= 0 {
		errs = append(errs, errors.New("retention interval and lease must be positive"))
	}
	return errors.Join(errs...)
}

// Cutoffs returns the times before which rows and recordings expire at
// now: the start of the UTC day RowsDays (RecordingsDays) days before
// today; the zero time for a policy that keeps forever.
func (c Config) Cutoffs(now time.Time) (rows, recordings time.Time) {
	today := now.UTC().Truncate(24 * time.Hour)
	if c.RowsDays > 0 {
		rows = today.AddDate(0, 0, -c.RowsDays)
	}
	if c.RecordingsDays > 0 {
		recordings = today.AddDate(0, 0, -c.RecordingsDays)
	}
	return rows, recordings
}
