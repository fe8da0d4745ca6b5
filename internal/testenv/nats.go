package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/localserver"
)

// natsReadyTimeout bounds how long a start waits for the server to accept
// connections; JetStream recovers its store before that.
const natsReadyTimeout = 10 * time.Second

// NATSServer is an embedded nats-server with JetStream on 127.0.0.1 (a
// localserver.NATS in this process), keeping its file store in a temporary
// directory of the test. Shutdown and Restart simulate an outage: the port
// closes, and the server comes back on the same port with the same store.
type NATSServer struct {
	t   testing.TB // the test that started it, told of a failed shutdown
	srv *localserver.NATS
}

// NATS starts an embedded JetStream server for t on a free port and shuts
// it down when the test ends. It fails the test if the server does not start.
func NATS(t testing.TB) *NATSServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	srv, err := localserver.StartNATS(ctx, localserver.NATSConfig{
		Dir: t.TempDir(), Name: "pnstream-test", StartTimeout: natsReadyTimeout,
	})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	s := &NATSServer{t: t, srv: srv}
	t.Cleanup(s.Shutdown)
	return s
}

// URL returns the client URL, "nats://127.0.0.1:<port>". It stays the same
// across Shutdown and Restart.
func (s *NATSServer) URL() string { return s.srv.URL() }

// Shutdown stops the server and waits until it is down: clients are
// disconnected and the port is closed. It is a no-op when already down. A
// shutdown that outlasts the stop timeout fails the test that started the
// server.
func (s *NATSServer) Shutdown() {
	if err := s.srv.Stop(context.Background()); err != nil {
		s.t.Errorf("testenv: %v", err)
	}
}

// Restart starts the server again on the same port with the same store, so
// streams, consumers and messages are kept. A running server is shut down
// first. It fails t if the server does not come back.
func (s *NATSServer) Restart(t testing.TB) {
	t.Helper()
	s.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if err := s.srv.Start(ctx); err != nil {
		t.Fatalf("testenv: restart: %v", err)
	}
}

// JetStream connects a client to url that does not reconnect, so that an
// outage shows as errors rather than as waits, and closes it when the test
// ends.
func JetStream(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.NoReconnect())
	if err != nil {
		t.Fatalf("testenv: connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return js
}
