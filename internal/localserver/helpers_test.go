package localserver_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
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
