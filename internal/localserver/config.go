// Package localserver is the one way pnstream starts the real servers it
// depends on, for local runs (cmd/pnlocal), tests (internal/testenv) and the
// benchmark (internal/bench): ClickHouse (clickhouse-server), an S3 gateway
// (versitygw) and NATS with JetStream (nats-server, as a child process or
// embedded in this process), and any other program as a child process.
//
// Each server keeps everything it writes in a directory of its own, listens
// on loopback ports, and is started, waited for until it answers, and stopped
// again. A stopped server can be started again on the same directory with its
// data intact, which is how tests simulate an outage and its recovery.
// StartClickHouse, StartS3 and StartNATS also pick free ports.
//
// The package is meant for development machines and CI, where Debian's
// clickhouse-server package (18.16) and `go install`ed versitygw are the
// servers that can be installed. It takes no settings from the environment:
// commands decide where the binaries are, and FindBinary and FindS3Binary
// only search the places installers put them.
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

// Defaults of the timeouts in Config, S3Config, NATSConfig and ProgramConfig.
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
	// SecureTCPPort, when not zero, is a second native protocol port on
	// 127.0.0.1 that speaks TLS with CertFile and KeyFile (PEM): for
	// testing clients' TLS. Start still checks the plain ports only.
	SecureTCPPort     int
	CertFile, KeyFile string
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
	errs := validateCommon(c.Dir, c.StartTimeout, c.StopTimeout)
	if err := validPort(c.TCPPort); err != nil {
		errs = append(errs, fmt.Errorf("tcp port: %w", err))
	}
	if err := validPort(c.HTTPPort); err != nil {
		errs = append(errs, fmt.Errorf("http port: %w", err))
	}
	if c.TCPPort != 0 && c.TCPPort == c.HTTPPort {
		errs = append(errs, fmt.Errorf("tcp and http port are both %d", c.TCPPort))
	}
	if c.SecureTCPPort != 0 {
		if err := validPort(c.SecureTCPPort); err != nil {
			errs = append(errs, fmt.Errorf("secure tcp port: %w", err))
		}
		if c.SecureTCPPort == c.TCPPort || c.SecureTCPPort == c.HTTPPort {
			errs = append(errs, fmt.Errorf("secure tcp port %d is already the tcp or http port", c.SecureTCPPort))
		}
	}
	if (c.SecureTCPPort != 0) != (c.CertFile != "" && c.KeyFile != "") || (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("secure tcp port, cert file and key file go together"))
	}
	return errors.Join(errs...)
}

// validateCommon reports the problems of the fields every server's config
// has.
func validateCommon(dir string, startTimeout, stopTimeout time.Duration) []error {
	var errs []error
	if dir == "" {
		errs = append(errs, errors.New("dir is required"))
	}
	if startTimeout < 0 {
		errs = append(errs, fmt.Errorf("start timeout %s is negative", startTimeout))
	}
	if stopTimeout < 0 {
		errs = append(errs, fmt.Errorf("stop timeout %s is negative", stopTimeout))
	}
	return errs
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
// made absolute.
func (c Config) withDefaults() (Config, error) {
	err := resolveCommon(&c.Dir, &c.StartTimeout, &c.StopTimeout)
	return c, err
}

// resolveCommon replaces zero timeouts by their defaults and makes dir
// absolute, because a server resolves paths from its own working directory.
func resolveCommon(dir *string, startTimeout, stopTimeout *time.Duration) error {
	if *startTimeout == 0 {
		*startTimeout = DefaultStartTimeout
	}
	if *stopTimeout == 0 {
		*stopTimeout = DefaultStopTimeout
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return fmt.Errorf("resolve dir %q: %w", *dir, err)
	}
	*dir = abs
	return nil
}
