package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/daemon"
	"github.com/pnstream/pnstream/internal/gaps"
	"github.com/pnstream/pnstream/internal/numbers"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/recorder"
	"github.com/pnstream/pnstream/internal/retention"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// config is every setting of the recorder: its components' configs, each
// registering its own flags.
type config struct {
	log         daemon.LogConfig
	debug       daemon.DebugConfig
	adminAddr   string
	migrateOnly bool
	recorder    recorder.Config
	nats        streams.ConnConfig
	streams     streams.Config
	warehouse   warehouse.Config
	pii         pii.Config
	archive     archive.Config
	gaps        gaps.Config
	numbers     numbers.Config
	platform    axeapi.ClientConfig
	retention   retention.Config
}

// parseConfig reads the flags of args and their PN_* variables into the
// defaults and validates the result. -help returns flag.ErrHelp.
func parseConfig(args []string) (config, error) {
	cfg := config{
		adminAddr: ":8081",
		recorder:  recorder.DefaultConfig(),
		nats:      streams.DefaultConnConfig(),
		streams:   streams.DefaultConfig(),
		warehouse: warehouse.DefaultConfig(),
		pii:       pii.DefaultConfig(),
		archive:   archive.DefaultConfig(),
		gaps:      gaps.DefaultConfig(),
		numbers:   numbers.DefaultConfig(),
		platform:  axeapi.DefaultClientConfig(),
		retention: retention.DefaultConfig(),
	}
	fs := flag.NewFlagSet("recorder", flag.ContinueOnError)
	cfg.log.RegisterFlags(fs)
	cfg.debug.RegisterFlags(fs)
	fs.StringVar(&cfg.adminAddr, "recorder-admin-addr", cfg.adminAddr, "address of /healthz, /readyz and /metrics")
	fs.BoolVar(&cfg.migrateOnly, "migrate-only", false, "apply the ClickHouse migrations and provision the JetStream streams, then exit (a deployment's set-up Job)")
	cfg.recorder.RegisterFlags(fs)
	cfg.nats.RegisterFlags(fs)
	cfg.streams.RegisterFlags(fs)
	cfg.warehouse.RegisterFlags(fs)
	cfg.pii.RegisterFlags(fs)
	cfg.archive.RegisterFlags(fs)
	cfg.gaps.RegisterFlags(fs)
	cfg.numbers.RegisterFlags(fs)
	cfg.platform.RegisterFlags(fs) // the record-URL API of the mirror
	cfg.retention.RegisterFlags(fs)
	if err := daemon.Parse(fs, args); err != nil {
		return cfg, err
	}
	errs := []error{cfg.recorder.Validate(), cfg.nats.Validate(), cfg.streams.Validate(), cfg.warehouse.Validate(),
		cfg.pii.Validate(), cfg.archive.Validate(), cfg.gaps.Validate(), cfg.numbers.Validate(), cfg.retention.Validate()}
	if cfg.archive.Enabled() {
		errs = append(errs, cfg.platform.Validate())
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}
