package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// DebugConfig enables the Go profiling endpoints of a command.
type DebugConfig struct {
	// PprofAddr is where net/http/pprof is served, under /debug/pprof/
	// (PN_PPROF_ADDR, default empty: off). It is a listener of its own, so
	// profiles never share a port with pushes or metrics; 127.0.0.1:6060
	// keeps it to `kubectl port-forward`.
	PprofAddr string
}

// RegisterFlags binds the fields to flags on fs.
func (c *DebugConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.PprofAddr, "pprof-addr", c.PprofAddr, "serve /debug/pprof/ on this address, e.g. 127.0.0.1:6060 (empty: off)")
}

// Start serves /debug/pprof/ in g when PprofAddr is set, until ctx is done.
// It listens before it returns, so an address that cannot be had fails
// here. It does nothing when PprofAddr is empty.
func (c DebugConfig) Start(ctx context.Context, g *errgroup.Group, log *zap.Logger) error {
	if c.PprofAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", c.PprofAddr)
	if err != nil {
		return fmt.Errorf("listen pprof: %w", err)
	}
	log.Info("serving pprof", zap.String("addr", ln.Addr().String()))
	g.Go(func() error { return ServeDebug(ctx, ln) })
	return nil
}

// debugShutdownTimeout bounds the wait for profiles in progress on
// shutdown; a CPU profile runs for 30 s by default, which is not worth
// delaying a pod's termination for.
const debugShutdownTimeout = time.Second

// ServeDebug serves the net/http/pprof handlers under /debug/pprof/ on ln
// until ctx is done, then shuts the server down (profiles in progress get
// debugShutdownTimeout, then are cut short) and returns nil. It returns an
// error when serving fails for another reason.
func ServeDebug(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// No WriteTimeout: a profile is written after it ran for ?seconds=N.
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	err := Serve(ctx, srv, ln, debugShutdownTimeout)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil // profiles still running are cut short: not worth a failure
	}
	if err != nil {
		return fmt.Errorf("pprof server: %w", err)
	}
	return nil
}
