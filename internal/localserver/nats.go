package localserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// DefaultNATSMaxMemoryStore caps JetStream's memory storage when
// NATSConfig.MaxMemoryStore is zero.
const DefaultNATSMaxMemoryStore = 256 << 20

// natsMaxFileStore is JetStream's file storage cap: an accounting figure
// (see templates/nats.conf.tmpl), not disk the server takes.
const natsMaxFileStore = 1 << 40

// natsMaxPayload is the most nats-server accepts as max_payload.
const natsMaxPayload = 64 << 20

// NATSConfig configures a local NATS server with JetStream.
type NATSConfig struct {
	// Dir holds everything the server writes: nats.conf, the JetStream
	// store (Dir/jetstream) and log/. Required. Reusing a Dir keeps the
	// streams of earlier runs.
	Dir string
	// Port is the client port on 127.0.0.1. Required.
	Port int
	// MonitorPort, when not zero, is the HTTP monitoring port on 127.0.0.1
	// (/healthz, /varz, ...).
	MonitorPort int
	// Name is the server's name; empty means "pnstream-local". The members
	// of a cluster need distinct names.
	Name string
	// Binary is a nats-server executable to run as a child process, with a
	// Go runtime and garbage collector of its own as in production. Empty
	// runs the server embedded in this process: nothing to build, but its
	// work shows in this process's CPU and memory, and Kill is Stop.
	Binary string
	// MaxMemoryStore caps JetStream's memory storage, in bytes. Zero means
	// DefaultNATSMaxMemoryStore.
	MaxMemoryStore int64
	// MaxPayload is the largest message, in bytes; zero keeps nats-server's
	// default (1 MB).
	MaxPayload int
	// SyncInterval is JetStream's sync_interval: "always" (fsync before
	// every ack), a duration such as "10s", or empty for nats-server's
	// default (2m).
	SyncInterval string
	// ClusterPort, when not zero, makes the server a member of the cluster
	// ClusterName: it takes routes on 127.0.0.1:<ClusterPort> and connects
	// to the other members' RoutePorts.
	ClusterName string
	ClusterPort int
	RoutePorts  []int
	// StartTimeout bounds how long Start waits for the server to answer.
	// Zero means DefaultStartTimeout.
	StartTimeout time.Duration
	// StopTimeout bounds how long Stop waits after SIGTERM before it sends
	// SIGKILL. Zero means DefaultStopTimeout.
	StopTimeout time.Duration
}

// Validate reports every problem of c at once. It has no side effects.
func (c NATSConfig) Validate() error {
	errs := validateCommon(c.Dir, c.StartTimeout, c.StopTimeout)
	ports := map[string]int{"port": c.Port}
	if c.MonitorPort != 0 {
		ports["monitor port"] = c.MonitorPort
	}
	if c.ClusterPort != 0 {
		ports["cluster port"] = c.ClusterPort
	}
	seen := map[int]string{}
	for _, name := range []string{"port", "monitor port", "cluster port"} {
		p, ok := ports[name]
		if !ok {
			continue
		}
		if err := validPort(p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		} else if other, dup := seen[p]; dup {
			errs = append(errs, fmt.Errorf("%s and %s are both %d", other, name, p))
		}
		seen[p] = name
	}
	if c.MaxMemoryStore < 0 {
		errs = append(errs, fmt.Errorf("max memory store %d is negative", c.MaxMemoryStore))
	}
	if c.MaxPayload < 0 || c.MaxPayload > natsMaxPayload {
		errs = append(errs, fmt.Errorf("max payload %d: want 0 to %d", c.MaxPayload, natsMaxPayload))
	}
	if c.SyncInterval != "" && c.SyncInterval != "always" {
		if d, err := time.ParseDuration(c.SyncInterval); err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("sync interval %q: want always or a positive duration", c.SyncInterval))
		}
	}
	if c.ClusterPort == 0 && (c.ClusterName != "" || len(c.RoutePorts) > 0) {
		errs = append(errs, errors.New("cluster name and route ports need a cluster port"))
	}
	if c.ClusterPort != 0 && c.ClusterName == "" {
		errs = append(errs, errors.New("a cluster port needs a cluster name"))
	}
	for _, p := range c.RoutePorts {
		if err := validPort(p); err != nil {
			errs = append(errs, fmt.Errorf("route port: %w", err))
		}
	}
	return errors.Join(errs...)
}

