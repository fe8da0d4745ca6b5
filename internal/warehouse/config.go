package warehouse

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pnstream/pnstream/internal/redact"
)

// Config says how to reach ClickHouse. Only cmd/ fills it from the
// environment; this package reads no environment variable.
type Config struct {
	// Addr is the ClickHouse native-protocol endpoint, host:port, or a
	// comma-separated list of them tried in order (PN_CLICKHOUSE_ADDR,
	// default "127.0.0.1:9000"). The native protocol is required: the HTTP
	// interface of clickhouse-go fails on ClickHouse 18.16.
	Addr string

	// Database holds pnstream's tables (PN_CLICKHOUSE_DATABASE, default
	// "pn"). Migrate creates it. It must be a plain identifier, since it is
	// spliced into DDL.
	Database string

	// User is the ClickHouse user (PN_CLICKHOUSE_USER, default "default").
	User string

	// Password is the user's password (PN_CLICKHOUSE_PASSWORD, default
	// empty). It is a secret: String and GoString redact it, and no error of
	// this package carries it.
	Password string

	// DialTimeout bounds establishing a connection
	// (PN_CLICKHOUSE_DIAL_TIMEOUT, default 5s).
	DialTimeout time.Duration

	// ReadTimeout bounds waiting for the server's answer to one request
	// (PN_CLICKHOUSE_READ_TIMEOUT, default 30s). A large batch INSERT must
	// finish within it.
	ReadTimeout time.Duration

	// Cluster names a cluster of the servers' remote_servers
	// (PN_CLICKHOUSE_CLUSTER, default empty: one server). When set, Migrate
	// applies the cluster variant of the migrations (see
	// schemas.Migration.ClusterStatements): tables replicated through
	// ZooKeeper, sharded behind Distributed tables of the same names, DDL
	// ON CLUSTER; and inserts wait until every shard has its rows
	// (insert_distributed_sync). It must be a plain identifier.
	Cluster string

	// TLS speaks the native protocol over TLS (PN_CLICKHOUSE_TLS, default
	// false); Addr then names the server's tcp_port_secure (9440 by
	// convention). The server's certificate is always verified.
	TLS bool

	// CAFile is a PEM file of the CAs that sign the server's certificate
	// (PN_CLICKHOUSE_CA_FILE, default empty: the system roots). Only with
	// TLS.
	CAFile string

	// TLSServerName is the name the server's certificate must carry
	// (PN_CLICKHOUSE_TLS_SERVER_NAME, default empty: the host of the
	// address dialled), for servers reached by an address their
	// certificate does not name. Only with TLS.
	TLSServerName string
}

// Defaults of Config.
const (
	DefaultAddr        = "127.0.0.1:9000"
	DefaultDatabase    = "pn"
	DefaultUser        = "default"
	DefaultDialTimeout = 5 * time.Second
	DefaultReadTimeout = 30 * time.Second
)

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		Addr:        DefaultAddr,
		Database:    DefaultDatabase,
		User:        DefaultUser,
		DialTimeout: DefaultDialTimeout,
		ReadTimeout: DefaultReadTimeout,
	}
}

