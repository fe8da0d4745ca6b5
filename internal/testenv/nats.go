package testenv

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/pnstream/pnstream/internal/localserver"
)

// natsReadyTimeout bounds how long a start waits for the server to accept
// connections; JetStream recovers its store before that.
const natsReadyTimeout = 10 * time.Second

// NATSServer is an embedded nats-server with JetStream on 127.0.0.1, keeping
// its file store in a temporary directory of the test. Shutdown and Restart
// simulate an outage: the port closes, and the server comes back on the same
// port with the same store.
type NATSServer struct {
	mu   sync.Mutex
	opts *server.Options // template for every start, port included
	srv  *server.Server  // nil while shut down
}

// NATS starts an embedded JetStream server for t on a free port and shuts
// it down when the test ends. It fails the test if the server does not start.
func NATS(t testing.TB) *NATSServer {
	t.Helper()
	opts := &server.Options{
		ServerName: "pnstream-test",
		Host:       "127.0.0.1",
		NoLog:      true,
		// The test binary owns signal handling, not the embedded server.
		NoSigs:             true,
		JetStream:          true,
		StoreDir:           t.TempDir(),
		JetStreamMaxMemory: 256 << 20,
		JetStreamMaxStore:  1 << 40, // an accounting cap: the default stream limits reserve 37 GiB
	}
	s := &NATSServer{opts: opts}
	t.Cleanup(s.Shutdown)
	// A port from FreePort (not the kernel's random one) stays free during an
	// outage; it can still be taken before the first start, so try a few.
	var errs []error
	for range startAttempts {
		port, err := localserver.FreePort()
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		opts.Port = port
		if err = s.start(); err == nil {
			return s
		}
		errs = append(errs, err)
	}
	t.Fatalf("testenv: %v", errors.Join(errs...))
	return nil
}

// URL returns the client URL, "nats://127.0.0.1:<port>". It stays the same
// across Shutdown and Restart.
func (s *NATSServer) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("nats://%s:%d", s.opts.Host, s.opts.Port)
}

// Shutdown stops the server and waits until it is down: clients are
// disconnected and the port is closed. It is a no-op when already down.
func (s *NATSServer) Shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}

// Restart starts the server again on the same port with the same store, so
// streams, consumers and messages are kept. A running server is shut down
// first. It fails t if the server does not come back.
func (s *NATSServer) Restart(t testing.TB) {
	t.Helper()
	s.Shutdown()
	if err := s.start(); err != nil {
		t.Fatalf("testenv: restart: %v", err)
	}
}

func (s *NATSServer) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// NewServer fills defaults into the options it is given; a clone keeps
	// the template as configured.
	srv, err := server.NewServer(s.opts.Clone())
	if err != nil {
		return fmt.Errorf("nats server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(natsReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("nats server on %s:%d not ready after %s", s.opts.Host, s.opts.Port, natsReadyTimeout)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("nats server on %s:%d started without JetStream", s.opts.Host, s.opts.Port)
	}
	s.srv = srv
	return nil
}
