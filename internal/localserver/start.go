package localserver

import (
	"context"
	"errors"
)

// startAttempts is how many sets of free ports the Start functions try: a
// port FreePort picked can be taken by another process (another test
// package picking the same one) before the server binds it.
const startAttempts = 3

// StartClickHouse starts a ClickHouse server of cfg, in which zero TCPPort
// and HTTPPort (and SecureTCPPort, when CertFile is set) are picked with
// FreePort. When it picked ports and the start fails, it tries again with
// fresh ones, up to 3 times. A server that did not start is not left
// running.
func StartClickHouse(ctx context.Context, cfg Config) (*ClickHouse, error) {
	return startOnFreePorts(ctx, cfg, New, func(c *Config) []*int {
		if c.CertFile != "" {
			return []*int{&c.TCPPort, &c.HTTPPort, &c.SecureTCPPort}
		}
		return []*int{&c.TCPPort, &c.HTTPPort}
	})
}

// StartS3 starts an S3 gateway of cfg, with a zero Port picked with
// FreePort, retrying as StartClickHouse does.
func StartS3(ctx context.Context, cfg S3Config) (*S3, error) {
	return startOnFreePorts(ctx, cfg, NewS3, func(c *S3Config) []*int { return []*int{&c.Port} })
}

// StartNATS starts a NATS server of cfg, with a zero Port picked with
// FreePort (MonitorPort and ClusterPort stay as given: zero means none),
// retrying as StartClickHouse does.
func StartNATS(ctx context.Context, cfg NATSConfig) (*NATS, error) {
	return startOnFreePorts(ctx, cfg, NewNATS, func(c *NATSConfig) []*int { return []*int{&c.Port} })
}

// startOnFreePorts starts the server newServer makes of cfg with its zero
// ports (among those ports returns) picked, picking again while the start
// fails.
func startOnFreePorts[C any, S interface{ Start(context.Context) error }](
	ctx context.Context, cfg C, newServer func(C) (S, error), ports func(*C) []*int,
) (S, error) {
	var none S
	var errs []error
	for range startAttempts {
		c := cfg
		picked, err := pickFreePorts(ports(&c)...)
		if err != nil {
			return none, errors.Join(append(errs, err)...)
		}
		srv, err := newServer(c)
		if err != nil {
			return none, errors.Join(append(errs, err)...)
		}
		// Start stops a server that does not come up.
		if err := srv.Start(ctx); err != nil {
			errs = append(errs, err)
			if picked && ctx.Err() == nil {
				continue
			}
			break
		}
		return srv, nil
	}
	return none, errors.Join(errs...)
}

// pickFreePorts sets every zero port to a distinct free one and reports
// whether it set any.
func pickFreePorts(ports ...*int) (bool, error) {
	taken := map[int]bool{}
	for _, p := range ports {
		taken[*p] = true
	}
	picked := false
	for _, p := range ports {
		for *p == 0 {
			port, err := FreePort()
			if err != nil {
				return picked, err
			}
			if !taken[port] {
				*p, taken[port], picked = port, true, true
			}
		}
	}
	return picked, nil
}
