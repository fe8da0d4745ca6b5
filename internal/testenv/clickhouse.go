package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/pnstream/pnstream/internal/localserver"
)

// chTimeout bounds each administrative call to the server.
const chTimeout = time.Minute

// ClickHouseServer is a ClickHouse server shared by the tests of one package,
// started from TestMain:
//
//	var clickhouse *testenv.ClickHouseServer
//
//	func TestMain(m *testing.M) {
//		var err error
//		clickhouse, err = testenv.StartClickHouse(context.Background())
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		code := m.Run()
//		if err := clickhouse.Close(); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			code = 1
//		}
//		os.Exit(code)
//	}
//
// Each test isolates itself with NewDatabase. Stop, Kill and Start take the
// server away from every test of the package: tests that call them must not
// use t.Parallel, nor run while a parallel test is running.
type ClickHouseServer struct {
	srv *localserver.ClickHouse // nil when unavailable
	dir string
	// unavailable says why there is no server; tests then skip or fail.
	unavailable string
}

// StartClickHouse starts a ClickHouse server in a new temporary directory on
// free loopback ports. When clickhouse-server is not installed it returns a
// server whose Require skips (or, under ServersRequired, fails) every test
// that needs it, and a nil error. It returns an error when the server is
// installed but does not start.
func StartClickHouse(ctx context.Context) (*ClickHouseServer, error) {
	bin, err := localserver.FindBinary()
	if errors.Is(err, localserver.ErrBinaryNotFound) {
		return &ClickHouseServer{unavailable: err.Error()}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("testenv: %w", err)
	}
	dir, err := os.MkdirTemp("", "pnstream-clickhouse-")
	if err != nil {
		return nil, fmt.Errorf("testenv: clickhouse dir: %w", err)
	}
	// FreePort's ports can be taken by someone else before the server binds
	// them (another test package picking the same one); fresh ports fix that.
	var errs []error
	for range startAttempts {
		srv, err := startOnFreePorts(ctx, dir, bin)
		if err == nil {
			return &ClickHouseServer{srv: srv, dir: dir}, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(fmt.Errorf("testenv: %w", errors.Join(errs...)), removeDir(dir))
}

// startAttempts is how many sets of ports StartClickHouse tries.
const startAttempts = 3

func startOnFreePorts(ctx context.Context, dir, bin string) (*localserver.ClickHouse, error) {
	tcpPort, err := localserver.FreePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := localserver.FreePort()
	if err != nil {
		return nil, err
	}
	srv, err := localserver.New(localserver.Config{
		Dir:      dir,
		TCPPort:  tcpPort,
		HTTPPort: httpPort,
		Binary:   bin,
	})
	if err != nil {
		return nil, err
	}
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	return srv, nil
}

// Close stops the server and removes its directory. It is a no-op for an
// unavailable server.
func (s *ClickHouseServer) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), chTimeout)
	defer cancel()
	err := s.srv.Stop(ctx)
	return errors.Join(err, removeDir(s.dir))
}

func removeDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("testenv: remove clickhouse dir: %w", err)
	}
	return nil
}

// Require ends t unless the server is usable: it skips or fails (see
// MissingServer) when ClickHouse is not installed, and fails when the server
// exited on its own.
func (s *ClickHouseServer) Require(t testing.TB) {
	t.Helper()
	if s == nil {
		t.Fatal("testenv: no ClickHouse server; call StartClickHouse from TestMain")
	}
	if s.srv == nil {
		MissingServer(t, "ClickHouse is not available: "+s.unavailable)
	}
	if err := s.srv.Err(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Addr returns the native protocol address, "127.0.0.1:<port>", or "" when
// the server is unavailable.
func (s *ClickHouseServer) Addr() string {
	if s.srv == nil {
		return ""
	}
	return s.srv.Addr()
}

// NewDatabase creates a database with a unique name (test_<random hex>) and
// drops it when the test ends. It calls Require first.
func (s *ClickHouseServer) NewDatabase(t testing.TB) string {
	t.Helper()
	s.Require(t)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testenv: database name: %v", err)
	}
	name := "test_" + hex.EncodeToString(b[:])
	if err := s.exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := s.exec("DROP DATABASE IF EXISTS " + name); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return name
}

// Open returns a native connection to database, closed when the test ends.
// It calls Require first. Connections do not survive Stop or Kill: open a new
// one after Start.
func (s *ClickHouseServer) Open(t testing.TB, database string) driver.Conn {
	t.Helper()
	s.Require(t)
	conn, err := s.open(database)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Errorf("testenv: close clickhouse connection: %v", err)
		}
	})
	return conn
}

func (s *ClickHouseServer) open(database string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{s.srv.Addr()},
		Auth:        clickhouse.Auth{Database: database, Username: "default"},
		DialTimeout: 5 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", s.srv.Addr(), err)
	}
	return conn, nil
}

// exec runs one statement on a connection of its own, so that it works
// whatever happened to the server before.
func (s *ClickHouseServer) exec(query string) error {
	conn, err := s.open("default")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), chTimeout)
	defer cancel()
	err = conn.Exec(ctx, query)
	if err != nil {
		err = fmt.Errorf("clickhouse %q: %w", query, err)
	}
	return errors.Join(err, conn.Close())
}

// Stop stops the server gracefully (an outage) and fails t if it cannot. If
// the test does not Start it again, it is restarted when the test ends, so
// the next test finds it running. Not for parallel tests; call it from the
// test's goroutine.
func (s *ClickHouseServer) Stop(t testing.TB) {
	t.Helper()
	s.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), chTimeout)
	defer cancel()
	s.restartAtCleanup(t)
	if err := s.srv.Stop(ctx); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Kill kills the server with SIGKILL (a crash) and fails t if it cannot.
// Like Stop, it restarts the server when the test ends unless the test did.
func (s *ClickHouseServer) Kill(t testing.TB) {
	t.Helper()
	s.Require(t)
	s.restartAtCleanup(t)
	if err := s.srv.Kill(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Start starts the server again after Stop or Kill, on the same ports and
// data, and fails t if it does not come up.
func (s *ClickHouseServer) Start(t testing.TB) {
	t.Helper()
	if s.srv == nil {
		MissingServer(t, "ClickHouse is not available: "+s.unavailable)
	}
	if err := s.start(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

func (s *ClickHouseServer) start() error {
	ctx, cancel := context.WithTimeout(context.Background(), chTimeout)
	defer cancel()
	return s.srv.Start(ctx)
}

func (s *ClickHouseServer) restartAtCleanup(t testing.TB) {
	t.Cleanup(func() {
		if s.running() {
			return
		}
		if err := s.start(); err != nil {
			t.Errorf("testenv: restart clickhouse after the test: %v", err)
		}
	})
}

func (s *ClickHouseServer) running() bool {
	done := s.srv.Done()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}
