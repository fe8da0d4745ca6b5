package pii

import (
	"flag"
	"fmt"

	"github.com/pnstream/pnstream/internal/redact"
)

// Config is the phone-number policy's settings. Only cmd/ fills it from the
// environment; this package reads no environment variable.
type Config struct {
	// Mode is how subscribers' phone numbers are stored (PN_PII_MODE,
	// default "masked"): "raw", "masked" (country code and last four
	// digits) or "hmac" (a keyed hash under Key, the same for the same
	// number, so joins and per-number counts still work). It applies to the
	// number columns, the sessionId and the raw JSON of fee_records and
	// call_events, and to the sessionId of recording jobs and rows.
	Mode string

	// Key is the HMAC key of Mode "hmac", at least 32 bytes (PN_PII_KEY).
	// It is a secret: String redacts it and --help never shows it. Changing
	// it changes every hash, so rows before and after no longer join.
	Key string
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config { return Config{Mode: DefaultMode} }

// RegisterFlags binds c's fields to the flags pii-mode and pii-key of fs
// (PN_PII_MODE and PN_PII_KEY), with c's current values as defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Mode, "pii-mode", c.Mode, "how phone numbers are stored: raw, masked (country code and last 4 digits) or hmac (keyed hash, PN_PII_KEY)")
	fs.Var((*redact.Secret)(&c.Key), "pii-key", "HMAC key of pii-mode hmac, at least 32 bytes (secret)")
}

// Validate reports what is wrong with c, without the key's value.
func (c Config) Validate() error { return Validate(c.Mode, []byte(c.Key)) }

// Policy returns the policy of c; it fails as Validate does.
func (c Config) Policy() (Policy, error) { return New(c.Mode, []byte(c.Key)) }

// String renders c for logs with the key redacted.
func (c Config) String() string {
	key := ""
	if c.Key != "" {
		key = "REDACTED"
	}
	return fmt.Sprintf("{Mode:%s Key:%s}", c.Mode, key)
}

// GoString makes %#v redact the key too.
func (c Config) GoString() string { return "pii.Config" + c.String() }
