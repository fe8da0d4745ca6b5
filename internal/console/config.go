package console

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/pnstream/pnstream/internal/redact"
)

// Roles of the console. An officer can do everything a viewer can; an
// auditor reads the access log only. A user in the groups of several
// roles has all of them.
const (
	RoleViewer  = "viewer"
	RoleOfficer = "officer"
	RoleAuditor = "auditor"
)

// Config is the console's settings. Only cmd/console fills it from the
// environment.
type Config struct {
	// Addr is the listen address (PN_CONSOLE_ADDR, default :8090).
	Addr string
	// TrustedProxies are the CIDRs of the auth proxy (oauth2-proxy): only
	// requests from these addresses may name their user and groups in
	// X-Forwarded-User, X-Forwarded-Email and X-Forwarded-Groups
	// (PN_CONSOLE_TRUSTED_PROXIES, comma separated, default none).
	TrustedProxies string
	// ViewerGroups, OfficerGroups and AuditorGroups are the proxy's groups
	// that give each role (PN_CONSOLE_VIEWER_GROUPS,
	// PN_CONSOLE_OFFICER_GROUPS, PN_CONSOLE_AUDITOR_GROUPS, comma
	// separated, default none).
	ViewerGroups, OfficerGroups, AuditorGroups string
	// Token is a static login token for local runs, without a proxy
	// (PN_CONSOLE_TOKEN, default empty: no token login). A secret: never
	// logged. TokenRole is the role it logs in with (PN_CONSOLE_TOKEN_ROLE,
	// default viewer) and TokenUser the user name the access log shows
	// (PN_CONSOLE_TOKEN_USER, default "local").
	Token, TokenRole, TokenUser string
	// SessionKey signs session and CSRF cookies, at least 32 bytes
	// (PN_CONSOLE_SESSION_KEY, default empty: a random key per process, so
	// sessions end at a restart and replicas need the same key). A secret.
	SessionKey string
	// SessionTTL is how long a token login lasts (PN_CONSOLE_SESSION_TTL,
	// default 8h).
	SessionTTL time.Duration
	// SecureCookies marks cookies Secure, for HTTPS behind the proxy
	// (PN_CONSOLE_SECURE_COOKIES, default true; false for plain-HTTP local
	// runs).
	SecureCookies bool
	// PageSize is the number of calls or log entries per page
	// (PN_CONSOLE_PAGE_SIZE, default 50).
	PageSize int
	// ShutdownTimeout bounds the requests in flight at shutdown
	// (PN_CONSOLE_SHUTDOWN_TIMEOUT, default 10s).
	ShutdownTimeout time.Duration
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Addr:            ":8090",
		TokenRole:       RoleViewer,
		TokenUser:       "local",
		SessionTTL:      8 * time.Hour,
		SecureCookies:   true,
		PageSize:        50,
		ShutdownTimeout: 10 * time.Second,
	}
}

// RegisterFlags binds c's fields to flags on fs, with c's values as
// defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "console-addr", c.Addr, "console listen address")
	fs.StringVar(&c.TrustedProxies, "console-trusted-proxies", c.TrustedProxies, "CIDRs of the auth proxy whose X-Forwarded-User/-Email/-Groups headers are trusted, comma separated")
	fs.StringVar(&c.ViewerGroups, "console-viewer-groups", c.ViewerGroups, "proxy groups given the viewer role (search, view, play), comma separated")
	fs.StringVar(&c.OfficerGroups, "console-officer-groups", c.OfficerGroups, "proxy groups given the officer role (viewer, plus export, hold, erase), comma separated")
	fs.StringVar(&c.AuditorGroups, "console-auditor-groups", c.AuditorGroups, "proxy groups given the auditor role (access log), comma separated")
	fs.Var((*redact.Secret)(&c.Token), "console-token", "static login token for local runs without a proxy (secret; empty: no token login)")
	fs.StringVar(&c.TokenRole, "console-token-role", c.TokenRole, "role of the token login: viewer, officer or auditor")
	fs.StringVar(&c.TokenUser, "console-token-user", c.TokenUser, "user name of the token login in the access log")
	fs.Var((*redact.Secret)(&c.SessionKey), "console-session-key", "key signing session and CSRF cookies, at least 32 bytes (secret; empty: random per process)")
	fs.DurationVar(&c.SessionTTL, "console-session-ttl", c.SessionTTL, "how long a token login lasts")
	fs.BoolVar(&c.SecureCookies, "console-secure-cookies", c.SecureCookies, "mark cookies Secure (HTTPS); false for plain-HTTP local runs")
	fs.IntVar(&c.PageSize, "console-page-size", c.PageSize, "calls or access-log entries per page")
	fs.DurationVar(&c.ShutdownTimeout, "console-shutdown-timeout", c.ShutdownTimeout, "time the requests in flight get at shutdown")
}

// Validate reports every problem of c, without secret values.
func (c Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("console addr is empty"))
	}
	if _, err := c.proxies(); err != nil {
		errs = append(errs, err)
	}
	if c.Token != "" {
		if len(c.Token) < 16 {
			errs = append(errs, errors.New("console token is shorter than 16 characters"))
		}
		if !validRole(c.TokenRole) {
			errs = append(errs, fmt.Errorf("console token role %q: want viewer, officer or auditor", c.TokenRole))
		}
		if strings.TrimSpace(c.TokenUser) == "" {
			errs = append(errs, errors.New("console token user is empty"))
		}
	}
	if c.Token == "" && c.TrustedProxies == "" {
		errs = append(errs, errors.New("console has no way to log in: set PN_CONSOLE_TRUSTED_PROXIES (auth proxy) or PN_CONSOLE_TOKEN (local runs)"))
	}
	if c.SessionKey != "" && len(c.SessionKey) < 32 {
		errs = append(errs, errors.New("console session key is shorter than 32 bytes"))
	}
	if c.SessionTTL <= 0 {
		errs = append(errs, errors.New("console session ttl must be positive"))
	}
	if c.PageSize < 1 || c.PageSize > 1000 {
		errs = append(errs, fmt.Errorf("console page size %d: want 1..1000", c.PageSize))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("console shutdown timeout must be positive"))
	}
	return errors.Join(errs...)
}

// Redacted returns c with its secrets replaced, for the start-up log.
func (c Config) Redacted() Config {
	if c.Token != "" {
		c.Token = "REDACTED"
	}
	if c.SessionKey != "" {
		c.SessionKey = "REDACTED"
	}
	return c
}

func validRole(r string) bool { return r == RoleViewer || r == RoleOfficer || r == RoleAuditor }

// proxies parses TrustedProxies.
func (c Config) proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range splitList(c.TrustedProxies) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("console trusted proxy %q: not a CIDR or address", s)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// splitList splits a comma-separated setting, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