// RegisterFlags binds c's fields to flags of fs, with c's current values as
// defaults, so call it on DefaultConfig(). The flags are clickhouse-addr,
// clickhouse-database, clickhouse-user, clickhouse-password,
// clickhouse-dial-timeout, clickhouse-read-timeout, clickhouse-cluster,
// clickhouse-tls, clickhouse-ca-file and clickhouse-tls-server-name;
// with ff's env-var prefix "PN" they map to PN_CLICKHOUSE_ADDR and so on. The password flag
// shows no default in --help, whatever c holds.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "clickhouse-addr", c.Addr, "ClickHouse native endpoint host:port, or a comma-separated list")
	fs.StringVar(&c.Database, "clickhouse-database", c.Database, "ClickHouse database of pnstream's tables")
	fs.StringVar(&c.User, "clickhouse-user", c.User, "ClickHouse user")
	fs.Var((*redact.Secret)(&c.Password), "clickhouse-password", "ClickHouse password (secret)")
	fs.DurationVar(&c.DialTimeout, "clickhouse-dial-timeout", c.DialTimeout, "ClickHouse connect timeout")
	fs.DurationVar(&c.ReadTimeout, "clickhouse-read-timeout", c.ReadTimeout, "ClickHouse timeout for one request's answer")
	fs.StringVar(&c.Cluster, "clickhouse-cluster", c.Cluster, "ClickHouse cluster (remote_servers) for replicated, sharded tables; empty: one server")
	fs.BoolVar(&c.TLS, "clickhouse-tls", c.TLS, "native protocol over TLS (the server's tcp_port_secure); the certificate is always verified")
	fs.StringVar(&c.CAFile, "clickhouse-ca-file", c.CAFile, "PEM file of the CAs of ClickHouse's certificate (default: the system roots); needs clickhouse-tls")
	fs.StringVar(&c.TLSServerName, "clickhouse-tls-server-name", c.TLSServerName, "name ClickHouse's certificate must carry (default: the host dialled); needs clickhouse-tls")
}

// identifier is what Database and Cluster may be: they are spliced into
// DDL unquoted.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Validate reports every problem of c at once, joined with errors.Join, or
// nil. It neither fills defaults nor touches the network.
func (c Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Addr) == "" {
		errs = append(errs, errors.New("clickhouse addr: required"))
	}
	for _, a := range c.addrs() {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("clickhouse addr %q: want host:port: %w", a, err))
			continue
		}
		if host == "" {
			errs = append(errs, fmt.Errorf("clickhouse addr %q: host required", a))
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("clickhouse addr %q: port must be 1..65535", a))
		}
	}
	if !identifier.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("clickhouse database %q: want a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 bytes)", c.Database))
	}
	if c.Cluster != "" && !identifier.MatchString(c.Cluster) {
		errs = append(errs, fmt.Errorf("clickhouse cluster %q: want a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 bytes)", c.Cluster))
	}
	if c.User == "" {
		errs = append(errs, errors.New("clickhouse user: required"))
	}
	if c.DialTimeout <= 0 {
		errs = append(errs, fmt.Errorf("clickhouse dial timeout %v: must be positive", c.DialTimeout))
	}
	if c.ReadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("clickhouse read timeout %v: must be positive", c.ReadTimeout))
	}
	if !c.TLS && (c.CAFile != "" || c.TLSServerName != "") {
		// A CA file without TLS would look like a verified connection
		// while the bytes go in the clear.
		errs = append(errs, errors.New("clickhouse ca file and tls server name need clickhouse tls (PN_CLICKHOUSE_TLS=true)"))
	}
	if _, err := c.TLSConfig(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// TLSConfig returns the client TLS configuration of c, or nil when TLS is
// off. It reads CAFile (but touches no network), so Validate reports a
// missing or malformed file at start-up rather than at every dial.
func (c Config) TLSConfig() (*tls.Config, error) {
	if !c.TLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName}
	if c.CAFile == "" {
		return cfg, nil // the system roots
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("clickhouse ca file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("clickhouse ca file %s: no PEM certificate in it", c.CAFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// addrs splits Addr into its endpoints, dropping empty elements.
func (c Config) addrs() []string {
	var out []string
	for a := range strings.SplitSeq(c.Addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// String renders c for logs with the password redacted.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = "REDACTED"
	}
	return fmt.Sprintf("{Addr:%s Database:%s User:%s Password:%s DialTimeout:%v ReadTimeout:%v Cluster:%s TLS:%t CAFile:%s TLSServerName:%s}",
		c.Addr, c.Database, c.User, pw, c.DialTimeout, c.ReadTimeout, c.Cluster, c.TLS, c.CAFile, c.TLSServerName)
}

// GoString makes %#v redact the password too.
func (c Config) GoString() string { return "warehouse.Config" + c.String() }
