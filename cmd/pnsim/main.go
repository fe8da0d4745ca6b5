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
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/daemon"
	"github.com/pnstream/pnstream/internal/platformsim"
)

// shutdownTimeout bounds draining in-flight requests on shutdown.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	daemon.Exit("pnsim", err)
}

func run(ctx context.Context, args []string) error {
	var logCfg daemon.LogConfig
	cfg := platformsim.DefaultConfig()
	fs := flag.NewFlagSet("pnsim", flag.ContinueOnError)
	logCfg.RegisterFlags(fs)
	cfg.RegisterFlags(fs)
	if err := daemon.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log, err := daemon.NewLogger(logCfg, "pnsim")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if cfg.PublicURL == "" {
		// With port 0 only the listener knows the port.
		cfg.PublicURL = "http://" + publicHost(ln.Addr().(*net.TCPAddr))
	}
	log.Info("starting", zap.Any("config", cfg.Redacted()))
	sim, err := platformsim.New(cfg, platformsim.Deps{Logger: log})
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           sim.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", zap.String("url", cfg.PublicURL))

	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	simulated := make(chan error, 1)
	go func() { simulated <- sim.Run(simCtx) }()
	var errs []error
	select {
	case err := <-served: // the listener failed: stop the calls too
		errs = append(errs, fmt.Errorf("serve: %w", err))
		stopSim()
		errs = append(errs, <-simulated)
	case err := <-simulated: // ctx is done, or the simulation failed
		errs = append(errs, err)
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		errs = append(errs, srv.Shutdown(shutCtx))
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("serve: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	log.Info("stopped", zap.Any("stats", sim.Stats()))
	return nil
}

// publicHost is addr as clients reach it: a wildcard address becomes
// loopback.
func publicHost(addr *net.TCPAddr) string {
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, fmt.Sprint(addr.Port))
}
