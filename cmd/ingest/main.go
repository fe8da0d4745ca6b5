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
	log    daemon.LogConfig
	debug  daemon.DebugConfig
	ingest ingest.Config
	nats   streams.ConnConfig
}

// removedSettings are variables ingest no longer reads, with what replaced
// them; setting one logs a warning rather than being silently ignored.
var removedSettings = map[string]string{
	"PN_PUSH_REPLAY_WINDOW": "PN_PUSH_MAX_AGE (past) and PN_PUSH_CLOCK_SKEW (future)",
	"PN_PUSH_MAX_NONCES":    "the shared nonce stream PN_NONCES (its byte limit is the recorder's PN_STREAM_NONCES_MAX_BYTES)",
}

func run(ctx context.Context, args []string) error {
	cfg := config{ingest: ingest.DefaultConfig(), nats: streams.DefaultConnConfig()}
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	cfg.log.RegisterFlags(fs)
	cfg.debug.RegisterFlags(fs)
	cfg.ingest.RegisterFlags(fs)
	cfg.nats.RegisterFlags(fs)
	if err := daemon.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg.ingest.Complete()
	if err := errors.Join(cfg.ingest.Validate(), cfg.nats.Validate()); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log, err := daemon.NewLogger(cfg.log, "ingest")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	log.Info("starting", zap.Any("config", cfg.ingest.Redacted()), zap.String("nats_url", cfg.nats.Redacted().URL))
	if cfg.ingest.Auth == ingest.AuthOff {
		log.Warn("push authentication is OFF: anyone who can reach this port can inject call records")
	}
	for name, instead := range removedSettings {
		if os.Getenv(name) != "" {
			log.Warn("setting no longer read", zap.String("variable", name), zap.String("instead", instead))
		}
	}

	// The streams (the nonce stream too) are provisioned by the recorder's
	// set-up, not here, so that an operator's limits are not overwritten;
	// until they exist readiness is false and pushes get 503.
	nc, js, err := streams.Connect(cfg.nats, "pnstream-ingest", log)
	if err != nil {
		return err
	}
	defer nc.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := ingest.New(cfg.ingest, ingest.Deps{
		Publisher:  streams.NewJetStreamPublisher(nc, js),
		Nonces:     ingest.NewJetStreamNonces(js, cfg.ingest.NonceWindow()),
		MaxPayload: nc.MaxPayload,
		Ready:      func(ctx context.Context) error { return streams.Check(ctx, js) },
		Logger:     log,
		Registry:   reg,
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
