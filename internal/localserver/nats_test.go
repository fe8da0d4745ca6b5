package localserver_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/localserver"
	"github.com/pnstream/pnstream/internal/testenv"
)

// natsServerEnv makes the test binary run as nats-server (see TestMain), so
// that the child-process mode is tested without building nats-server.
const natsServerEnv = "PN_LOCALSERVER_TEST_AS_NATS_SERVER"

// runAsNATSServer is nats-server's main: flags or -c, signals, logging.
func runAsNATSServer() {
	fs := flag.NewFlagSet("nats-server", flag.ExitOnError)
	opts, err := server.ConfigureOptions(fs, os.Args[1:], server.PrintServerAndExit, fs.Usage, server.PrintTLSHelpAndDie)
	if err != nil {
		server.PrintAndDie(err.Error())
	}
	s, err := server.NewServer(opts)
	if err != nil {
		server.PrintAndDie(err.Error())
	}
	s.ConfigureLogger()
	if err := server.Run(s); err != nil {
		server.PrintAndDie(err.Error())
	}
	s.WaitForShutdown()
	os.Exit(0)
}

func TestNATSConfigValidate(t *testing.T) {
	valid := localserver.NATSConfig{Dir: "/tmp/x", Port: 14222}
	tests := []struct {
		name    string
		mutate  func(*localserver.NATSConfig)
		wantErr []string
	}{
		{"valid", func(*localserver.NATSConfig) {}, nil},
		{"everything set", func(c *localserver.NATSConfig) {
			c.MonitorPort, c.MaxPayload, c.SyncInterval = 18222, 8<<20, "always"
			c.ClusterName, c.ClusterPort, c.RoutePorts = "c", 16222, []int{16223}
		}, nil},
		{"everything wrong", func(c *localserver.NATSConfig) {
			*c = localserver.NATSConfig{Port: 0, MaxMemoryStore: -1, MaxPayload: 1 << 30, SyncInterval: "soon", StartTimeout: -1}
		}, []string{"dir is required", "port: 0", "max memory store", "max payload", `sync interval "soon"`, "start timeout"}},
		{"same ports", func(c *localserver.NATSConfig) { c.MonitorPort = c.Port }, []string{"port and monitor port are both 14222"}},
		{"routes without a cluster port", func(c *localserver.NATSConfig) { c.RoutePorts = []int{1} }, []string{"need a cluster port"}},
		{"cluster without a name", func(c *localserver.NATSConfig) { c.ClusterPort = 16222 }, []string{"needs a cluster name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.mutate(&cfg)
			requireProblems(t, cfg.Validate(), tt.wantErr...)
		})
	}
}

// The nats.conf a server is started from says what its config asks for,
// as nats-server itself reads it.
func TestNATSConfigFileAsNATSServerReadsIt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), `a "quoted" dir`)
	n, err := localserver.NewNATS(localserver.NATSConfig{
		Dir: dir, Port: 14222, MonitorPort: 18222, Name: "node-1", Binary: "/bin/false",
		MaxPayload: 8 << 20, SyncInterval: "always",
		ClusterName: "pn", ClusterPort: 16222, RoutePorts: []int{16223, 16224},
		StartTimeout: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	// /bin/false exits at once: Start fails, having written nats.conf.
	if err := n.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "exited during start-up") {
		t.Fatalf("Start with /bin/false = %v, want an exit during start-up", err)
	}
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "nats.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if opts.ServerName != "node-1" || opts.Host != "127.0.0.1" || opts.Port != 14222 || opts.HTTPHost != "127.0.0.1" || opts.HTTPPort != 18222 {
		t.Errorf("name and listeners: %q %s:%d http %s:%d", opts.ServerName, opts.Host, opts.Port, opts.HTTPHost, opts.HTTPPort)
	}
	if !opts.JetStream || opts.StoreDir != dir || opts.JetStreamMaxMemory != localserver.DefaultNATSMaxMemoryStore || opts.JetStreamMaxStore != 1<<40 || !opts.SyncAlways {
		t.Errorf("jetstream: on %v, store %q, memory %d, file %d, sync always %v",
			opts.JetStream, opts.StoreDir, opts.JetStreamMaxMemory, opts.JetStreamMaxStore, opts.SyncAlways)
	}
	if opts.MaxPayload != 8<<20 {
		t.Errorf("max payload %d", opts.MaxPayload)
	}
	var routes []string
	for _, r := range opts.Routes {
		routes = append(routes, r.String())
	}
	if opts.Cluster.Name != "pn" || opts.Cluster.Port != 16222 || strings.Join(routes, " ") != "nats-route://127.0.0.1:16223 nats-route://127.0.0.1:16224" {
		t.Errorf("cluster %q port %d routes %v", opts.Cluster.Name, opts.Cluster.Port, routes)
	}
}