// NATS is one nats-server with JetStream, as a child process or embedded in
// this process (NATSConfig.Binary), on a directory of its own. Both run
// from the same nats.conf. Its methods are safe for concurrent use; Start,
// Stop and Kill are serialized.
type NATS struct {
	*child // Stop, Kill, Done, Err and Pid (0 when embedded)
	cfg    NATSConfig
	layout natsLayout
	// embedded is the server of the current embedded run, for probe.
	embedded atomic.Pointer[natsserver.Server]
}

var (
	_ server    = (*NATS)(nil)
	_ inProcess = (*NATS)(nil)
)

// natsLayout is where the server keeps its files inside NATSConfig.Dir.
type natsLayout struct {
	ConfigFile string // Dir/nats.conf
	LogDir     string // Dir/log
	// OutputLog receives the server's log: its stdout and stderr as a child
	// process, its log lines when embedded.
	OutputLog string // Dir/log/nats-server.log
}

func newNATSLayout(dir string) natsLayout {
	logDir := filepath.Join(dir, "log")
	return natsLayout{
		ConfigFile: filepath.Join(dir, "nats.conf"),
		LogDir:     logDir,
		OutputLog:  filepath.Join(logDir, "nats-server.log"),
	}
}

// NewNATS returns a server for cfg. It validates cfg and does no I/O; Start
// launches the server.
func NewNATS(cfg NATSConfig) (*NATS, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("nats config: %w", err)
	}
	if err := resolveCommon(&cfg.Dir, &cfg.StartTimeout, &cfg.StopTimeout); err != nil {
		return nil, fmt.Errorf("nats config: %w", err)
	}
	if cfg.Name == "" {
		cfg.Name = "pnstream-local"
	}
	if cfg.MaxMemoryStore == 0 {
		cfg.MaxMemoryStore = DefaultNATSMaxMemoryStore
	}
	n := &NATS{cfg: cfg, layout: newNATSLayout(cfg.Dir)}
	n.child = newChild(childSpec{
		name:         "nats",
		program:      "nats-server",
		addr:         n.hostPort(),
		binary:       cfg.Binary, // empty: embedded
		startTimeout: cfg.StartTimeout,
		stopTimeout:  cfg.StopTimeout,
		outputLog:    n.layout.OutputLog,
		logs:         []string{n.layout.OutputLog},
		quietHint:    "nothing in " + n.layout.OutputLog,
	}, n)
	return n, nil
}

func (n *NATS) hostPort() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.cfg.Port)) }

// URL returns the client URL, "nats://127.0.0.1:<Port>". It stays the same
// across Stop and Start.
func (n *NATS) URL() string { return "nats://" + n.hostPort() }

// MonitorURL returns "http://127.0.0.1:<MonitorPort>", or "" without a
// monitoring port.
func (n *NATS) MonitorURL() string {
	if n.cfg.MonitorPort == 0 {
		return ""
	}
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(n.cfg.MonitorPort))
}

// Dir returns the absolute directory the server keeps its files in.
func (n *NATS) Dir() string { return n.cfg.Dir }

// Start writes nats.conf, launches the server and waits until it accepts
// clients with JetStream enabled, for at most NATSConfig.StartTimeout or
// until ctx is done. If the server does not come up, Start stops it and
// returns an error with the tail of its log. Start may be called again
// after Stop or Kill; the streams in Dir are kept. It fails if the server
// is already running.
func (n *NATS) Start(ctx context.Context) error { return n.start(ctx) }

// prepare creates the directories and writes nats.conf, which the child
// process reads and the embedded server is configured from.
func (n *NATS) prepare() error {
	if err := os.MkdirAll(n.layout.LogDir, 0o750); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	data := struct {
		NATSConfig
		StoreDir     string
		MaxFileStore int64
	}{n.cfg, n.cfg.Dir, natsMaxFileStore}
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, "nats.conf.tmpl", data); err != nil {
		return fmt.Errorf("render nats.conf: %w", err)
	}
	if err := os.WriteFile(n.layout.ConfigFile, buf.Bytes(), 0o640); err != nil {
		return fmt.Errorf("write server config: %w", err)
	}
	return nil
}

