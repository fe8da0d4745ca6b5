package streams

import (
	"errors"
	"flag"
	"fmt"
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
	fs.DurationVar(&c.ReconnectWait, "nats-reconnect-wait", c.ReconnectWait, "wait between NATS reconnect attempts")
}

// Validate reports every problem of c.
func (c ConnConfig) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("nats url is empty"))
	}
	if c.ReconnectWait <= 0 {
		errs = append(errs, fmt.Errorf("nats reconnect wait %s: want > 0", c.ReconnectWait))
	}
	return errors.Join(errs...)
}

// Connect connects to NATS. The connection retries its first connect and
// reconnects forever, so a process started before NATS, or outliving a NATS
// restart, recovers on its own; callers watch IsConnected for readiness.
func Connect(cfg ConnConfig, name string, log *zap.Logger) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.ReconnectWait),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil on a deliberate close
				log.Warn("nats disconnected", zap.Error(err))
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
			log.Warn("nats async error", zap.String("subject", subject), zap.Error(err))
		}),
	}
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect nats: %w", err)
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