// startNATS starts a server of cfg on a free port in a temporary directory,
// stopped when the test ends.
func startNATS(t *testing.T, cfg localserver.NATSConfig) *localserver.NATS {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	n, err := localserver.StartNATS(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	stopAtCleanup(t, n)
	return n
}

// requireStreamKept publishes into a file-stored stream, has outage take
// the server down and bring it back, and checks the stream and its
// messages are still there on the same URL.
func requireStreamKept(t *testing.T, n *localserver.NATS, outage func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := n.URL()
	js := testenv.JetStream(t, url)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEPT", Subjects: []string{"kept.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, "kept.x", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	outage()
	if n.URL() != url {
		t.Fatalf("URL after the outage = %q, want %q", n.URL(), url)
	}
	stream, err := testenv.JetStream(t, url).Stream(ctx, "KEPT")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.GetMsg(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg.Data) != "m2" {
		t.Errorf("message 3 = %q, want m2", msg.Data)
	}
}

func TestNATSEmbeddedStopStartKeepsStreams(t *testing.T) {
	t.Parallel()
	n := startNATS(t, localserver.NATSConfig{})
	if n.Pid() != 0 {
		t.Errorf("Pid() = %d for an embedded server, want 0", n.Pid())
	}
	if err := n.Start(context.Background()); err == nil {
		t.Error("Start on a running server succeeded, want an error")
	}
	requireStreamKept(t, n, func() {
		if err := n.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		requireDown(t, n, strings.TrimPrefix(n.URL(), "nats://"))
		if err := n.Stop(context.Background()); err != nil {
			t.Errorf("second Stop = %v, want nil", err)
		}
		if err := n.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	log, err := os.ReadFile(filepath.Join(n.Dir(), "log", "nats-server.log"))
	if err != nil || strings.Count(string(log), "Server is ready") != 2 {
		t.Errorf("log %q (%v), want two starts", log, err)
	}
}

// A fatal error of the embedded server (its port taken) ends the start at
// once with the reason, as the binary's exit would.
func TestNATSEmbeddedStartReportsFatalError(t *testing.T) {
	t.Parallel()
	n, err := localserver.NewNATS(localserver.NATSConfig{Dir: t.TempDir(), Port: takenPort(t)})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	err = n.Start(context.Background())
	if err == nil {
		t.Fatal("Start succeeded with its port taken")
	}
	t.Logf("Start error after %s:\n%v", time.Since(began).Round(time.Millisecond), err)
	for _, want := range []string{"exited during start-up", "Error listening on port", "tail of"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("Start took %s: it waited for its timeout instead of the fatal error", d)
	}
}

// As a child process: its pid is its own, a crash nobody asked for (not
// Kill) is reported by Err, and Start brings it back on its file store.
func TestNATSProcessCrashIsReportedAndStartKeepsStreams(t *testing.T) {
	t.Setenv(natsServerEnv, "1") // inherited by the child: see TestMain
	n := startNATS(t, localserver.NATSConfig{Binary: os.Args[0], StopTimeout: 10 * time.Second})
	if n.Pid() == 0 || n.Pid() == os.Getpid() {
		t.Fatalf("Pid() = %d, want the child's", n.Pid())
	}
	requireStreamKept(t, n, func() {
		if err := syscall.Kill(n.Pid(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-n.Done()
		if err := n.Err(); err == nil || !strings.Contains(err.Error(), "nats-server exited unexpectedly: signal: killed") {
			t.Errorf("Err() = %v, want an unexpected exit", err)
		}
		if err := n.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	if err := n.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	requireDown(t, n, strings.TrimPrefix(n.URL(), "nats://"))
}
