// Command ingest receives the Huawei Private Number platform's pushes (call
// events and fee records) over HTTP and stores every record in NATS
// JetStream before it answers 200. See the README for its settings; every
// flag is also read from its PN_* environment variable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/pnstream/pnstream/internal/daemon"
	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/streams"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	daemon.Exit("ingest", err)
}

type config struct {
	log     daemon.LogConfig
	debug   daemon.DebugConfig
	ingest  ingest.Config
	nats    streams.ConnConfig
	streams streams.Config
}

func run(ctx context.Context, args []string) error {
	cfg := config{ingest: ingest.DefaultConfig(), nats: streams.DefaultConnConfig(), streams: streams.DefaultConfig()}
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	cfg.log.RegisterFlags(fs)
	cfg.debug.RegisterFlags(fs)
	cfg.ingest.RegisterFlags(fs)
	cfg.nats.RegisterFlags(fs)
	cfg.streams.RegisterFlags(fs)
	if err := daemon.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg.ingest.Complete()
	if err := errors.Join(cfg.ingest.Validate(), cfg.nats.Validate(), cfg.streams.Validate()); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log, err := daemon.NewLogger(cfg.log, "ingest")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	log.Info("starting", zap.Any("config", cfg.ingest.Redacted()), zap.String("nats_url", cfg.nats.URL), zap.Any("streams", cfg.streams))
	if cfg.ingest.Auth == ingest.AuthOff {
		log.Warn("push authentication is OFF: anyone who can reach this port can inject call records")
	}

	nc, js, err := streams.Connect(cfg.nats, "pnstream-ingest", log)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := streams.Provision(ctx, js, cfg.streams); err != nil {
		// Not fatal: NATS may come later; publishes then fail with 503 and
		// readiness stays false until the streams exist.
		log.Warn("streams not provisioned yet", zap.Error(err))
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := ingest.New(cfg.ingest, ingest.Deps{
		Publisher: streams.NewJetStreamPublisher(nc, js),
		Ready:     readiness(js, cfg.streams),
		Logger:    log,
		Registry:  reg,
	})
	ln, err := net.Listen("tcp", cfg.ingest.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("listening", zap.String("addr", ln.Addr().String()))
	g, gctx := errgroup.WithContext(ctx)
	if err := cfg.debug.Start(gctx, g, log); err != nil {
		_ = ln.Close()
		return err
	}
	g.Go(func() error { return srv.Run(gctx, ln) })
	if err := g.Wait(); err != nil {
		return err
	}
	if err := streams.Drain(nc, 5*time.Second); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// readiness is true when JetStream answers and the streams exist; it
// provisions them when they are missing, e.g. after NATS came up late.
func readiness(js jetstream.JetStream, sc streams.Config) ingest.ReadyFunc {
	return func(ctx context.Context) error {
		if _, err := js.Stream(ctx, streams.Fees); err != nil {
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				return streams.Provision(ctx, js, sc)
			}
			return fmt.Errorf("jetstream: %w", err)
		}
		return nil
	}
}
