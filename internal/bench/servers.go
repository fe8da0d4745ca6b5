package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/pnstream/pnstream/internal/localserver"
)

// servers are the real servers a run measures against, all on loopback.
type servers struct {
	natsURL    string
	clickhouse *localserver.ClickHouse
	s3         *localserver.S3
	s3Access   string
	s3Secret   string

	stopNATS func() error
}

// startServers starts NATS (the nats-server binary as a child process when
// natsBin is set, else embedded), ClickHouse and the S3 gateway in
// subdirectories of dir. need says which of ClickHouse and S3 the chosen
// stages use. The returned servers are stopped by close, also on error.
func startServers(ctx context.Context, dir, natsBin string, needCH, needS3 bool) (*servers, error) {
	s := &servers{}
	var err error
	if natsBin != "" {
		s.natsURL, s.stopNATS, err = startNATSProcess(ctx, filepath.Join(dir, "nats"), natsBin)
	} else {
		s.natsURL, s.stopNATS, err = startNATSEmbedded(filepath.Join(dir, "nats"))
	}
	if err != nil {
		return s, err
	}
	if needCH {
		if s.clickhouse, err = startClickHouse(ctx, filepath.Join(dir, "clickhouse")); err != nil {
			return s, err
		}
	}
	if needS3 {
		s.s3Access, s.s3Secret = "bench-"+rand.Text()[:12], rand.Text()
		if s.s3, err = startS3(ctx, filepath.Join(dir, "s3"), s.s3Access, s.s3Secret); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (s *servers) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	if s.s3 != nil {
		errs = append(errs, s.s3.Stop(ctx))
	}
	if s.clickhouse != nil {
		errs = append(errs, s.clickhouse.Stop(ctx))
	}
	if s.stopNATS != nil {
		errs = append(errs, s.stopNATS())
	}
	return errors.Join(errs...)
}

func startClickHouse(ctx context.Context, dir string) (*localserver.ClickHouse, error) {
	tcp, err := localserver.FreePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := localserver.FreePort()
	if err != nil {
		return nil, err
	}
	ch, err := localserver.New(localserver.Config{Dir: dir, TCPPort: tcp, HTTPPort: httpPort})
	if err != nil {
		return nil, err
	}
	if err := ch.Start(ctx); err != nil {
		return nil, err
	}
	return ch, nil
}

func startS3(ctx context.Context, dir, access, secret string) (*localserver.S3, error) {
	port, err := localserver.FreePort()
	if err != nil {
		return nil, err
	}
	gw, err := localserver.NewS3(localserver.S3Config{Dir: dir, Port: port, AccessKey: access, SecretKey: secret})
	if err != nil {
		return nil, err
	}
	if err := gw.Start(ctx); err != nil {
		return nil, err
	}
	return gw, nil
}

// natsStoreMax is JetStream's file store cap, an accounting figure: a run
// writes a few GB at most, but the streams' default byte limits reserve
// 37 GiB, which must fit whatever the free disk.
const natsStoreMax = 1 << 40

// startNATSEmbedded runs nats-server in this process.
func startNATSEmbedded(dir string) (string, func() error, error) {
	port, err := localserver.FreePort()
	if err != nil {
		return "", nil, err
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "pnbench", Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: dir, JetStreamMaxMemory: 1 << 30, JetStreamMaxStore: natsStoreMax,
	})
	if err != nil {
		return "", nil, fmt.Errorf("nats server: %w", err)
	}
	srv.Start()
	stop := func() error { srv.Shutdown(); srv.WaitForShutdown(); return nil }
	if !srv.ReadyForConnections(10 * time.Second) {
		return "", nil, errors.Join(errors.New("nats server not ready after 10s"), stop())
	}
	return srv.ClientURL(), stop, nil
}

// startNATSProcess runs the nats-server binary bin as a child process, so
// that the server has a Go runtime and a garbage collector of its own, as
// in production.
func startNATSProcess(ctx context.Context, dir, bin string) (string, func() error, error) {
	port, err := localserver.FreePort()
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", nil, fmt.Errorf("nats dir: %w", err)
	}
	out, err := os.Create(filepath.Join(dir, "nats-server.log"))
	if err != nil {
		return "", nil, fmt.Errorf("nats log: %w", err)
	}
	defer out.Close() // the child has its own descriptor
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", dir, "-n", "pnbench")
	cmd.Stdout, cmd.Stderr = out, out
	// The kernel kills the server if this process dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start %s: %w", bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM) // it may have exited already
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		return nil
	}
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		nc, err := nats.Connect(url, nats.Timeout(time.Second))
		if err == nil {
			nc.Close()
			return url, stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return "", nil, errors.Join(fmt.Errorf("nats-server on %s not ready: %w", url, err), stop())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
