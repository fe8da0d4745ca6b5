package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/audit"
	"github.com/pnstream/pnstream/internal/console"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/warehouse/warehousetest"
)

// empty is a world without calls: the warehouse, a bucket, the log.
func empty(t *testing.T) *world {
	wh, db := warehousetest.Open(t, chServer)
	return &world{wh: wh, db: db, s3: s3Server.Client(t), bucket: s3Server.NewBucket(t), log: audit.New(wh)}
}

// serve starts a console over w with cfg changed by mutate.
func (w *world) serve(t *testing.T, policy pii.Policy, mutate func(*console.Config)) *client {
	t.Helper()
	cfg := console.DefaultConfig()
	cfg.Token, cfg.TokenRole, cfg.TokenUser, cfg.SecureCookies = token, console.RoleViewer, "viewer-user", false
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := console.New(cfg, console.Deps{Warehouse: w.wh, Audit: w.log, S3: w.s3, Bucket: w.bucket, PII: policy,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel+1))})
	if err != nil {
		t.Fatal(err)
	}
	hs := newTestServer(t, srv.Handler())
	return newClient(t, hs)
}

func TestSecurityHeaders(t *testing.T) {
	c := empty(t).serve(t, pii.Policy{}, nil)
	_, _, h := c.get("/login")
	for name, want := range map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	found := false
	for _, v := range h.Values("Set-Cookie") {
		if strings.HasPrefix(v, "pn_console_csrf=") {
			found = true
			if !strings.Contains(v, "SameSite=Strict") || !strings.Contains(v, "HttpOnly") {
				t.Errorf("CSRF cookie %q: want SameSite=Strict and HttpOnly", v)
			}
		}
	}
	if !found {
		t.Error("no CSRF cookie")
	}
	// No inline script anywhere: every page's scripts come from /static.
	_, body, _ := c.get("/login")
	if strings.Contains(body, "<script") || strings.Contains(body, "onclick") || strings.Contains(body, "style=") {
		t.Errorf("inline script on the login page:\n%s", body)
	}
}

