package streams_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/localserver"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

// TestConnectVerifiesTheServerWithTheCAFile: a tls:// NATS whose
// certificate chains to PN_NATS_CA_FILE is reached; with an unrelated CA
// the client never connects.
func TestConnectVerifiesTheServerWithTheCAFile(t *testing.T) {
	files := testenv.NewTLSFiles(t)
	tlsCfg, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: files.CertFile, KeyFile: files.KeyFile})
	if err != nil {
		t.Fatal(err)
	}
	port, err := localserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true, TLSConfig: tlsCfg, TLS: true, TLSVerify: false})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(5 * time.Second) {
		t.Fatal("nats-server with TLS did not start")
	}
	url := fmt.Sprintf("tls://127.0.0.1:%d", port)

	cfg := streams.DefaultConnConfig()
	cfg.URL, cfg.CAFile, cfg.ReconnectWait = url, files.CAFile, 50*time.Millisecond
	nc, _, err := streams.Connect(cfg, "tls-test", zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		t.Fatalf("with the server's CA: %v", err)
	}
	if !nc.TLSRequired() {
		t.Error("connection is not TLS")
	}

	cfg.CAFile = files.OtherCAFile
	other, _, err := streams.Connect(cfg, "tls-test-other", zaptest.NewLogger(t))
	if err == nil {
		defer other.Close()
		if err := other.FlushTimeout(time.Second); err == nil || other.IsConnected() {
			t.Fatal("connected with an unrelated CA")
		}
	}
}
