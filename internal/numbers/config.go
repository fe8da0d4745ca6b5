// Package numbers watches the privacy numbers X the platform reported as
// not usable (X-number status pushes, stored in pn.number_status): it reads
// the current state of every number from ClickHouse on an interval and
// exports one Prometheus series per unusable number, with its status and
// cause, so that an alert names the number and why. Reading ClickHouse
// rather than counting what this process consumed makes every recorder
// replica report the same truth, whichever of them stored the push.
package numbers

import (
	"flag"
	"fmt"
	"time"
)

// Config sets how often to look.
type Config struct {
	// Interval between two checks. number_status_current holds one row per
	// X number, so a check is a light query; a number's state changes
	// seldom, and a minute is soon enough to page. PN_NUMBERS_INTERVAL,
	// default 1m; 0 disables the watch (and its series).
	Interval time.Duration
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config { return Config{Interval: time.Minute} }

// RegisterFlags binds the fields to flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.Interval, "numbers-interval", c.Interval, "time between two reads of the X numbers' states (0 disables the pn_number_unusable series)")
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	if c.Interval < 0 {
		return fmt.Errorf("numbers interval %s: want 0 (off) or more", c.Interval)
	}
	return nil
}
