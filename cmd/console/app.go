package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"

	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/audit"
	"github.com/pnstream/pnstream/internal/console"
	"github.com/pnstream/pnstream/internal/daemon"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// config is every setting of the console.
type config struct {
	log       daemon.LogConfig
	console   console.Config
	warehouse warehouse.Config
	s3        archive.Connection
	pii       pii.Config
}

// parseConfig reads the flags of args and their PN_* variables into the
// defaults and validates the result. -help returns flag.ErrHelp.
func parseConfig(args []string) (config, error) {
	cfg := config{console: console.DefaultConfig(), warehouse: warehouse.DefaultConfig(), s3: archive.DefaultConnection(), pii: pii.DefaultConfig()}
	fs := flag.NewFlagSet("console", flag.ContinueOnError)
	cfg.log.RegisterFlags(fs)
	cfg.console.RegisterFlags(fs)
	cfg.warehouse.RegisterFlags(fs)
	cfg.s3.RegisterFlags(fs, "S3 endpoint host:port of the recording archive (required)")
	cfg.pii.RegisterFlags(fs)
	if err := daemon.Parse(fs, args); err != nil {
		return cfg, err
	}
	if err := errors.Join(cfg.console.Validate(), cfg.warehouse.Validate(), cfg.s3.Validate(), cfg.pii.Validate()); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// app is the console wired from its config. newApp does no I/O; Run
// connects, serves until ctx is done and closes the connections.
type app struct {
	cfg config
	log *zap.Logger
}

func newApp(cfg config, log *zap.Logger) *app { return &app{cfg: cfg, log: log} }

// Run serves until ctx is done. The schema (access_log included) is the
// recorder's to migrate: until it is, every access is refused with 503.
func (a *app) Run(ctx context.Context) error {
	wh, err := warehouse.Open(ctx, a.cfg.warehouse)
	if err != nil {
		return err
	}
	defer func() { _ = wh.Close() }()
	s3, err := a.cfg.s3.NewClient()
	if err != nil {
		return err
	}
	policy, err := a.cfg.pii.Policy() // valid: checked with the config
	if err != nil {
		return err
	}
	log := audit.New(wh)
	deps := console.Deps{Warehouse: wh, Audit: log, S3: s3, Bucket: a.cfg.s3.Bucket, PII: policy, Logger: a.log}
	lifecycle(&deps, wh, s3, a.cfg.s3.Bucket, policy, log)
	srv, err := console.New(a.cfg.console, deps)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", a.cfg.console.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	a.log.Info("listening", zap.String("addr", ln.Addr().String()))
	err = srv.Run(ctx, ln)
	a.log.Info("stopped")
	return err
}
