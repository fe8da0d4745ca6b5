package localserver_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/localserver"
)

// requireProblems checks what Validate returned: nil when want is empty,
// else an error that names every one of want.
func requireProblems(t *testing.T, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("Validate() = %v, want nil", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("Validate() = nil, want an error naming %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %q, want it to mention %q", err, w)
		}
	}
}

// stopAtCleanup stops srv when the test ends.
func stopAtCleanup(t *testing.T, srv interface{ Stop(context.Context) error }) {
	t.Helper()
	t.Cleanup(func() {
		if err := srv.Stop(context.Background()); err != nil {
			t.Errorf("stop at cleanup: %v", err)
		}
	})
}

// requireDown checks that srv stopped as asked: Done closed, no error, and
// nothing accepting connections on addr.
func requireDown(t *testing.T, srv interface {
	Done() <-chan struct{}
	Err() error
}, addr string) {
	t.Helper()
	select {
	case <-srv.Done():
	default:
		t.Fatal("Done() not closed after the server stopped")
	}
	if err := srv.Err(); err != nil {
		t.Errorf("Err() = %v after a requested stop, want nil", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections", addr)
	}
}

// freePort returns a port FreePort picked.
func freePort(t *testing.T) int {
	t.Helper()
	port, err := localserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// takenPort returns a port this test listens on until it ends: one the
// kernel picked, which nobody else can take in the meantime, unlike a port
// from FreePort, which is free only when it returns.
func takenPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}
