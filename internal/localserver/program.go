package localserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// ProgramConfig configures a Program: any executable run as a child process
// the way ClickHouse and the S3 gateway are, such as pnstream's own commands
// or nats-server in fault-injection tests.
type ProgramConfig struct {
	// Name is the short name errors begin with, such as "recorder".
	// Required.
	Name string
	// Binary is the executable. Required.
	Binary string
	// Args are the command-line arguments.
	Args []string
	// Env is added to this process's environment, later entries winning.
	Env []string
	// LogFile receives the program's stdout and stderr, appended across
	// runs; its directory is created. Required.
	LogFile string
	// Probe returns nil once the program answers; nil means ready as soon
	// as it is started.
	Probe func(ctx context.Context) error
	// StartTimeout bounds how long Start waits for Probe. Zero means
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// StopTimeout bounds how long Stop waits after SIGTERM before it sends
	// SIGKILL. Zero means DefaultStopTimeout.
	StopTimeout time.Duration
}

// Validate reports every problem of c at once. It has no side effects.
func (c ProgramConfig) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name is required"))
	}
	if c.Binary == "" {
		errs = append(errs, errors.New("binary is required"))
	}
	if c.LogFile == "" {
		errs = append(errs, errors.New("log file is required"))
	}
	if c.StartTimeout < 0 || c.StopTimeout < 0 {
		errs = append(errs, fmt.Errorf("start timeout %s and stop timeout %s: want >= 0", c.StartTimeout, c.StopTimeout))
	}
	return errors.Join(errs...)
}

// Program is one child process run from ProgramConfig, with the Start,
// Stop (SIGTERM), Kill (SIGKILL), Done, Err and Pid of the servers. Its methods
// are safe for concurrent use; Start, Stop and Kill are serialized.
type Program struct {
	*child // Stop, Kill, Done, Err and Pid
	cfg    ProgramConfig
}

var _ server = (*Program)(nil)

// NewProgram returns a Program for cfg. It validates cfg and does no I/O;
// Start launches the program.
func NewProgram(cfg ProgramConfig) (*Program, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("program config: %w", err)
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	p := &Program{cfg: cfg}
	p.child = newChild(childSpec{
		name:         cfg.Name,
		program:      filepath.Base(cfg.Binary),
		addr:         "its probe",
		binary:       cfg.Binary,
		startTimeout: cfg.StartTimeout,
		stopTimeout:  cfg.StopTimeout,
		outputLog:    cfg.LogFile,
		logs:         []string{cfg.LogFile},
		quietHint:    "nothing in " + cfg.LogFile,
	}, p)
	return p, nil
}

// Start launches the program and waits until Probe succeeds, for at most
// StartTimeout or until ctx is done. If it does not come up, Start kills it
// and returns an error with the tail of its log. Start may be called again
// after Stop or Kill; it fails while the program runs.
func (p *Program) Start(ctx context.Context) error { return p.start(ctx) }

// LogFile returns where the program's output goes.
func (p *Program) LogFile() string { return p.cfg.LogFile }

func (p *Program) prepare() error {
	if err := os.MkdirAll(filepath.Dir(p.cfg.LogFile), 0o750); err != nil {
		return fmt.Errorf("create log directory: %w", err)
	}
	return nil
}

func (p *Program) command(bin string) *exec.Cmd {
	cmd := exec.Command(bin, p.cfg.Args...)
	cmd.Env = append(os.Environ(), p.cfg.Env...)
	return cmd
}

func (p *Program) probe(ctx context.Context) error {
	if p.cfg.Probe == nil {
		return nil
	}
	return p.cfg.Probe(ctx)
}
