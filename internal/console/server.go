// Package console is the compliance console: a web application in which
// compliance staff find a call, read its timeline, play and download its
// recording with its checksum verified, put it under legal hold, export
// a case file and erase a subscriber's data, and in which auditors read who
// did each of those. It exists so that answering "find Tuesday's call,
// listen to it, keep it, send it to legal" needs no SQL or S3 command.
//
// Pages are rendered on the server with html/template; the static assets
// are embedded; there is no inline script and a strict
// Content-Security-Policy. Every state change carries a CSRF token bound to
// a SameSite=Strict cookie and the user, and cross-origin requests are
// refused. Users come from the auth proxy's headers (only from its
// addresses) or from a static token for local runs. Every access to call
// data is written to the access log (package audit) before the data is
// served; when it cannot be written, nothing is served (503).
package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"
	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/audit"
	"github.com/pnstream/pnstream/internal/daemon"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/warehouse"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// contentSecurityPolicy allows the console's own scripts, styles, images
// and media only, no plugin, no framing, no base or foreign form target.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; " +
	"object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// AuditLog is where accesses are recorded; *audit.Log implements it.
type AuditLog interface {
	Record(ctx context.Context, e audit.Entry) error
	List(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
}

var _ AuditLog = (*audit.Log)(nil)

// Deps are the console's connections, owned by the caller.
type Deps struct {
	Warehouse *warehouse.Warehouse
	Audit     AuditLog
	S3        *minio.Client
	// Bucket is the archive bucket; rows naming another are not served.
	Bucket string
	// PII is the policy the recorder stores numbers under, for number
	// searches.
	PII pii.Policy
	// Holds, Exporter and Eraser are the officer's operations; a nil one
	// is shown as unavailable.
	Holds    Holds
	Exporter Exporter
	Eraser   Eraser
	Logger   *zap.Logger
}

// Server is the console's HTTP server.
type Server struct {
	cfg     Config
	deps    Deps
	auth    *auth
	calls   *calls
	archive *archive
	pages   map[string]*template.Template
	log     *zap.Logger
}

// New returns the console of cfg over deps. It does no I/O.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("console config: %w", err)
	}
	a, err := newAuth(cfg)
	if err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	log := deps.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Server{
		cfg: cfg, deps: deps, auth: a, pages: pages, log: log,
		calls:   &calls{conn: deps.Warehouse.Conn(), db: deps.Warehouse.Database()},
		archive: &archive{client: deps.S3, bucket: deps.Bucket},
	}, nil
}

// Run serves on ln until ctx is done, then shuts down within
// Config.ShutdownTimeout.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		// No WriteTimeout: exports and downloads stream for as long as
		// they take; the client going away ends them.
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    zap.NewStdLog(s.log),
	}
	return daemon.Serve(ctx, srv, ln, s.cfg.ShutdownTimeout)
}

// Handler returns the console's routes with its security layers.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", s.login)
	mux.Handle("POST /logout", s.require("", "logout", s.logout))
	mux.Handle("GET /{$}", s.require("", "home", func(w http.ResponseWriter, r *http.Request, p Principal) {
		http.Redirect(w, r, home(p), http.StatusSeeOther)
	}))
	mux.Handle("GET /search", s.require(RoleViewer, audit.ActionSearch, s.search))
	mux.Handle("GET /calls/{icid}", s.require(RoleViewer, audit.ActionView, s.call))
	mux.Handle("GET /calls/{icid}/audio", s.require(RoleViewer, audit.ActionPlay, s.audio))
	mux.Handle("GET /calls/{icid}/download", s.require(RoleViewer, audit.ActionDownload, s.download))
	mux.Handle("POST /calls/{icid}/hold", s.require(RoleOfficer, audit.ActionHold, s.hold))
	mux.Handle("POST /calls/{icid}/release", s.require(RoleOfficer, audit.ActionRelease, s.release))
	mux.Handle("GET /holds", s.require(RoleViewer, audit.ActionView, s.holds))
	mux.Handle("POST /export", s.require(RoleOfficer, audit.ActionExport, s.export))
	mux.Handle("GET /erase", s.require(RoleOfficer, audit.ActionErase, s.eraseForm))
	mux.Handle("POST /erase", s.require(RoleOfficer, audit.ActionErase, s.erase))
	mux.Handle("GET /audit", s.require(RoleAuditor, audit.ActionAudit, s.auditLog))

	var cop http.CrossOriginProtection
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
	}))
	return securityHeaders(cop.Handler(limitForms(s.auth.withCSRFCookie(mux))))
}

// maxFormBytes bounds a request body: the largest form, an export of
// maxExport icids, is a few tens of KiB.
const maxFormBytes = 256 << 10

// limitForms bounds every request body and parses a POST's form before
// any handler does: a larger one is refused with 413, whoever sends it.
func limitForms(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
					http.Error(w, "form too large", http.StatusRequestEntityTooLarge)
					return
				}
				http.Error(w, "malformed form", http.StatusBadRequest)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every answer carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// handler is a page for a logged-in principal.
type handler func(w http.ResponseWriter, r *http.Request, p Principal)

// require runs h for a principal holding role (any logged-in one when
// role is empty), after the CSRF check of a state change. A refusal is
// 403 and recorded as action refused.
func (s *Server) require(role, action string, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.auth.identify(r)
		if !ok {
			if r.Method == http.MethodGet && s.cfg.Token != "" {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "not logged in: sign in through the auth proxy", http.StatusUnauthorized)
			return
		}
		reason := ""
		if role != "" && !p.Has(role) {
			reason = "role " + role + " required"
		} else if r.Method == http.MethodPost && !s.auth.csrfValid(r, p.User) {
			reason = "missing or wrong CSRF token"
		}
		if reason != "" {
			if !s.record(w, r, p, audit.ActionRefused, r.Method+" "+r.URL.Path, action+": "+reason) {
				return
			}
			w.WriteHeader(http.StatusForbidden)
			s.render(w, r, p, "error", "Refused", map[string]string{"Message": "Refused: " + reason + "."})
			return
		}
		h(w, r, p)
	})
}

// record writes an access before it is served. When the log cannot be
// written it answers 503 and returns false: the caller serves nothing.
func (s *Server) record(w http.ResponseWriter, r *http.Request, p Principal, action, target, detail string) bool {
	err := s.deps.Audit.Record(r.Context(), audit.Entry{Who: p.User, Role: p.Role(), Action: action, Target: target, From: p.From, Detail: detail})
	if err != nil {
		s.log.Error("access log unavailable: request refused", zap.String("user", p.User), zap.String("action", action), zap.Error(err))
		http.Error(w, "the access log cannot be written, so nothing is served; try again later", http.StatusServiceUnavailable)
		return false
	}
	return true
}

// fail answers an internal error without its detail, logging it once.
func (s *Server) fail(w http.ResponseWriter, what string, err error) {
	s.log.Error(what, zap.Error(err))
	status := http.StatusInternalServerError
	if errors.Is(err, context.Canceled) {
		status = http.StatusServiceUnavailable
	}
	http.Error(w, what+": internal error (logged)", status)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.deps.Warehouse.Ping(r.Context()); err != nil {
		http.Error(w, "clickhouse unreachable", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}
