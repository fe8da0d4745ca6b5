package platformsim

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Config of a Simulator, the settings of cmd/pnsim. Durations called
// nominal are the platform's own and are multiplied by TimeScale.
type Config struct {
	// Addr is where cmd/pnsim listens. PN_SIM_ADDR, default "127.0.0.1:18090".
	Addr string
	// PublicURL is the simulator's base URL as clients reach it; download
	// URLs start with it. PN_SIM_PUBLIC_URL, default "http://" + Addr
	// (127.0.0.1 when Addr has no host).
	PublicURL string

	// AppKey and AppSecret sign the pushes and verify API calls.
	// PN_APP_KEY, PN_APP_SECRET; required. The secret is never logged.
	AppKey, AppSecret string
	// SpID is the spId of the CDRs. PN_SIM_SP_ID, default "pnsim_sp".
	SpID string
	// AuthWindow is how far an API call's Created may be from now.
	// PN_SIM_AUTH_WINDOW, default 5m.
	AuthWindow time.Duration

	// VirtualNumbers are the app's X numbers, E.164, comma-separated in the
	// variable. PN_SIM_VIRTUAL_NUMBERS, default three +86170000000xx.
	VirtualNumbers []string
	// AreaCodes is the city (area code) of each X number, as areaCode binds
	// see it: "X=areaCode" pairs, comma-separated in the variable. An X
	// without an entry has a city only if it is a landline (+86, the area
	// code without its 0, the number); entries for numbers not among
	// VirtualNumbers are unused. PN_SIM_AREA_CODES, default the three
	// default X numbers in 0755 (Shenzhen), 010 (Beijing), 021 (Shanghai).
	AreaCodes map[string]string
	// ExtensionDigits is the length of E (the console setting, 1–4).
	// PN_SIM_EXTENSION_DIGITS, default 4.
	ExtensionDigits int
	// BindingsFile keeps the bindings across restarts; empty keeps them in
	// memory only. PN_SIM_BINDINGS_FILE, default "".
	BindingsFile string
	// Bindings is how many bindings are created at start, spread over the
	// virtual numbers. PN_SIM_BINDINGS, default 10.
	Bindings int
	// RecordShare is the share of those with recordFlag true.
	// PN_SIM_RECORD_SHARE, default 0.5.
	RecordShare float64

	// EventsURL and FeesURL are the app's callback URLs for call events
	// and fee pushes. PN_SIM_EVENTS_URL, PN_SIM_FEES_URL; required when
	// CallRate > 0.
	EventsURL, FeesURL string
	// NumStatusURL receives the X-number status pushes; empty sends them to
	// EventsURL, as the platform does without a separate X-number-status
	// URL. PN_SIM_NUMSTATUS_URL, default "".
	NumStatusURL string
	// CallRate is the average number of calls per second (a Poisson
	// stream); 0 places none (API only). PN_SIM_CALL_RATE, default 2.
	CallRate float64
	// MaxCalls stops placing calls after that many; 0 is no limit.
	// PN_SIM_MAX_CALLS, default 0.
	MaxCalls int
	// Seed makes the calls reproducible. PN_SIM_SEED, default 1.
	Seed uint64
	// RecordDomain is the recordDomain of recorded CDRs.
	// PN_SIM_RECORD_DOMAIN, default "ostor.pnsim.local".
	RecordDomain string
	// EmptyDomainShare is the share of recorded CDRs with an empty
	// recordDomain and a recordFileDownloadUrl. PN_SIM_EMPTY_DOMAIN_SHARE,
	// default 0.2.
	EmptyDomainShare float64

	// TimeScale multiplies the nominal durations: the re-push schedule
	// (1, 4, 9, 106, 203, 300 min), URLTTL and Retention. 0.001 makes the
	// schedule 60 ms … 18 s. PN_SIM_TIME_SCALE, default 1.
	TimeScale float64
	// URLTTL is the nominal lifetime of a download URL from the record-URL
	// API. The platform's is UNCONFIRMED (3 days, 7 days and 30 min are
	// all documented somewhere); the shortest is the default, so clients
	// must re-resolve. PN_SIM_URL_TTL, default 30m.
	URLTTL time.Duration
	// Retention is the nominal time a recording is kept after its CDR is
	// pushed. PN_SIM_RETENTION, default 168h (7 days).
	Retention time.Duration

	// PushWSSE signs pushes with the legacy X-WSSE scheme instead of
	// X-AKSK. PN_SIM_PUSH_WSSE, default false.
	PushWSSE bool
	// RepushHeaders is "fresh" (every re-push signed afresh: new nonce and
	// Created) or "original" (a re-push re-sends the first attempt's
	// headers and body). Which one the platform does is undocumented
	// (reference §11.3). PN_SIM_REPUSH_HEADERS, default "fresh".
	RepushHeaders string
	// PushTimeout bounds one push attempt, answer included; the platform's
	// is UNCONFIRMED. PN_SIM_PUSH_TIMEOUT, default 10s (not scaled).
	PushTimeout time.Duration
	// PushWorkers is the number of pushes in flight at most.
	// PN_SIM_PUSH_WORKERS, default 8.
	PushWorkers int
	// PushMaxPending bounds pushes not yet delivered; calls wait while it
	// is reached. PN_SIM_PUSH_MAX_PENDING, default 100000.
	PushMaxPending int
	// FeeBatchWait is how long a fee push waits for more CDRs (up to 50).
	// PN_SIM_FEE_BATCH_WAIT, default 1s (not scaled).
	FeeBatchWait time.Duration

	// Faults is a JSON FaultSpec in effect from the start, such as
	// {"push":{"status":503,"for":"1m"}} or
	// {"numbers":[{"number":"+8617000000001","cause":"2","for":"10m"}]}.
	// PN_SIM_FAULTS, default "".
	Faults string
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Addr:             "127.0.0.1:18090",
		SpID:             "pnsim_sp",
		AuthWindow:       DefaultAuthWindow,
		VirtualNumbers:   []string{"+8617000000001", "+8617000000002", "+8617000000003"},
		AreaCodes:        map[string]string{"+8617000000001": "0755", "+8617000000002": "010", "+8617000000003": "021"},
		ExtensionDigits:  4,
		Bindings:         10,
		RecordShare:      0.5,
		CallRate:         2,
		Seed:             1,
		RecordDomain:     "ostor.pnsim.local",
		EmptyDomainShare: 0.2,
		TimeScale:        1,
		URLTTL:           30 * time.Minute,
		Retention:        7 * 24 * time.Hour,
		PushTimeout:      10 * time.Second,
		PushWorkers:      8,
		PushMaxPending:   100_000,
		FeeBatchWait:     time.Second,
		RepushHeaders:    RepushFresh,
	}
}

