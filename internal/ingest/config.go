package ingest

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/privatenumber"
)

// Push authentication modes.
const (
	AuthRequired = "required" // verify X-AKSK (or X-WSSE) with the configured credentials
	AuthOff      = "off"      // accept unauthenticated pushes (logs a warning)
)

// RefusedBodyBytes is how much of a body refused before it was read (401,
// 413) is kept in PN_REJECTED: enough to recognise it, too little for
// anonymous clients to fill the stream.
const RefusedBodyBytes = 4 << 10

// Config of the ingest HTTP receiver.
type Config struct {
	// Addr to listen on. PN_INGEST_ADDR, default ":8080".
	Addr string
	// MaxBodyBytes is the largest push accepted; larger ones get 413. A full
	// 50-record fee push is about 75 KB. PN_INGEST_MAX_BODY_BYTES, default 1 MiB.
	MaxBodyBytes int64
	// MaxRecordBytes is the largest record of a push (a CDR, a call event).
	// A fee record over it is refused while the others are stored (400); a
	// call event over it is a body too large (413).
	// PN_INGEST_MAX_RECORD_BYTES, default 64 KiB (a real CDR is ~1.5 KB).
	MaxRecordBytes int
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
	// messages (and for the nonce store) before ingest answers 503.
	// PN_INGEST_PUBLISH_TIMEOUT, default 5s.
	PublishTimeout time.Duration
	// RetryAfter is the Retry-After of a 503; the platform retries on its
	// own schedule anyway. PN_INGEST_RETRY_AFTER, default 60s.
	RetryAfter time.Duration
	// ShutdownTimeout bounds draining in-flight requests on shutdown.
	// PN_INGEST_SHUTDOWN_TIMEOUT, default 20s.
	ShutdownTimeout time.Duration

	// Auth is "required" or "off". PN_PUSH_AUTH; default "required" when a
	// credential is set. Required without a credential is an error.
	Auth string
	// AppKey the pushes signed with AppSecret must carry as Username; empty
	// accepts any. PN_APP_KEY.
	AppKey string
	// AppSecret verifies push digests. PN_APP_SECRET. Never logged.
	AppSecret string
	// Credentials are more app keys and secrets accepted on pushes:
	// several apps, and a rotation's overlap (one key with two secrets).
	// PN_PUSH_CREDENTIALS, "appKey:secret,…" (a secret holds no comma).
	// Never logged.
	Credentials Credentials
	// MaxAge is how old a push's Created may be; nonces are remembered as
	// long. PN_PUSH_MAX_AGE, default 6h: the platform's last re-push comes
	// 300 min after the first, possibly with the original headers.
	MaxAge time.Duration
	// ClockSkew is how far in the future Created may be (the platform's
	// clock ahead of ours). PN_PUSH_CLOCK_SKEW, default 5m.
	ClockSkew time.Duration
	// WSSE accepts the legacy X-WSSE scheme besides X-AKSK. PN_PUSH_WSSE,
	// default true.
	WSSE bool
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Addr:            ":8080",
		MaxBodyBytes:    1 << 20,
		MaxRecordBytes:  privatenumber.DefaultMaxRecordBytes,
		ReadTimeout:     10 * time.Second,
		WriteTimeout:    15 * time.Second,
		IdleTimeout:     60 * time.Second,
		PublishTimeout:  5 * time.Second,
		RetryAfter:      60 * time.Second,
		ShutdownTimeout: 20 * time.Second,
		MaxAge:          6 * time.Hour,
		ClockSkew:       5 * time.Minute,
		WSSE:            true,
	}
}

// RegisterFlags binds the fields to flags on fs, with the current values as
// defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "ingest-addr", c.Addr, "ingest listen address")
	fs.Int64Var(&c.MaxBodyBytes, "ingest-max-body-bytes", c.MaxBodyBytes, "largest push body accepted (413 above)")
	fs.IntVar(&c.MaxRecordBytes, "ingest-max-record-bytes", c.MaxRecordBytes, "largest record of a push (a fee record over it is refused, the others stored)")
	fs.DurationVar(&c.ReadTimeout, "ingest-read-timeout", c.ReadTimeout, "time to read a whole request")
	fs.DurationVar(&c.WriteTimeout, "ingest-write-timeout", c.WriteTimeout, "time to handle and answer a request")
	fs.DurationVar(&c.IdleTimeout, "ingest-idle-timeout", c.IdleTimeout, "keep-alive idle timeout")
	fs.DurationVar(&c.PublishTimeout, "ingest-publish-timeout", c.PublishTimeout, "time to wait for JetStream acks before answering 503")
	fs.DurationVar(&c.RetryAfter, "ingest-retry-after", c.RetryAfter, "Retry-After sent with 503")
	fs.DurationVar(&c.ShutdownTimeout, "ingest-shutdown-timeout", c.ShutdownTimeout, "time to drain in-flight requests on shutdown")
	fs.StringVar(&c.Auth, "push-auth", c.Auth, `push authentication: "required" or "off" (default required when a credential is set)`)
	fs.StringVar(&c.AppKey, "app-key", c.AppKey, "platform app key")
	fs.StringVar(&c.AppSecret, "app-secret", c.AppSecret, "platform app secret (never logged)")
	fs.Var(&c.Credentials, "push-credentials", "more appKey:secret pairs accepted on pushes, comma separated (never logged)")
	fs.DurationVar(&c.MaxAge, "push-max-age", c.MaxAge, "how old a push's Created may be; nonces are remembered as long")
	fs.DurationVar(&c.ClockSkew, "push-clock-skew", c.ClockSkew, "how far in the future a push's Created may be")
	fs.BoolVar(&c.WSSE, "push-wsse", c.WSSE, "accept the legacy X-WSSE scheme besides X-AKSK")
}

