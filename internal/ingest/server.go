// Package ingest is the HTTP receiver of platform pushes. It verifies each
// push, splits it into one message per record and answers 200 only after
// JetStream stored every message; refused bodies are kept in PN_REJECTED.
//
// The decisions are in plain packages: authentication in aksk; decoding,
// validation and identity in privatenumber. This package is the HTTP edge
// and the publishing.
package ingest

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/daemon"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
)

// Publisher stores messages durably. Publish returns nil only when every
// message was stored; a duplicate counts as stored.
type Publisher interface {
	Publish(ctx context.Context, msgs ...streams.Message) error
}

var _ Publisher = (*streams.JetStreamPublisher)(nil)

// ReadyFunc reports whether the server can take pushes (JetStream reachable
// and provisioned).
type ReadyFunc func(ctx context.Context) error

// Server is the ingest HTTP server.
type Server struct {
	cfg      Config
	log      *zap.Logger
	ready    ReadyFunc
	handler  http.Handler
	stopping atomic.Bool
}

// Deps are what a Server needs besides its Config.
type Deps struct {
	Publisher Publisher
	// Nonces is the shared nonce store (NewJetStreamNonces); required when
	// push auth is required. Readiness asks a JetStreamNonces too (its
	// Check): the stream exists with a long enough window.
	Nonces NonceStore
	// MaxPayload returns the NATS server's max_payload (nats.Conn's
	// MaxPayload), which bounds the body a 400 keeps in PN_REJECTED; nil or
	// 0 means 1 MiB, nats-server's default.
	MaxPayload func() int64
	Ready      ReadyFunc
	Logger     *zap.Logger
	// Registry for metrics; it is also what /metrics serves.
	Registry *prometheus.Registry
}

// New returns a Server. cfg must be valid; with push auth required,
// deps.Nonces must be set (New panics otherwise: pushes could not be
// checked for replays).
func New(cfg Config, deps Deps) *Server {
	s := &Server{cfg: cfg, log: deps.Logger, ready: deps.Ready}
	if nc, ok := deps.Nonces.(nonceChecker); ok {
		s.ready = func(ctx context.Context) error {
			if deps.Ready != nil {
				if err := deps.Ready(ctx); err != nil {
					return err
				}
			}
			return nc.Check(ctx)
		}
	}
	m := newMetrics(deps.Registry)
	var verifier *aksk.Verifier
	if cfg.Auth == AuthRequired {
		if deps.Nonces == nil {
			panic("ingest.New: push auth is required but Deps.Nonces is nil (use ingest.NewJetStreamNonces(js))")
		}
		verifier = aksk.NewVerifierFromConfig(cfg.VerifierConfig())
	}
	// A store that can claim a nonce with a record's message takes the
	// single-event pushes whole (one stored message each).
	records, _ := deps.Nonces.(RecordNonceStore)
	maxPayload := deps.MaxPayload
	if maxPayload == nil {
		maxPayload = func() int64 { return 0 }
	}
	push := func(path string, kind privatenumber.Kind) http.Handler {
		return &pushHandler{
			kind: kind, path: path, cfg: &s.cfg, pub: deps.Publisher, nonces: deps.Nonces, records: records, maxPayload: maxPayload,
			verifier: verifier, decoder: privatenumber.Decoder{MaxRecordBytes: cfg.MaxRecordBytes}, metrics: m, pm: m.forPath(path), log: deps.Logger,
		}
	}
	mux := http.NewServeMux()
	mux.Handle(PathNotifications, push(PathNotifications, privatenumber.AnyPush))
	mux.Handle(PathEvents, push(PathEvents, privatenumber.EventPush))
	mux.Handle(PathFees, push(PathFees, privatenumber.FeePush))
	mux.Handle(PathNumStatus, push(PathNumStatus, privatenumber.NumStatusPush))
	mux.HandleFunc("GET "+PathHealthz, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET "+PathReadyz, s.serveReady)
	mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(deps.Registry, promhttp.HandlerOpts{Registry: deps.Registry}))
	s.handler = mux
	return s
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	if s.stopping.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// Run serves on ln until ctx is done, then stops taking requests, lets the
// in-flight ones finish within ShutdownTimeout and returns. /readyz answers
// 503 from the moment ctx is done.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(s.log.Named("http")),
	}
	defer daemon.AfterDone(ctx, func() {
		s.stopping.Store(true)
		s.log.Info("shutting down: draining in-flight requests", zap.Duration("timeout", s.cfg.ShutdownTimeout))
	})()
	return daemon.Serve(ctx, srv, ln, s.cfg.ShutdownTimeout)
}
