// Package localserver runs the real ClickHouse server as a child process for
// local runs and tests.
//
// It writes a small, self-contained configuration (config.xml and users.xml)
// into a directory of its own, starts clickhouse-server on loopback ports,
// waits until it answers, and stops it again. A stopped server can be started
// again on the same directory with its data intact, which is how tests
// simulate a warehouse outage and its recovery.
//
// The package is meant for development machines and CI, where Debian's
// clickhouse-server package (18.16) is the server that can be installed. It
// reads no environment variables: commands decide where the binary is.
package localserver

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"
)

// DefaultBinaryPath is where Debian's clickhouse-server package installs the
// server; FindBinary falls back to it when clickhouse-server is not on PATH
// (root's PATH has /usr/sbin, other users' often does not).
const DefaultBinaryPath = "/usr/sbin/clickhouse-server"

// Defaults of the timeouts in Config.
const (
	DefaultStartTimeout = 60 * time.Second
	DefaultStopTimeout  = 30 * time.Second
)

// ErrBinaryNotFound is returned by FindBinary, and by Start when Config.Binary
// is empty, when no clickhouse-server executable can be found.
var ErrBinaryNotFound = errors.New("clickhouse-server binary not found")

// Config configures a local ClickHouse server.
type Config struct {
	// Dir holds everything the server writes: config.xml, users.xml, data/
	// and log/. Required. Reusing a Dir keeps the data of earlier runs.
	Dir string
	// TCPPort is the native protocol port on 127.0.0.1. Required.
	TCPPort int
	// HTTPPort is the HTTP interface port on 127.0.0.1. Required.
	HTTPPort int
	// Binary is the clickhouse-server executable. Empty means FindBinary.
	Binary string
	// StartTimeout bounds how long Start waits for the server to answer.
	// Zero means DefaultStartTimeout.
	StartTimeout time.Duration
	// StopTimeout bounds how long Stop waits after SIGTERM before it sends
	// SIGKILL. Zero means DefaultStopTimeout.
	StopTimeout time.Duration
}

// Validate reports every problem of c at once. It has no side effects.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("dir is required"))
	}
	if err := validPort(c.TCPPort); err != nil {
		errs = append(errs, fmt.Errorf("tcp port: %w", err))
	}
	if err := validPort(c.HTTPPort); err != nil {
		errs = append(errs, fmt.Errorf("http port: %w", err))
	}
	if c.TCPPort != 0 && c.TCPPort == c.HTTPPort {
		errs = append(errs, fmt.Errorf("tcp and http port are both %d", c.TCPPort))
	}
	if c.StartTimeout < 0 {
		errs = append(errs, fmt.Errorf("start timeout %s is negative", c.StartTimeout))
	}
	if c.StopTimeout < 0 {
		errs = append(errs, fmt.Errorf("stop timeout %s is negative", c.StopTimeout))
	}
	return errors.Join(errs...)
}

func validPort(p int) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("%d is not in 1..65535", p)
	}
	return nil
}

// FindBinary returns the path of clickhouse-server: the one on PATH, else
// DefaultBinaryPath. It returns ErrBinaryNotFound when neither exists.
func FindBinary() (string, error) {
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath(DefaultBinaryPath); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w (not on PATH, not at %s)", ErrBinaryNotFound, DefaultBinaryPath)
}

// withDefaults returns c with zero timeouts replaced by their defaults and Dir
// made absolute, because the server resolves paths from its own working
// directory.
func (c Config) withDefaults() (Config, error) {
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return c, fmt.Errorf("resolve dir %q: %w", c.Dir, err)
	}
	c.Dir = dir
	return c, nil
}
