package localserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// pollInterval is how often Start checks whether the server answers. The
// servers are usually up within a fraction of a second.
const pollInterval = 50 * time.Millisecond

// server is what a child needs from one kind of server.
type server interface {
	// prepare creates the directories and files the server needs. It runs
	// before every launch, so a restart picks up changed settings.
	prepare() error
	// command returns the command that runs the server from the executable
	// bin; the child sets its output and process attributes.
	command(bin string) *exec.Cmd
	// probe returns nil once the server answers the way its clients use it.
	probe(ctx context.Context) error
}

// inProcess is a server that can also run in this process (NATS): a child
// whose spec names no binary launches it with launchInProcess instead of a
// command.
type inProcess interface {
	// launchInProcess starts one run, logging to out (its own descriptor:
	// out is closed when it returns).
	launchInProcess(out *os.File) (*process, error)
}

// childSpec is what a child needs besides the server itself.
type childSpec struct {
	name    string // short name errors begin with: "start <name>: …"
	program string // the executable's name, in "<program> exited unexpectedly"
	addr    string // where the server answers, for start errors
	// binary is the executable; empty means findBinary, on every start, so
	// that an install between two runs is found. Both empty: the server
	// runs in this process.
	binary     string
	findBinary func() (string, error)

	startTimeout, stopTimeout time.Duration

	outputLog string   // receives the server's stdout and stderr
	logs      []string // whose new lines explain a failure; outputLog among them
	quietHint string   // said instead when logs has nothing new
}

// child runs one server at a time, usually as a child process, and gives
// the server types their Stop, Kill, Done, Err and Pid. Its methods are safe
// for concurrent use; start, Stop and Kill are serialized.
type child struct {
	spec childSpec
	srv  server

	mu   sync.Mutex // held for the whole of start, Stop and Kill
	proc *process   // the current or last run; nil before the first start
}

// process is one run of the server.
type process struct {
	pid  int // 0 for a server in this process
	logs []logMark
	done chan struct{} // closed when the run has ended and waitErr is set
	// waitErr is why the run ended (what exec.Cmd.Wait returned); read it
	// only after done.
	waitErr error
	// signalled is set before Stop or Kill end the run, so that its end is
	// not reported as unexpected.
	signalled atomic.Bool
	// terminate asks the run to end (SIGTERM), kill ends it at once
	// (SIGKILL); neither waits for done.
	terminate, kill func() error
}

func newChild(spec childSpec, srv server) *child {
	return &child{spec: spec, srv: srv}
}

// start prepares and launches the server and waits until it answers, for at
// most startTimeout or until ctx is done. If the server does not come up,
// start kills it and returns an error with the tail of its logs.
func (c *child) start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil && !c.proc.exited() {
		return fmt.Errorf("start %s: already running", c.spec.name)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start %s: %w", c.spec.name, err)
	}
	bin := c.spec.binary
	if bin == "" && c.spec.findBinary != nil {
		var err error
		if bin, err = c.spec.findBinary(); err != nil {
			return fmt.Errorf("start %s: %w", c.spec.name, err)
		}
	}
	if err := c.srv.prepare(); err != nil {
		return fmt.Errorf("start %s: %w", c.spec.name, err)
	}
	p, err := c.launch(bin)
	if err != nil {
		return fmt.Errorf("start %s: %w", c.spec.name, err)
	}
	c.proc = p
	if err := c.waitReady(ctx, p); err != nil {
		p.signalled.Store(true)
		if kerr := p.killAndWait(); kerr != nil {
			err = errors.Join(err, kerr)
		}
		return fmt.Errorf("start %s on %s: %w%s", c.spec.name, c.spec.addr, err, c.diagnostics(p))
	}
	return nil
}

// launch starts a run with the server's output appended to the output
// log, marking the logs first so that errors quote only this run's lines.
func (c *child) launch(bin string) (*process, error) {
	out, err := os.OpenFile(c.spec.outputLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open server output log: %w", err)
	}
	// A child process gets its own descriptor, as does an in-process server.
	defer out.Close()
	logs := markLogs(c.spec.logs)
	var p *process
	if ip, ok := c.srv.(inProcess); ok && bin == "" {
		p, err = ip.launchInProcess(out)
	} else {
		p, err = startCommand(c.srv.command(bin), out)
	}
	if err != nil {
		return nil, err
	}
	p.logs = logs
	return p, nil
}

