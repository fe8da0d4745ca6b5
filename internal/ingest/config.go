package ingest

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// Push authentication modes.
const (
	AuthRequired = "required" // verify X-AKSK or X-WSSE with the app secret
	AuthOff      = "off"      // accept unauthenticated pushes (logs a warning)
)

// Config of the ingest HTTP receiver.
type Config struct {
	// Addr to listen on. PN_INGEST_ADDR, default ":8080".
	Addr string
	// MaxBodyBytes is the largest push accepted; larger ones get 413. A full
	// 50-record fee push is about 75 KB. PN_INGEST_MAX_BODY_BYTES, default 1 MiB.
	MaxBodyBytes int64
	// ReadTimeout bounds reading a whole request, so slow clients cannot hold
	// connections. PN_INGEST_READ_TIMEOUT, default 10s.
	ReadTimeout time.Duration
	// WriteTimeout bounds a whole request from the end of its headers to the
	// end of the answer; it must exceed PublishTimeout.
	// PN_INGEST_WRITE_TIMEOUT, default 15s.
	WriteTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections. PN_INGEST_IDLE_TIMEOUT, default 60s.
	IdleTimeout time.Duration
	// PublishTimeout is how long a push waits for JetStream to store all its
	// messages before ingest answers 503. PN_INGEST_PUBLISH_TIMEOUT, default 5s.
	PublishTimeout time.Duration
	// RetryAfter is the Retry-After of a 503; the platform retries on its
	// own schedule anyway. PN_INGEST_RETRY_AFTER, default 60s.
	RetryAfter time.Duration
	// ShutdownTimeout bounds draining in-flight requests on shutdown.
	// PN_INGEST_SHUTDOWN_TIMEOUT, default 20s.
	ShutdownTimeout time.Duration

	// Auth is "required" or "off". PN_PUSH_AUTH; default "required" when
	// AppSecret is set. Required without a secret is an error.
	Auth string
	// AppKey the pushes must carry as Username; empty accepts any.
	// PN_APP_KEY.
	AppKey string
	// AppSecret verifies push digests. PN_APP_SECRET. Never logged.
	AppSecret string
	// ReplayWindow is how far Created may be from now, either way, and how
	// long a nonce is remembered. PN_PUSH_REPLAY_WINDOW, default 5m.
	ReplayWindow time.Duration
	// MaxNonces bounds the memory for remembered nonces.
	// PN_PUSH_MAX_NONCES, default 1,000,000 (about 100 MB at worst).
	MaxNonces int
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Addr:            ":8080",
		MaxBodyBytes:    1 << 20,
		ReadTimeout:     10 * time.Second,
		WriteTimeout:    15 * time.Second,
		IdleTimeout:     60 * time.Second,
		PublishTimeout:  5 * time.Second,
		RetryAfter:      60 * time.Second,
		ShutdownTimeout: 20 * time.Second,
		ReplayWindow:    5 * time.Minute,
		MaxNonces:       1_000_000,
	}
}

// RegisterFlags binds the fields to flags on fs, with the current values as
// defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "ingest-addr", c.Addr, "ingest listen address")
	fs.Int64Var(&c.MaxBodyBytes, "ingest-max-body-bytes", c.MaxBodyBytes, "largest push body accepted (413 above)")
	fs.DurationVar(&c.ReadTimeout, "ingest-read-timeout", c.ReadTimeout, "time to read a whole request")
	fs.DurationVar(&c.WriteTimeout, "ingest-write-timeout", c.WriteTimeout, "time to handle and answer a request")
	fs.DurationVar(&c.IdleTimeout, "ingest-idle-timeout", c.IdleTimeout, "keep-alive idle timeout")
	fs.DurationVar(&c.PublishTimeout, "ingest-publish-timeout", c.PublishTimeout, "time to wait for JetStream acks before answering 503")
	fs.DurationVar(&c.RetryAfter, "ingest-retry-after", c.RetryAfter, "Retry-After sent with 503")
	fs.DurationVar(&c.ShutdownTimeout, "ingest-shutdown-timeout", c.ShutdownTimeout, "time to drain in-flight requests on shutdown")
	fs.StringVar(&c.Auth, "push-auth", c.Auth, `push authentication: "required" or "off" (default required when an app secret is set)`)
	fs.StringVar(&c.AppKey, "app-key", c.AppKey, "platform app key")
	fs.StringVar(&c.AppSecret, "app-secret", c.AppSecret, "platform app secret (never logged)")
	fs.DurationVar(&c.ReplayWindow, "push-replay-window", c.ReplayWindow, "accepted clock difference and nonce memory of push authentication")
	fs.IntVar(&c.MaxNonces, "push-max-nonces", c.MaxNonces, "most nonces remembered for replay detection")
}

// Complete fills what depends on other settings: Auth defaults to required
// when a secret is set.
func (c *Config) Complete() {
	if c.Auth == "" && c.AppSecret != "" {
		c.Auth = AuthRequired
	}
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("ingest addr is empty"))
	}
	if c.MaxBodyBytes < 4<<10 {
		errs = append(errs, fmt.Errorf("ingest max body bytes %d: want at least 4096", c.MaxBodyBytes))
	}
	for name, d := range map[string]time.Duration{
		"read timeout": c.ReadTimeout, "write timeout": c.WriteTimeout, "idle timeout": c.IdleTimeout,
		"publish timeout": c.PublishTimeout, "shutdown timeout": c.ShutdownTimeout, "replay window": c.ReplayWindow,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("ingest %s %s: want > 0", name, d))
		}
	}
	if c.WriteTimeout <= c.PublishTimeout {
		errs = append(errs, fmt.Errorf("ingest write timeout %s must exceed publish timeout %s", c.WriteTimeout, c.PublishTimeout))
	}
	switch c.Auth {
	case AuthRequired:
		if c.AppSecret == "" {
			errs = append(errs, errors.New("push auth required but no app secret (PN_APP_SECRET) is set"))
		}
	case AuthOff:
	case "":
		errs = append(errs, errors.New("push auth not configured: set PN_APP_SECRET, or PN_PUSH_AUTH=off to accept unauthenticated pushes"))
	default:
		errs = append(errs, fmt.Errorf("push auth %q: want required or off", c.Auth))
	}
	return errors.Join(errs...)
}

// Redacted returns a copy of c safe to log.
func (c Config) Redacted() Config {
	if c.AppSecret != "" {
		c.AppSecret = "[redacted]"
	}
	return c
}
