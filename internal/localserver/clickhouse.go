package localserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// pollInterval is how often Start checks whether the server answers. The
// server is usually up within a fraction of a second.
const pollInterval = 50 * time.Millisecond

// ClickHouse is one clickhouse-server child process on a directory of its
// own. Its methods are safe for concurrent use; Start, Stop and Kill are
// serialized.
type ClickHouse struct {
	cfg    Config
	layout layout

	mu   sync.Mutex // held for the whole of Start, Stop and Kill
	proc *process   // the current or last run; nil before the first Start
}

// process is one run of the server.
type process struct {
	cmd  *exec.Cmd
	offs logOffsets
	done chan struct{} // closed when the process has exited and waitErr is set
	// waitErr is what exec.Cmd.Wait returned; read it only after done.
	waitErr error
	// signalled is set before Stop or Kill signal the process, so that its
	// exit is not reported as unexpected.
	signalled atomic.Bool
}

// New returns a server for cfg. It validates cfg and does no I/O; Start
// launches the server.
func New(cfg Config) (*ClickHouse, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("clickhouse config: %w", err)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("clickhouse config: %w", err)
	}
	return &ClickHouse{cfg: cfg, layout: newLayout(cfg.Dir)}, nil
}

// Addr returns the native protocol address, "127.0.0.1:<TCPPort>".
func (c *ClickHouse) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.cfg.TCPPort))
}

// HTTPAddr returns the HTTP interface address, "127.0.0.1:<HTTPPort>".
func (c *ClickHouse) HTTPAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.cfg.HTTPPort))
}

// Dir returns the absolute directory the server keeps its files in.
func (c *ClickHouse) Dir() string { return c.cfg.Dir }

// Start writes the configuration, launches clickhouse-server and waits until
// it answers on both ports, for at most Config.StartTimeout or until ctx is
// done. If the server does not come up, Start kills it and returns an error
// with the tail of its logs. Start may be called again after Stop or Kill;
// the data in Dir is kept. It fails if the server is already running.
func (c *ClickHouse) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil && !c.proc.exited() {
		return errors.New("start clickhouse: already running")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start clickhouse: %w", err)
	}
	bin := c.cfg.Binary
	if bin == "" {
		var err error
		if bin, err = FindBinary(); err != nil {
			return fmt.Errorf("start clickhouse: %w", err)
		}
	}
	if err := c.layout.prepare(c.cfg); err != nil {
		return fmt.Errorf("start clickhouse: %w", err)
	}
	p, err := c.launch(bin)
	if err != nil {
		return fmt.Errorf("start clickhouse: %w", err)
	}
	c.proc = p
	if err := c.waitReady(ctx, p); err != nil {
		p.signalled.Store(true)
		if kerr := p.kill(); kerr != nil {
			err = errors.Join(err, kerr)
		}
		<-p.done
		return fmt.Errorf("start clickhouse on %s: %w%s", c.Addr(), err, c.layout.diagnostics(p.offs))
	}
	return nil
}

// launch starts the process and a goroutine that reaps it.
func (c *ClickHouse) launch(bin string) (*process, error) {
	out, err := os.OpenFile(c.layout.StdoutLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open server output log: %w", err)
	}
	// The child gets its own descriptor; ours is not needed after Start.
	defer out.Close()

	p := &process{offs: c.layout.offsets(), done: make(chan struct{})}
	p.cmd = exec.Command(bin, "--config-file="+c.layout.ConfigFile)
	p.cmd.Dir = c.cfg.Dir
	// An *os.File as output means no copying goroutines to own.
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group, so a signal to -pid reaches anything the
		// server spawns (dictionary sources, for example).
		Setpgid: true,
		// If this process dies without stopping the server (a test binary
		// killed by its timeout), the kernel kills the server too instead of
		// leaving it holding the ports. Linux ties this to the OS thread that
		// forked; the Go runtime retires threads only when a goroutine exits
		// while locked to one, which nothing here does.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", bin, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls until the server answers HTTP /ping and accepts TCP
// connections on the native port, the process exits, ctx is done or the start
// timeout passes.
func (c *ClickHouse) waitReady(parent context.Context, p *process) error {
	ctx, cancel := context.WithTimeout(parent, c.cfg.StartTimeout)
	defer cancel()
	client := &http.Client{
		// No keep-alive: no idle connection (and goroutine) outlives Start.
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   time.Second,
	}
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	var last error
	for {
		if last = c.probe(ctx, client); last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("server exited during start-up: %v", exitDescription(p.waitErr))
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return err
			}
			return fmt.Errorf("not answering after %s: %w", c.cfg.StartTimeout, last)
		case <-ticker.C:
		}
	}
}

