// Command recorder consumes the fee records, call events and X-number states
// that ingest stored in NATS JetStream and writes them to ClickHouse in batches,
// acknowledging each message only after its row is stored, and mirrors the
// recording of every recorded call into S3. It applies the ClickHouse
// migrations at start-up. With -migrate-only (PN_MIGRATE_ONLY) it applies
// the migrations and provisions the JetStream streams, then exits: the
// set-up Job of a Kubernetes deployment. See the README for its settings;
// every flag is also read from its PN_* environment variable.
//
// On SIGTERM it stops as STYLE §12 orders (see app.Run): /readyz answers
// 503 at once, the consumers stop fetching and the batches in hand are
// inserted and acked within PN_RECORDER_SHUTDOWN_TIMEOUT, then the admin
// server stops and ClickHouse and NATS are closed.
package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/daemon"
)

var command = daemon.Command[config]{
	Name:  "recorder",
	Parse: parseConfig,
	Log:   func(cfg config) daemon.LogConfig { return cfg.log },
	Run:   record,
	Removed: map[string]string{
		"PN_STREAM_NONCES_MAX_BYTES": "PN_STREAM_MAX_BYTES: the push nonces are in PN_EVENTS, PN_NONCES is retired",
	},
}

func main() { daemon.Main(command) }

// run starts the command with args until ctx is done (for tests).
func run(ctx context.Context, args []string) error { return command.Start(ctx, args) }

// record runs the recorder until ctx is done.
func record(ctx context.Context, cfg config, log *zap.Logger) error {
	log.Info("starting", zap.Any("recorder", cfg.recorder), zap.String("nats_url", cfg.nats.Redacted().URL),
		zap.Stringer("clickhouse", cfg.warehouse), zap.Stringer("pii", cfg.pii), zap.Any("streams", cfg.streams),
		zap.Any("archive", cfg.archive.Redacted()), zap.Any("gaps", cfg.gaps), zap.Any("numbers", cfg.numbers), zap.String("api_base_url", cfg.platform.BaseURL))
	if !cfg.archive.Enabled() {
		log.Warn("recording mirror disabled (no PN_S3_ENDPOINT): recording jobs wait in PN_RECORDINGS")
	}
	return newApp(cfg, log).Run(ctx)
}