// startCommand starts cmd with its output going to out, in a process group
// of its own, and a goroutine that reaps it.
func startCommand(cmd *exec.Cmd, out *os.File) (*process, error) {
	// An *os.File as output means no copying goroutines to own.
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group, so a signal to -pid reaches anything the
		// server spawns (ClickHouse's dictionary sources, for example).
		Setpgid: true,
		// If this process dies without stopping the server (a test binary
		// killed by its timeout), the kernel kills the server too instead of
		// leaving it holding the ports. Linux ties this to the OS thread that
		// forked; the Go runtime retires threads only when a goroutine exits
		// while locked to one, which nothing here does.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", cmd.Path, err)
	}
	pid := cmd.Process.Pid
	p := &process{
		pid:       pid,
		done:      make(chan struct{}),
		terminate: func() error { return signalGroup(pid, syscall.SIGTERM) },
		kill:      func() error { return signalGroup(pid, syscall.SIGKILL) },
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls until the server's probe succeeds, the process exits, ctx
// is done or the start timeout passes.
func (c *child) waitReady(parent context.Context, p *process) error {
	ctx, cancel := context.WithTimeout(parent, c.spec.startTimeout)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	// The exit also ends a probe that hangs, such as one that reached
	// whoever holds the port the server failed to bind.
	wg.Go(func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	})
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		last := c.srv.probe(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-ticker.C:
			if !p.exited() {
				continue
			}
		case <-ctx.Done():
		}
		// Whichever case fired, an exit is the reason to report.
		switch {
		case p.exited():
			return fmt.Errorf("server exited during start-up: %v", exitDescription(p.waitErr))
		case parent.Err() != nil:
			return parent.Err()
		default:
			return fmt.Errorf("not answering after %s: %w", c.spec.startTimeout, last)
		}
	}
}

// Stop sends SIGTERM and waits for the server to exit. If it has not exited
// after the stop timeout, or when ctx is done first, Stop kills it and
// returns an error saying so. Stopping a server that is not running is a
// no-op.
func (c *child) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.toSignal()
	if p == nil {
		return nil
	}
	if err := p.terminate(); err != nil {
		return fmt.Errorf("stop %s: %w", c.spec.name, err)
	}
	timer := time.NewTimer(c.spec.stopTimeout)
	defer timer.Stop()
	var reason error
	select {
	case <-p.done:
		return nil
	case <-timer.C:
		reason = fmt.Errorf("still running %s after SIGTERM", c.spec.stopTimeout)
	case <-ctx.Done():
		reason = ctx.Err()
	}
	if err := p.killAndWait(); err != nil {
		return fmt.Errorf("stop %s: %w", c.spec.name, errors.Join(reason, err))
	}
	return fmt.Errorf("stop %s: %w; killed it", c.spec.name, reason)
}

// Kill sends SIGKILL and waits for the server to exit: a crash, for fault
// tests. What the server had not yet written to disk is lost, as in a real
// crash. Killing a server that is not running is a no-op.
func (c *child) Kill() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.toSignal(); p != nil {
		if err := p.killAndWait(); err != nil {
			return fmt.Errorf("kill %s: %w", c.spec.name, err)
		}
	}
	return nil
}

// toSignal returns the running process, marked as signalled so that its exit
// is not reported as unexpected, or nil when none runs. c.mu must be held.
func (c *child) toSignal() *process {
	p := c.proc
	if p == nil || p.exited() {
		return nil
	}
	p.signalled.Store(true)
	return p
}

// Done returns a channel that is closed when the server started by the most
// recent Start exits, for any reason. Before the first Start it returns nil,
// which blocks forever in a select.
func (c *child) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil {
		return nil
	}
	return c.proc.done
}

// Err reports why the most recent run ended when it ended on its own: its exit
// status and the tail of its logs. It returns nil while the server runs,
// before the first Start, and after Stop or Kill.
func (c *child) Err() error {
	c.mu.Lock()
	p := c.proc
	c.mu.Unlock()
	if p == nil || !p.exited() || p.signalled.Load() {
		return nil
	}
	return fmt.Errorf("%s exited unexpectedly: %s%s",
		c.spec.program, exitDescription(p.waitErr), c.diagnostics(p))
}

// diagnostics returns what run p wrote to the logs, for error messages.
func (c *child) diagnostics(p *process) string {
	if d := tails(p.logs); d != "" {
		return d
	}
	return "\n(" + c.spec.quietHint + ")"
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// killAndWait ends the run at once and waits for its end, unless the kill
// itself failed.
func (p *process) killAndWait() error {
	if err := p.kill(); err != nil {
		return err
	}
	<-p.done
	return nil
}

// signalGroup sends sig to the process group of pid. A group that is
// already gone is not an error: the reaping goroutine will notice.
func signalGroup(pid int, sig syscall.Signal) error {
	err := syscall.Kill(-pid, sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("send %s to process group %d: %w", sig, pid, err)
	}
	return nil
}

// Pid returns the process id of the running server, or 0 when it does not
// run or runs in this process (an embedded NATS server).
func (c *child) Pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc == nil || c.proc.exited() {
		return 0
	}
	return c.proc.pid
}

func exitDescription(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