// RegisterFlags binds the fields to flags on fs, with the current values
// as defaults; daemon.Parse reads each from its PN_* variable too.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "sim-addr", c.Addr, "listen address")
	fs.StringVar(&c.PublicURL, "sim-public-url", c.PublicURL, `base URL clients reach the simulator at (default "http://" + the listen address)`)
	fs.StringVar(&c.AppKey, "app-key", c.AppKey, "platform app key")
	fs.StringVar(&c.AppSecret, "app-secret", c.AppSecret, "platform app secret (never logged)")
	fs.StringVar(&c.SpID, "sim-sp-id", c.SpID, "spId of the CDRs")
	fs.DurationVar(&c.AuthWindow, "sim-auth-window", c.AuthWindow, "accepted distance between an API call's Created and now")
	fs.Func("sim-virtual-numbers", "the app's X numbers, E.164, comma-separated (default "+strings.Join(c.VirtualNumbers, ",")+")", func(v string) error {
		c.VirtualNumbers = strings.Split(v, ",")
		return nil
	})
	fs.Func("sim-area-codes", "area code (city) of each X number, X=areaCode comma-separated (default "+formatAreaCodes(c.AreaCodes)+")", func(v string) error {
		m, err := parseAreaCodes(v)
		if err != nil {
			return err
		}
		c.AreaCodes = m
		return nil
	})
	fs.IntVar(&c.ExtensionDigits, "sim-extension-digits", c.ExtensionDigits, "digits of the extension E, 1-4")
	fs.StringVar(&c.BindingsFile, "sim-bindings-file", c.BindingsFile, "file keeping the bindings across restarts (empty: memory only)")
	fs.IntVar(&c.Bindings, "sim-bindings", c.Bindings, "bindings created at start")
	fs.Float64Var(&c.RecordShare, "sim-record-share", c.RecordShare, "share of the start bindings with recordFlag true")
	fs.StringVar(&c.EventsURL, "sim-events-url", c.EventsURL, "callback URL of call event pushes")
	fs.StringVar(&c.FeesURL, "sim-fees-url", c.FeesURL, "callback URL of fee pushes")
	fs.StringVar(&c.NumStatusURL, "sim-numstatus-url", c.NumStatusURL, "callback URL of X-number status pushes (empty: the events URL)")
	fs.Float64Var(&c.CallRate, "sim-call-rate", c.CallRate, "average calls per second (0: API only)")
	fs.IntVar(&c.MaxCalls, "sim-max-calls", c.MaxCalls, "stop placing calls after this many (0: no limit)")
	fs.Uint64Var(&c.Seed, "sim-seed", c.Seed, "seed of the call generator")
	fs.StringVar(&c.RecordDomain, "sim-record-domain", c.RecordDomain, "recordDomain of recorded CDRs")
	fs.Float64Var(&c.EmptyDomainShare, "sim-empty-domain-share", c.EmptyDomainShare, "share of recorded CDRs with an empty recordDomain and a recordFileDownloadUrl")
	fs.Float64Var(&c.TimeScale, "sim-time-scale", c.TimeScale, "multiplies the re-push schedule, URL lifetime and retention")
	fs.DurationVar(&c.URLTTL, "sim-url-ttl", c.URLTTL, "nominal lifetime of a recording download URL")
	fs.DurationVar(&c.Retention, "sim-retention", c.Retention, "nominal retention of recordings after the CDR push")
	fs.BoolVar(&c.PushWSSE, "sim-push-wsse", c.PushWSSE, "sign pushes with the legacy X-WSSE scheme")
	fs.StringVar(&c.RepushHeaders, "sim-repush-headers", c.RepushHeaders, "headers of a re-push: fresh (signed again) or original (the first attempt's)")
	fs.DurationVar(&c.PushTimeout, "sim-push-timeout", c.PushTimeout, "time limit of one push attempt")
	fs.IntVar(&c.PushWorkers, "sim-push-workers", c.PushWorkers, "pushes in flight at most")
	fs.IntVar(&c.PushMaxPending, "sim-push-max-pending", c.PushMaxPending, "pushes not yet delivered at most")
	fs.DurationVar(&c.FeeBatchWait, "sim-fee-batch-wait", c.FeeBatchWait, "time a fee push waits for more CDRs")
	fs.StringVar(&c.Faults, "sim-faults", c.Faults, `faults in effect from the start, a JSON FaultSpec such as {"push":{"status":503,"for":"1m"}}`)
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// Validate reports every problem of c. It changes nothing.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Addr == "" {
		add("sim addr is empty")
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("sim public URL %q: want http(s)://host[:port]", c.PublicURL)
		}
	}
	if c.AppKey == "" || c.AppSecret == "" {
		add("app key and app secret are required (PN_APP_KEY, PN_APP_SECRET)")
	}
	if len(c.VirtualNumbers) == 0 {
		add("no virtual numbers")
	}
	for _, x := range c.VirtualNumbers {
		if !e164.MatchString(x) {
			add("virtual number %q: want E.164 such as +8617000000001", x)
		}
	}
	for x, area := range c.AreaCodes {
		if !e164.MatchString(x) || !areaCodePattern.MatchString(area) {
			add("area code %q of %q: want an E.164 X and an area code such as 0755", area, x)
		}
	}
	if c.ExtensionDigits < 1 || c.ExtensionDigits > 4 {
		add("extension digits %d: want 1..4", c.ExtensionDigits)
	} else if capacity := len(c.VirtualNumbers) * (pow10(c.ExtensionDigits) - 1); c.Bindings > capacity {
		add("%d bindings do not fit on %d virtual numbers with %d-digit extensions", c.Bindings, len(c.VirtualNumbers), c.ExtensionDigits)
	}
	if c.Bindings < 0 || c.MaxCalls < 0 {
		add("bindings %d and max calls %d: want >= 0", c.Bindings, c.MaxCalls)
	}
	for name, v := range map[string]float64{"record share": c.RecordShare, "empty domain share": c.EmptyDomainShare} {
		if v < 0 || v > 1 {
			add("%s %g: want 0..1", name, v)
		}
	}
	if c.CallRate < 0 {
		add("call rate %g: want >= 0", c.CallRate)
	}
	if c.CallRate > 0 {
		for name, v := range map[string]string{"events URL": c.EventsURL, "fees URL": c.FeesURL} {
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add("%s %q: want an http(s) URL when calls are placed", name, v)
			}
		}
		if v := c.NumStatusURL; v != "" {
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add("numstatus URL %q: want an http(s) URL", v)
			}
		}
	}
	if c.TimeScale <= 0 {
		add("time scale %g: want > 0", c.TimeScale)
	}
	for name, d := range map[string]time.Duration{
		"auth window": c.AuthWindow, "URL TTL": c.URLTTL, "retention": c.Retention,
		"push timeout": c.PushTimeout, "fee batch wait": c.FeeBatchWait,
	} {
		if d <= 0 {
			add("%s %s: want > 0", name, d)
		}
	}
	if c.PushWorkers < 1 || c.PushMaxPending < 1 {
		add("push workers %d and max pending %d: want >= 1", c.PushWorkers, c.PushMaxPending)
	}
	if err := checkRepushHeaders(c.RepushHeaders); err != nil {
		errs = append(errs, err)
	}
	if spec, err := c.faultSpec(); err != nil {
		errs = append(errs, err)
	} else if spec != nil {
		if err := spec.Validate(); err != nil {
			add("faults: %w", err)
		}
	}
	return errors.Join(errs...)
}

// Redacted returns a copy of c safe to log.
func (c Config) Redacted() Config {
	if c.AppSecret != "" {
		c.AppSecret = "[redacted]"
	}
	return c
}

// publicURL is PublicURL, or derived from Addr.
func (c Config) publicURL() string {
	if c.PublicURL != "" {
		return c.PublicURL
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return "http://" + c.Addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// scaled multiplies a nominal duration by TimeScale.
func (c Config) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * c.TimeScale)
}

// parseAreaCodes reads "X=areaCode,…"; "" is none.
func parseAreaCodes(v string) (map[string]string, error) {
	m := map[string]string{}
	if v == "" {
		return m, nil
	}
	for pair := range strings.SplitSeq(v, ",") {
		x, area, ok := strings.Cut(pair, "=")
		if !ok {
			return nil, fmt.Errorf("area codes: %q: want X=areaCode", pair)
		}
		m[x] = area
	}
	return m, nil
}

func formatAreaCodes(m map[string]string) string {
	pairs := make([]string, 0, len(m))
	for x, area := range m {
		pairs = append(pairs, x+"="+area)
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ",")
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}
