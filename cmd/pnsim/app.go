package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/pnstream/pnstream/internal/daemon"
	"github.com/pnstream/pnstream/internal/platformsim"
)

// shutdownTimeout bounds draining in-flight requests on shutdown.
const shutdownTimeout = 10 * time.Second

// config is every setting of pnsim.
type config struct {
	log daemon.LogConfig
	sim platformsim.Config
}

// parseConfig reads the flags of args and their PN_* variables into the
// defaults and validates the result. -help returns flag.ErrHelp.
func parseConfig(args []string) (config, error) {
	cfg := config{sim: platformsim.DefaultConfig()}
	fs := flag.NewFlagSet("pnsim", flag.ContinueOnError)
	cfg.log.RegisterFlags(fs)
	cfg.sim.RegisterFlags(fs)
	if err := daemon.Parse(fs, args); err != nil {
		return cfg, err
	}
	if err := cfg.sim.Validate(); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// app is pnsim wired from its config. newApp does no I/O; Run listens,
// runs the simulation and serves the API until ctx is done, then stops.
type app struct {
	cfg platformsim.Config
	log *zap.Logger
}

func newApp(cfg platformsim.Config, log *zap.Logger) *app { return &app{cfg: cfg, log: log} }

// Run serves the platform's API and recordings and places calls until ctx
// is done or either fails. The calls stop first, then the server, so the
// recording-URL call that follows a last push is still answered; requests
// in flight then get shutdownTimeout.
func (a *app) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	cfg := a.cfg
	if cfg.PublicURL == "" {
		// With port 0 only the listener knows the port.
		cfg.PublicURL = "http://" + publicHost(ln.Addr().(*net.TCPAddr))
	}
	a.log.Info("starting", zap.Any("config", cfg.Redacted()))
	sim, err := platformsim.New(cfg, platformsim.Deps{Logger: a.log})
	if err != nil {
		_ = ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           sim.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          zap.NewStdLog(a.log.Named("http")),
	}
	a.log.Info("listening", zap.String("url", cfg.PublicURL))

	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer stopServing()
		return sim.Run(gctx)
	})
	g.Go(func() error { return daemon.Serve(serveCtx, srv, ln, shutdownTimeout) })
	if err := g.Wait(); err != nil {
		return err
	}
	a.log.Info("stopped", zap.Any("stats", sim.Stats()))
	return nil
}

// publicHost is addr as clients reach it: a wildcard address becomes
// loopback.
func publicHost(addr *net.TCPAddr) string {
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, fmt.Sprint(addr.Port))
}
