package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/pnstream/pnstream/internal/daemon"
	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/streams"
)

// natsDrainTimeout bounds the flush of the last publishes on shutdown.
const natsDrainTimeout = 5 * time.Second

// config is every setting of ingest.
type config struct {
	log    daemon.LogConfig
	debug  daemon.DebugConfig
	ingest ingest.Config
	nats   streams.ConnConfig
}

// parseConfig reads the flags of args and their PN_* variables into the
// defaults, completes and validates the result. -help returns
// flag.ErrHelp.
func parseConfig(args []string) (config, error) {
	cfg := config{ingest: ingest.DefaultConfig(), nats: streams.DefaultConnConfig()}
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	cfg.log.RegisterFlags(fs)
	cfg.debug.RegisterFlags(fs)
	cfg.ingest.RegisterFlags(fs)
	cfg.nats.RegisterFlags(fs)
	if err := daemon.Parse(fs, args); err != nil {
		return cfg, err
	}
	cfg.ingest.Complete()
	if err := errors.Join(cfg.ingest.Validate(), cfg.nats.Validate()); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// app is ingest wired from its config. newApp does no I/O; Run connects,
// serves until ctx is done, stops and closes the connection.
type app struct {
	cfg config
	log *zap.Logger
	reg *prometheus.Registry
}

func newApp(cfg config, log *zap.Logger) *app {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &app{cfg: cfg, log: log, reg: reg}
}

// Run serves pushes until ctx is done, then stops in the order of STYLE
// §12, each step bounded: /readyz answers 503 and the listener closes at
// once, the pushes in flight are answered within PN_INGEST_SHUTDOWN_TIMEOUT
// (ingest.Server.Run), then NATS is drained so that nothing published is
// left in the client.
//
// The streams (the nonce stream too) are provisioned by the recorder's
// set-up, not here, so that an operator's limits are not overwritten;
// until they exist readiness is false and pushes get 503.
func (a *app) Run(ctx context.Context) error {
	nc, js, err := streams.Connect(a.cfg.nats, "pnstream-ingest", a.log)
	if err != nil {
		return err
	}
	srv := ingest.New(a.cfg.ingest, ingest.Deps{
		Publisher:  streams.NewJetStreamPublisher(nc, js),
		Nonces:     ingest.NewJetStreamNonces(js, a.cfg.ingest.NonceWindow()),
		MaxPayload: nc.MaxPayload,
		Ready:      func(ctx context.Context) error { return streams.Check(ctx, js) },
		Logger:     a.log,
		Registry:   a.reg,
	})
	if err := a.serve(ctx, srv); err != nil {
		nc.Close()
		return err
	}
	if err := streams.Drain(nc, natsDrainTimeout); err != nil {
		return err
	}
	a.log.Info("stopped")
	return nil
}

// serve runs srv, and pprof when configured, until ctx is done or one of
// them fails.
func (a *app) serve(ctx context.Context, srv *ingest.Server) error {
	ln, err := net.Listen("tcp", a.cfg.ingest.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	a.log.Info("listening", zap.String("addr", ln.Addr().String()))
	g, gctx := errgroup.WithContext(ctx)
	if err := a.cfg.debug.Start(gctx, g, a.log); err != nil {
		_ = ln.Close()
		return err
	}
	g.Go(func() error { return srv.Run(gctx, ln) })
	return g.Wait()
}
