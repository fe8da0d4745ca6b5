// Command ingest receives the Huawei Private Number platform's pushes (call
// events and fee records) over HTTP and stores every record in NATS
// JetStream before it answers 200. See the README for its settings; every
// flag is also read from its PN_* environment variable.
//
// On SIGTERM it stops as STYLE §12 orders (see app.Run): /readyz answers
// 503, the pushes in flight are answered within PN_INGEST_SHUTDOWN_TIMEOUT,
// then NATS is drained.
package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/daemon"
	"github.com/pnstream/pnstream/internal/ingest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	daemon.Exit("ingest", err)
}

// run reads the configuration, then serves pushes until ctx is done.
func run(ctx context.Context, args []string) error {
	cfg, err := parseConfig(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
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
	warnRemovedSettings(log)
	return newApp(cfg, log).Run(ctx)
}
