package testenv_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/testenv"
)

func TestNATSRestartKeepsStream(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := testenv.NATS(t)
	url := srv.URL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") {
		t.Fatalf("URL() = %q", url)
	}

	js := testenv.JetStream(t, url)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     "KEPT",
		Subjects: []string{"kept.>"},
		Storage:  jetstream.FileStorage,
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, "kept.x", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}

	srv.Shutdown()
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "nats://"), time.Second); err == nil {
		c.Close()
		t.Fatal("port still open after Shutdown")
	}
	srv.Shutdown() // a no-op when already down

	srv.Restart(t)
	if srv.URL() != url {
		t.Fatalf("URL after Restart = %q, want %q", srv.URL(), url)
	}
	stream, err := testenv.JetStream(t, url).Stream(ctx, "KEPT")
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Fatalf("stream has %d messages after restart, want 3", info.State.Msgs)
	}
	msg, err := stream.GetMsg(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != "m2" {
		t.Errorf("message 3 = %q, want m2", msg.Data)
	}
}
