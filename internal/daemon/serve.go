package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Serve serves srv on ln until ctx is done, then shuts it down: the
// listener closes at once, the requests in flight get until timeout to
// finish, and the connections still open then are closed. It returns nil
// after a shutdown within timeout; an error wrapping
// context.DeadlineExceeded when requests had to be cut short; and an error
// at once when serving fails before ctx is done. Every pnstream HTTP
// server is served this way, so none outlives its owner or lacks a
// deadline.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, timeout time.Duration) error {
	addr := ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
	}
	// ctx is done; the shutdown gets a deadline of its own.
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	err := srv.Shutdown(shutCtx)
	if err != nil {
		// Cut the requests still running. The listener is closed already,
		// which is all Close could fail on.
		_ = srv.Close()
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("shut down %s: %w", addr, err)
	}
	return nil
}
