// Command console is the compliance console: the web application in which
// compliance officers find a call, play and download its recording, put it
// under legal hold, export a case file and erase a subscriber's data, and
// in which auditors read the access log of all of that. It reads
// ClickHouse and the S3 archive and writes only its access log and legal
// holds. See the README for its settings; every flag is also read from its
// PN_* environment variable.
//
// It runs behind the cluster's auth proxy (users and groups from its
// headers, trusted only from PN_CONSOLE_TRUSTED_PROXIES) or, for local
// runs, with a static token (PN_CONSOLE_TOKEN). On SIGTERM it stops taking
// requests and finishes those in flight within
// PN_CONSOLE_SHUTDOWN_TIMEOUT.
package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/daemon"
)

var command = daemon.Command[config]{
	Name:  "console",
	Parse: parseConfig,
	Log:   func(cfg config) daemon.LogConfig { return cfg.log },
	Run:   serve,
}

func main() { daemon.Main(command) }

// run starts the command with args until ctx is done (for tests).
func run(ctx context.Context, args []string) error { return command.Start(ctx, args) }

// serve serves the console until ctx is done.
func serve(ctx context.Context, cfg config, log *zap.Logger) error {
	log.Info("starting", zap.Any("console", cfg.console.Redacted()), zap.Stringer("clickhouse", cfg.warehouse),
		zap.Stringer("pii", cfg.pii), zap.Any("s3", cfg.s3.Redacted()))
	if cfg.console.Token != "" {
		log.Warn("static token login is ON: for local runs only; in a cluster use the auth proxy")
	}
	return newApp(cfg, log).Run(ctx)
}
