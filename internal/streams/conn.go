package streams

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// ConnConfig says how to reach NATS.
type ConnConfig struct {
	// URL of the NATS server(s), comma separated. PN_NATS_URL, default
	// nats://127.0.0.1:4222.
	URL string
	// CredsFile is a NATS credentials file, if the cluster needs one.
	// PN_NATS_CREDS.
	CredsFile string
	// CAFile is a PEM CA the NATS servers' certificates must chain to, for
	// tls:// URLs of a cluster with its own CA; empty uses the system
	// roots. Verification is always on. PN_NATS_CA_FILE.
	CAFile string
	// ReconnectWait between reconnect attempts; the client reconnects
	// forever. PN_NATS_RECONNECT_WAIT, default 500ms.
	ReconnectWait time.Duration
}

// DefaultConnConfig returns the defaults documented on ConnConfig.
func DefaultConnConfig() ConnConfig {
	return ConnConfig{URL: nats.DefaultURL, ReconnectWait: 500 * time.Millisecond}
}

// RegisterFlags binds the fields to flags on fs.
func (c *ConnConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.URL, "nats-url", c.URL, "NATS server URL(s), comma separated")
	fs.StringVar(&c.CredsFile, "nats-creds", c.CredsFile, "NATS credentials file")
	fs.StringVar(&c.CAFile, "nats-ca-file", c.CAFile, "PEM CA of the NATS servers' certificates (tls:// URLs; system roots when empty)")
	fs.DurationVar(&c.ReconnectWait, "nats-reconnect-wait", c.ReconnectWait, "wait between NATS reconnect attempts")
}

// Validate reports every problem of c.
func (c ConnConfig) Validate() error {
	var errs []error
	if strings.TrimSpace(c.URL) == "" {
		errs = append(errs, errors.New("nats url is empty"))
	} else {
		// The URL is never quoted: it may carry a password.
		for i, p := range strings.Split(c.URL, ",") {
			if _, ok := parseNATSURL(strings.TrimSpace(p)); !ok {
				errs = append(errs, fmt.Errorf("nats url %d of the list: unparsable or without a host", i+1))
			}
		}
	}
	if c.CAFile != "" {
		if _, err := os.Stat(c.CAFile); err != nil {
			errs = append(errs, fmt.Errorf("nats ca file: %w", err))
		}
	}
	if c.ReconnectWait <= 0 {
		errs = append(errs, fmt.Errorf("nats reconnect wait %s: want > 0", c.ReconnectWait))
	}
	return errors.Join(errs...)
}

// Connect connects to NATS. The connection retries its first connect and
// reconnects forever, so a process started before NATS, or outliving a NATS
// restart, recovers on its own; callers watch IsConnected for readiness.
// Neither its logs nor its errors show the URL's credentials.
func Connect(cfg ConnConfig, name string, log *zap.Logger) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.ReconnectWait),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil on a deliberate close
				log.Warn("nats disconnected", zap.Error(scrub(err, cfg.URL)))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", zap.String("url", nc.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("nats async error", zap.String("subject", subject), zap.Error(scrub(err, cfg.URL)))
		}),
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.CAFile != "" {
		opts = append(opts, nats.RootCAs(cfg.CAFile))
	}
	// nats.go's URL parse errors quote the whole URL, password included:
	// refuse unparsable URLs here, without quoting them.
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("connect nats: %w", err)
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect nats %s: %w", RedactURL(cfg.URL), scrub(err, cfg.URL))
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream context: %w", err)
	}
	return nc, js, nil
}

// Drain drains nc, so pending publishes and acks are flushed, and waits
// until it is closed or timeout passes.
func Drain(nc *nats.Conn, timeout time.Duration) error {
	if nc.IsClosed() {
		return nil
	}
	if err := nc.Drain(); err != nil {
		nc.Close()
		return fmt.Errorf("drain nats: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for !nc.IsClosed() {
		if time.Now().After(deadline) {
			nc.Close()
			return fmt.Errorf("drain nats: not done after %s", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// scrub returns err, or, when its text holds a credential of the URLs in
// rawURLs, an error with the same text minus the credentials (the chain is
// lost then: a credential must never reach a log).
func scrub(err error, rawURLs string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, p := range strings.Split(rawURLs, ",") {
		u, ok := parseNATSURL(strings.TrimSpace(p))
		if !ok || u.User == nil {
			continue
		}
		clean = strings.ReplaceAll(clean, u.User.String(), "redacted") // as escaped in the URL
		if pw, set := u.User.Password(); set && pw != "" {
			clean = strings.ReplaceAll(clean, pw, "redacted")
		}
		if name := u.User.Username(); name != "" {
			clean = strings.ReplaceAll(clean, name, "redacted")
		}
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}
