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

	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/daemon"
)

var command = daemon.Command[config]{
	Name:  "pnsim",
	Parse: parseConfig,
	Log:   func(cfg config) daemon.LogConfig { return cfg.log },
	Run:   func(ctx context.Context, cfg config, log *zap.Logger) error { return newApp(cfg.sim, log).Run(ctx) },
}

func main() { daemon.Main(command) }

// run starts the command with args until ctx is done (for tests).
func run(ctx context.Context, args []string) error { return command.Start(ctx, args) }
