// Command pnsim simulates the Huawei Cloud Private Number platform in AXE
// mode for development, demos and load tests: it serves the platform's API
// (bind, unbind, query, modify, recording URL) with AKSK verification,
// places calls on its bindings at a steady rate, pushes their call events
// and CDRs to the callback URLs (re-pushing on the platform's schedule),
// serves the recordings, and injects faults on demand (PUT /sim/faults).
// Counters are on GET /sim/stats.
//
// Every flag is also read from its PN_* environment variable (see --help),
// e.g. PN_SIM_EVENTS_URL, PN_SIM_CALL_RATE, PN_APP_KEY.
package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/pnstream/pnstream/internal/daemon"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	daemon.Exit("pnsim", err)
}

// run reads the configuration, then simulates the platform until ctx is
// done.
func run(ctx context.Context, args []string) error {
	cfg, err := parseConfig(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log, err := daemon.NewLogger(cfg.log, "pnsim")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	return newApp(cfg.sim, log).Run(ctx)
}
