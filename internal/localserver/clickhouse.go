package localserver

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ClickHouse is one clickhouse-server child process on a directory of its
// own. Its methods are safe for concurrent use; Start, Stop and Kill are
// serialized.
type ClickHouse struct {
	*child // Stop, Kill, Done, Err and Pid
	cfg    Config
	layout layout
	// pinger asks /ping during Start; no keep-alive, so that no idle
	// connection (and goroutine) outlives Start.
	pinger *http.Client
}

var _ server = (*ClickHouse)(nil)

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
	c := &ClickHouse{
		cfg:    cfg,
		layout: newLayout(cfg.Dir),
		pinger: &http.Client{
			Transport: &http.Transport{DisableKeepAlives: true},
			Timeout:   time.Second,
		},
	}
	c.child = newChild(childSpec{
		name:         "clickhouse",
		program:      "clickhouse-server",
		addr:         c.Addr(),
		binary:       cfg.Binary,
		findBinary:   FindBinary,
		startTimeout: cfg.StartTimeout,
		stopTimeout:  cfg.StopTimeout,
		outputLog:    c.layout.StdoutLog,
		logs:         []string{c.layout.ErrorLog, c.layout.StdoutLog},
		quietHint:    fmt.Sprintf("nothing in %s; see %s", c.layout.LogDir, c.layout.ServerLog),
	}, c)
	return c, nil
}

// Addr returns the native protocol address, "127.0.0.1:<TCPPort>".
func (c *ClickHouse) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.cfg.TCPPort))
}

// SecureAddr returns the native protocol over TLS address,
// "127.0.0.1:<SecureTCPPort>", or "" when Config.SecureTCPPort is zero.
func (c *ClickHouse) SecureAddr() string {
	if c.cfg.SecureTCPPort == 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.cfg.SecureTCPPort))
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
func (c *ClickHouse) Start(ctx context.Context) error { return c.start(ctx) }

func (c *ClickHouse) prepare() error { return c.layout.prepare(c.cfg) }

func (c *ClickHouse) command(bin string) *exec.Cmd {
	cmd := exec.Command(bin, "--config-file="+c.layout.ConfigFile)
	cmd.Dir = c.cfg.Dir
	return cmd
}

// probe checks both ports once: HTTP /ping, which answers once the server
// has loaded its metadata, then a native protocol handshake and ping, which
// is what clients use. (A bare TCP connect would do for the native port, but
// leaves "Client has not sent any data" in the error log on every start.)
func (c *ClickHouse) probe(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.HTTPAddr()+"/ping", nil)
	if err != nil {
		return fmt.Errorf("ping request: %w", err)
	}
	resp, err := c.pinger.Do(req)
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
