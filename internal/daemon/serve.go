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

// AfterDone runs f in a goroutine of its own as soon as ctx is done: how a
// command turns unready the moment a signal arrives, before the rest of
// its shutdown. The returned wait cancels f if it has not started, or
// waits until it has returned; call it before returning, so that f never
// outlives its caller.
func AfterDone(ctx context.Context, f func()) (wait func()) {
	ran := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(ran)
		f()
	})
	return func() {
		if !stop() {
			<-ran
		}
	}
}
