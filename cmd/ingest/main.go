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

	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/daemon"
	"github.com/pnstream/pnstream/internal/ingest"
)

var command = daemon.Command[config]{
	Name:  "ingest",
	Parse: parseConfig,
	Log:   func(cfg config) daemon.LogConfig { return cfg.log },
	Run:   serve,
	Removed: map[string]string{
		"PN_PUSH_REPLAY_WINDOW": "PN_PUSH_MAX_AGE (past) and PN_PUSH_CLOCK_SKEW (future)",
		"PN_PUSH_MAX_NONCES":    "the push nonces shared in PN_EVENTS (the recorder's PN_STREAM_NONCE_WINDOW and PN_STREAM_MAX_BYTES)",
	},
}

func main() { daemon.Main(command) }

// run starts the command with args until ctx is done (for tests).
func run(ctx context.Context, args []string) error { return command.Start(ctx, args) }

// serve serves pushes until ctx is done.
func serve(ctx context.Context, cfg config, log *zap.Logger) error {
	log.Info("starting", zap.Any("config", cfg.ingest.Redacted()), zap.String("nats_url", cfg.nats.Redacted().URL))
	if cfg.ingest.Auth == ingest.AuthOff {
		log.Warn("push authentication is OFF: anyone who can reach this port can inject call records")
	}
	return newApp(cfg, log).Run(ctx)
}
