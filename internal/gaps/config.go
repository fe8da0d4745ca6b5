// Package gaps finds data that should be in the warehouse and is not: a
// call that ended (disconnect event) whose CDR never came, and a recorded
// call whose audio is not archived while the platform still has it. It
// reads the warehouse's gaps view on an interval and exports the counts as
// Prometheus gauges, so an alert fires while the data can still be
// recovered; pnctl gaps prints the same report.
package gaps

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/pnstream/pnstream/internal/warehouse"
)

// Config sets when a candidate becomes a gap and how often to look.
type Config struct {
	// Interval between two checks. The gaps view merges the tables, so a
	// check is a heavy query; gaps matter over hours, not seconds.
	// PN_GAPS_INTERVAL, default 5m; 0 disables the detector.
	Interval time.Duration
	// CDRDelay is how long after a disconnect the CDR may still come. The
	// platform re-pushes a CDR at 1, 4, 9, 106, 203 and 300 minutes, and the
	// reference leaves open whether these are offsets or gaps between
	// attempts: the last re-push comes at most 623 minutes after the first,
	// so only after that is a missing CDR lost rather than late.
	// PN_GAPS_CDR_DELAY, default 11h.
	CDRDelay time.Duration
	// RecordingRetention is how long the platform keeps a recording after
	// the call (7 days, reference section 4). PN_GAPS_RECORDING_RETENTION,
	// default 168h.
	RecordingRetention time.Duration
	// RecordingMargin is how long before the platform deletes a recording
	// an unarchived one counts as a gap: enough to notice, fix and
	// backfill across a weekend. PN_GAPS_RECORDING_MARGIN, default 72h.
	RecordingMargin time.Duration
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Interval:           5 * time.Minute,
		CDRDelay:           11 * time.Hour,
		RecordingRetention: 7 * 24 * time.Hour,
		RecordingMargin:    72 * time.Hour,
	}
}

// RegisterFlags binds the fields to flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.Interval, "gaps-interval", c.Interval, "time between two gap checks (0 disables them)")
	fs.DurationVar(&c.CDRDelay, "gaps-cdr-delay", c.CDRDelay, "time after a disconnect from which a missing CDR is a gap")
	fs.DurationVar(&c.RecordingRetention, "gaps-recording-retention", c.RecordingRetention, "how long the platform keeps a recording after the call")
	fs.DurationVar(&c.RecordingMargin, "gaps-recording-margin", c.RecordingMargin, "time before the platform deletes a recording from which an unarchived one is a gap")
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	if c.Interval < 0 {
		errs = append(errs, fmt.Errorf("gaps interval %s: want 0 (off) or more", c.Interval))
	}
	if c.CDRDelay < 0 {
		errs = append(errs, fmt.Errorf("gaps CDR delay %s: want 0 or more", c.CDRDelay))
	}
	if c.RecordingRetention <= 0 || c.RecordingMargin < 0 || c.RecordingMargin > c.RecordingRetention {
		errs = append(errs, errors.New("gaps recording retention must be positive and the margin between 0 and the retention"))
	}
	return errors.Join(errs...)
}

// Thresholds returns the warehouse query thresholds of c.
func (c Config) Thresholds() warehouse.GapThresholds {
	return warehouse.GapThresholds{
		MissingCDRAfter: c.CDRDelay,
		UnarchivedAfter: c.RecordingRetention - c.RecordingMargin,
	}
}