// A state change needs the form's CSRF token and a same-origin request;
// a refusal is 403 and in the access log.
func TestCSRFAndCrossOrigin(t *testing.T) {
	w := empty(t)
	c := w.serve(t, pii.Policy{}, func(cfg *console.Config) { cfg.TokenRole = console.RoleOfficer })
	c.login()
	if status, _, _ := c.post("/calls/icid-1/hold", url.Values{"reason": {"case"}}); status != http.StatusForbidden {
		t.Errorf("hold without a CSRF token: %d, want 403", status)
	}
	if status, _, _ := c.post("/calls/icid-1/hold", url.Values{"reason": {"case"}, "csrf": {"forged"}}); status != http.StatusForbidden {
		t.Errorf("hold with a forged CSRF token: %d, want 403", status)
	}
	// A valid token from another origin: refused before anything else.
	form := url.Values{"reason": {"case"}, "csrf": {c.csrf("/search")}}
	req, _ := http.NewRequest(http.MethodPost, c.base+"/calls/icid-1/hold", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if status, _, _ := c.do(req); status != http.StatusForbidden {
		t.Errorf("cross-origin hold: %d, want 403", status)
	}
	refused, err := w.log.List(t.Context(), audit.Filter{Action: audit.ActionRefused})
	if err != nil {
		t.Fatal(err)
	}
	if len(refused) != 2 || !strings.Contains(refused[0].Detail, "CSRF") {
		t.Errorf("refusals in the access log: %+v", refused)
	}
}

// A body above the form limit is refused with 413 before any handler
// reads it, signed in or not.
func TestOversizedFormRefused(t *testing.T) {
	w := empty(t)
	c := w.serve(t, pii.Policy{}, nil)
	big := url.Values{"token": {strings.Repeat("x", 1<<20)}}
	if status, _, _ := c.post("/login", big); status != http.StatusRequestEntityTooLarge {
		t.Errorf("a 1 MiB login form: %d, want 413", status)
	}
	c.login() // the console still serves
}

// The proxy's headers name the user only when the request comes from a
// trusted proxy address; groups map to roles.
func TestProxyHeadersTrustedOnlyFromTheProxy(t *testing.T) {
	w := empty(t)
	proxied := func(cidr string) *client {
		return w.serve(t, pii.Policy{}, func(cfg *console.Config) {
			cfg.Token, cfg.TrustedProxies = "", cidr
			cfg.ViewerGroups, cfg.AuditorGroups = "support", "compliance-audit"
		})
	}
	headers := []string{"X-Forwarded-User", "mallory", "X-Forwarded-Groups", "support,other", "X-Forwarded-For", "203.0.113.9"}
	// From elsewhere: the headers are ignored.
	if status, _, _ := proxied("10.0.0.0/8").get("/search", headers...); status != http.StatusUnauthorized {
		t.Errorf("headers from an untrusted address: %d, want 401", status)
	}
	c := proxied("127.0.0.1/32")
	status, body, _ := c.get("/search", headers...)
	if status != http.StatusOK || !strings.Contains(body, "mallory (viewer)") {
		t.Fatalf("headers from the proxy: %d\n%s", status, body)
	}
	// A viewer is not an auditor: 403, recorded with where it came from.
	if status, _, _ := c.get("/audit", headers...); status != http.StatusForbidden {
		t.Errorf("viewer reads the access log: %d, want 403", status)
	}
	if status, _, _ := c.get("/search", "X-Forwarded-User", "nobody", "X-Forwarded-Groups", "other"); status != http.StatusUnauthorized {
		t.Errorf("user without a role's group: %d, want 401", status)
	}
	refused, err := w.log.List(t.Context(), audit.Filter{Who: "mallory", Action: audit.ActionRefused})
	if err != nil || len(refused) != 1 || refused[0].From != "203.0.113.9 via 127.0.0.1" || refused[0].Role != "viewer" {
		t.Errorf("refusal: %+v %v", refused, err)
	}
}

// When the access log cannot be written, nothing is served.
func TestNothingServedWithoutTheAccessLog(t *testing.T) {
	w := empty(t)
	c := w.serve(t, pii.Policy{}, nil)
	c.login()
	if err := w.wh.Conn().Exec(t.Context(), "RENAME TABLE "+w.db+".access_log TO "+w.db+".access_log_away"); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/search?all=1", "/calls/icid-1", "/calls/icid-1/audio", "/calls/icid-1/download"} {
		status, body, _ := c.get(path)
		if status != http.StatusServiceUnavailable || !strings.Contains(body, "access log") {
			t.Errorf("%s without the access log: %d %q, want 503", path, status, body)
		}
	}
}

// Under masked numbers the page says that number search is unavailable,
// and a number typed anyway is refused rather than searched masked.
// Under hmac the typed number is searched in its hashed form.
func TestNumberSearchUnderPIIModes(t *testing.T) {
	w := empty(t)
	masked, err := pii.New(pii.ModeMasked, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := w.serve(t, masked, nil)
	c.login()
	if _, body, _ := c.get("/search"); !strings.Contains(body, "search by number is unavailable") {
		t.Errorf("masked: the page does not say number search is unavailable:\n%s", body)
	}
	if status, _, _ := c.get("/search?number=%2B8613800000001"); status != http.StatusBadRequest {
		t.Errorf("masked number search: %d, want 400", status)
	}
	key := strings.Repeat("k", 32)
	hashed, err := pii.New(pii.ModeHMAC, []byte(key))
	if err != nil {
		t.Fatal(err)
	}
	c = w.serve(t, hashed, nil)
	c.login()
	if status, _, _ := c.get("/search?number=%2B8613800000001"); status != http.StatusOK {
		t.Errorf("hmac number search: %d", status)
	}
	got, err := w.log.List(t.Context(), audit.Filter{Action: audit.ActionSearch})
	if err != nil || len(got) != 1 || got[0].Target != "number="+hashed.Number("+8613800000001") {
		t.Errorf("the search's log entry: %+v %v; want the hashed number, never the typed one", got, err)
	}
}