func (n *NATS) command(bin string) *exec.Cmd {
	return exec.Command(bin, "-c", n.layout.ConfigFile)
}

// launchInProcess runs the server in this process from nats.conf. It logs
// to a descriptor of its own on the output log, and ends the run on a fatal
// error as the binary would exit.
func (n *NATS) launchInProcess(out *os.File) (*process, error) {
	opts, err := natsserver.ProcessConfigFile(n.layout.ConfigFile)
	if err != nil {
		return nil, fmt.Errorf("nats.conf: %w", err)
	}
	// The process owns its signals, not the server in it.
	opts.NoSigs = true
	logFile, err := os.OpenFile(out.Name(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("open server output log: %w", err)
	}
	srv, err := natsserver.NewServer(opts)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("nats server: %w", err), logFile.Close())
	}
	log := &natsLog{out: logFile, srv: srv}
	srv.SetLoggerV2(log, false, false, false)
	n.embedded.Store(srv)
	stop := func() error { srv.Shutdown(); return nil }
	p := &process{done: make(chan struct{}), terminate: stop, kill: stop}
	srv.Start()
	go func() {
		srv.WaitForShutdown()
		p.waitErr = errors.Join(log.wait(), logFile.Close())
		close(p.done)
	}()
	return p, nil
}

// probe checks that the server accepts clients with JetStream enabled.
// An embedded server is asked directly: whoever answers on the port may be
// another process that took it first, while this server failed to bind.
// A child process is asked as a client would: it greets with an INFO line.
func (n *NATS) probe(ctx context.Context) error {
	if n.cfg.Binary == "" {
		srv := n.embedded.Load()
		if !srv.ReadyForConnections(time.Millisecond) {
			return errors.New("not listening yet")
		}
		if !srv.JetStreamEnabled() {
			return errors.New("JetStream is not enabled")
		}
		return nil
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", n.hostPort())
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(2 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := conn.SetReadDeadline(deadline); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read INFO: %w", err)
	}
	payload, ok := strings.CutPrefix(line, "INFO ")
	if !ok {
		return fmt.Errorf("greeted with %.40q, want INFO", line)
	}
	var info struct {
		JetStream bool `json:"jetstream"`
	}
	if err := json.Unmarshal([]byte(payload), &info); err != nil {
		return fmt.Errorf("INFO: %w", err)
	}
	if !info.JetStream {
		return errors.New("JetStream is not enabled")
	}
	return nil
}

// natsLog is an embedded server's logger: lines to the output log, as the
// binary writes them, and a fatal error ends the run as it ends the binary.
type natsLog struct {
	out *os.File
	srv *natsserver.Server

	mu       sync.Mutex
	fatal    error
	ended    bool           // set by wait: no shutdown starts after it
	shutdown sync.WaitGroup // the shutdown a fatal error started
}

func (l *natsLog) logf(level, format string, v ...any) {
	line := fmt.Sprintf("%s [%s] %s\n", time.Now().UTC().Format("2006/01/02 15:04:05.000000"), level, fmt.Sprintf(format, v...))
	_, _ = l.out.WriteString(line) // a line that cannot be written is lost, as the binary's would be
}

func (l *natsLog) Noticef(format string, v ...any) { l.logf("INF", format, v...) }
func (l *natsLog) Warnf(format string, v ...any)   { l.logf("WRN", format, v...) }
func (l *natsLog) Errorf(format string, v ...any)  { l.logf("ERR", format, v...) }
func (l *natsLog) Debugf(string, ...any)           {}
func (l *natsLog) Tracef(string, ...any)           {}

// Fatalf records the first fatal error and shuts the server down in the
// background: the caller is one of the server's goroutines, which Shutdown
// waits for.
func (l *natsLog) Fatalf(format string, v ...any) {
	l.logf("FTL", format, v...)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fatal != nil || l.ended {
		return
	}
	l.fatal = fmt.Errorf("fatal: "+format, v...)
	l.shutdown.Go(l.srv.Shutdown)
}

// wait waits for the shutdown a fatal error started, if any, and returns
// that error.
func (l *natsLog) wait() error {
	l.mu.Lock()
	l.ended = true
	l.mu.Unlock()
	l.shutdown.Wait()
	return l.fatal
}