// probe checks both ports once: HTTP /ping, which answers once the server
// has loaded its metadata, then a native protocol handshake and ping, which
// is what clients use. (A bare TCP connect would do for the native port, but
// leaves "Client has not sent any data" in the error log on every start.)
func (c *ClickHouse) probe(ctx context.Context, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.HTTPAddr()+"/ping", nil)
	if err != nil {
		return fmt.Errorf("ping request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("read ping answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != "Ok.\n" {
		return fmt.Errorf("ping answered %s %q", resp.Status, body)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{c.Addr()},
		DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("native connection: %w", err)
	}
	err = conn.Ping(ctx)
	if cerr := conn.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("native ping: %w", err)
	}
	return nil
}

// Stop sends SIGTERM and waits for the server to exit. If it has not exited
// after Config.StopTimeout, or when ctx is done first, Stop kills it and
// returns an error saying so. Stopping a server that is not running is a
// no-op.
func (c *ClickHouse) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.proc
	if p == nil || p.exited() {
		return nil
	}
	p.signalled.Store(true)
	if err := p.signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop clickhouse: %w", err)
	}
	timer := time.NewTimer(c.cfg.StopTimeout)
	defer timer.Stop()
	var reason error
	select {
	case <-p.done:
		return nil
	case <-timer.C:
		reason = fmt.Errorf("still running %s after SIGTERM", c.cfg.StopTimeout)
	case <-ctx.Done():
		reason = ctx.Err()
	}
	if err := p.kill(); err != nil {
		return fmt.Errorf("stop clickhouse: %w", errors.Join(reason, err))
	}
	<-p.done
	return fmt.Errorf("stop clickhouse: %w; killed it", reason)
}

// Kill sends SIGKILL and waits for the server to exit: a crash, for fault
// tests. What the server had not yet written to disk is lost, as in a real
// crash. Killing a server that is not running is a no-op.
func (c *ClickHouse) Kill() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.proc
	if p == nil || p.exited() {
		return nil
	}
	p.signalled.Store(true)
	if err := p.kill(); err != nil {
		return fmt.Errorf("kill clickhouse: %w", err)
	}
	<-p.done
	return nil
}

// Done returns a channel that is closed when the server started by the most
// recent Start exits, for any reason. Before the first Start it returns nil,
// which blocks forever in a select.
func (c *ClickHouse) Done() <-chan struct{} {
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
func (c *ClickHouse) Err() error {
	c.mu.Lock()
	p := c.proc
	c.mu.Unlock()
	if p == nil || !p.exited() || p.signalled.Load() {
		return nil
	}
	return fmt.Errorf("clickhouse-server exited unexpectedly: %s%s",
		exitDescription(p.waitErr), c.layout.diagnostics(p.offs))
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the server's process group. A group that is already
// gone is not an error: the reaping goroutine will notice.
func (p *process) signal(sig syscall.Signal) error {
	err := syscall.Kill(-p.cmd.Process.Pid, sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("send %s to process group %d: %w", sig, p.cmd.Process.Pid, err)
	}
	return nil
}

func (p *process) kill() error { return p.signal(syscall.SIGKILL) }

func exitDescription(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