// Complete fills what depends on other settings: Auth defaults to required
// when a credential is set.
func (c *Config) Complete() {
	if c.Auth == "" && len(c.credentials()) > 0 {
		c.Auth = AuthRequired
	}
}

// credentials are every credential of c: AppKey/AppSecret first.
func (c Config) credentials() []aksk.Credential {
	var all []aksk.Credential
	if c.AppSecret != "" {
		all = append(all, aksk.Credential{AppKey: c.AppKey, AppSecret: c.AppSecret})
	}
	return append(all, c.Credentials...)
}

// VerifierConfig is the push verification c describes. Malformed entries
// (which Validate refuses) are left out, never taken as a keyless
// credential.
func (c Config) VerifierConfig() aksk.VerifierConfig {
	var creds []aksk.Credential
	for _, cr := range c.credentials() {
		if cr.AppSecret != "" {
			creds = append(creds, cr)
		}
	}
	return aksk.VerifierConfig{
		Credentials: creds,
		MaxAge:      c.MaxAge,
		ClockSkew:   c.ClockSkew,
		NoWSSE:      !c.WSSE,
	}
}

// NonceWindow is how long a nonce must be remembered after its first
// claim: a push passes authentication until its Created is MaxAge old, and
// Created is at most ClockSkew ahead of the claim. PN_EVENTS'
// duplicate window (the recorder's PN_STREAM_NONCE_WINDOW) must be at
// least this long (JetStreamNonces refuses it otherwise).
func (c Config) NonceWindow() time.Duration { return c.MaxAge + c.ClockSkew }

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("ingest addr is empty"))
	}
	if c.MaxBodyBytes < 4<<10 {
		errs = append(errs, fmt.Errorf("ingest max body bytes %d: want at least 4096", c.MaxBodyBytes))
	}
	if c.MaxRecordBytes < 1<<10 || int64(c.MaxRecordBytes) > c.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("ingest max record bytes %d: want 1024 to the max body bytes (%d)", c.MaxRecordBytes, c.MaxBodyBytes))
	}
	for name, d := range map[string]time.Duration{
		"read timeout": c.ReadTimeout, "write timeout": c.WriteTimeout, "idle timeout": c.IdleTimeout,
		"publish timeout": c.PublishTimeout, "shutdown timeout": c.ShutdownTimeout, "push max age": c.MaxAge,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("ingest %s %s: want > 0", name, d))
		}
	}
	if c.ClockSkew < 0 {
		errs = append(errs, fmt.Errorf("push clock skew %s: want >= 0", c.ClockSkew))
	}
	if c.WriteTimeout <= c.PublishTimeout {
		errs = append(errs, fmt.Errorf("ingest write timeout %s must exceed publish timeout %s", c.WriteTimeout, c.PublishTimeout))
	}
	switch c.Auth {
	case AuthRequired:
		if len(c.credentials()) == 0 {
			errs = append(errs, errors.New("push auth required but no app secret (PN_APP_SECRET or PN_PUSH_CREDENTIALS) is set"))
		}
	case AuthOff:
	case "":
		errs = append(errs, errors.New("push auth not configured: set PN_APP_SECRET, or PN_PUSH_AUTH=off to accept unauthenticated pushes"))
	default:
		errs = append(errs, fmt.Errorf("push auth %q: want required or off", c.Auth))
	}
	for i, cr := range c.Credentials {
		if cr.AppKey == "" || cr.AppSecret == "" {
			errs = append(errs, fmt.Errorf("push credential %d of the list (PN_PUSH_CREDENTIALS): want appKey:secret, both non-empty", i+1))
		}
	}
	// Nonces are scoped by the app key of the credential that matched. A
	// secret under two keys would let a captured header pass under the
	// other key's scope (the digest does not cover the Username).
	keyOf := map[string]string{}
	for _, cr := range c.credentials() {
		if k, ok := keyOf[cr.AppSecret]; ok && k != cr.AppKey {
			errs = append(errs, fmt.Errorf("push credentials: app keys %q and %q share a secret; give each app its own", k, cr.AppKey))
		}
		keyOf[cr.AppSecret] = cr.AppKey
	}
	return errors.Join(errs...)
}

// Redacted returns a copy of c safe to log.
func (c Config) Redacted() Config {
	if c.AppSecret != "" {
		c.AppSecret = "[redacted]"
	}
	creds := make(Credentials, len(c.Credentials))
	for i, cr := range c.Credentials {
		creds[i] = aksk.Credential{AppKey: cr.AppKey, AppSecret: "[redacted]"}
	}
	c.Credentials = creds
	return c
}

// Credentials is the flag value of PN_PUSH_CREDENTIALS: "appKey:secret,…".
// Setting it replaces the list. It prints without the secrets.
type Credentials []aksk.Credential

// String lists the app keys, secrets redacted.
func (cs *Credentials) String() string {
	if cs == nil {
		return ""
	}
	parts := make([]string, len(*cs))
	for i, c := range *cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, ",")
}

// Set parses "appKey:secret,…". It never fails: the flag package would
// quote the whole value, secrets included, in its error. A malformed entry
// is kept empty, and Validate reports it by position.
func (cs *Credentials) Set(s string) error {
	var out Credentials
	for item := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		key, secret, _ := strings.Cut(item, ":")
		key, secret = strings.TrimSpace(key), strings.TrimSpace(secret)
		if key == "" || secret == "" {
			key, secret = "", ""
		}
		out = append(out, aksk.Credential{AppKey: key, AppSecret: secret})
	}
	*cs = out
	return nil
}
