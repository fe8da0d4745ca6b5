package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/localserver"
)

// adminTimeout bounds each start, stop and administrative call.
const adminTimeout = time.Minute

// localServer is the part of a localserver server that tests drive.
type localServer interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Kill() error
	Done() <-chan struct{}
	Err() error
}

// sharedServer is a localserver server in a temporary directory, shared by
// the tests of a package: what ClickHouseServer and S3Server have in common.
// Stop, Kill and Start take the server away from every test of the package:
// tests that call them must not use t.Parallel, nor run while a parallel
// test is running.
type sharedServer struct {
	name string      // "ClickHouse", "S3": for messages
	srv  localServer // nil when unavailable
	dir  string
	// unavailable says why there is no server; tests then skip or fail.
	unavailable string
}

// kind is one kind of server: how to tell whether it is installed.
type kind struct {
	name       string // "ClickHouse", "S3": for messages and directory names
	findBinary func() (string, error)
	notFound   error // what findBinary returns when it is not installed
}

var (
	clickHouseKind = kind{"ClickHouse", localserver.FindBinary, localserver.ErrBinaryNotFound}
	s3Kind         = kind{"S3", localserver.FindS3Binary, localserver.ErrS3BinaryNotFound}
)

// startShared starts a server of kind k in a new temporary directory with
// launch (localserver's Start functions, which pick free ports). When k is
// not installed, it returns an unavailable server and a nil error.
func startShared[S localServer](ctx context.Context, k kind, launch func(ctx context.Context, dir, bin string) (S, error)) (*sharedServer, S, error) {
	var none S
	name := k.name
	bin, err := k.findBinary()
	if errors.Is(err, k.notFound) {
		return &sharedServer{name: name, unavailable: err.Error()}, none, nil
	}
	if err != nil {
		return nil, none, fmt.Errorf("testenv: %w", err)
	}
	dir, err := os.MkdirTemp("", "pnstream-"+strings.ToLower(name)+"-")
	if err != nil {
		return nil, none, fmt.Errorf("testenv: %s dir: %w", name, err)
	}
	srv, err := launch(ctx, dir, bin)
	if err != nil {
		return nil, none, errors.Join(fmt.Errorf("testenv: %w", err), removeDir(name, dir))
	}
	return &sharedServer{name: name, srv: srv, dir: dir}, srv, nil
}

// Close stops the server and removes its directory. It is a no-op for an
// unavailable server.
func (s *sharedServer) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	err := s.srv.Stop(ctx)
	return errors.Join(err, removeDir(s.name, s.dir))
}

func removeDir(name, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("testenv: remove %s dir: %w", name, err)
	}
	return nil
}

// require ends t unless the server is usable: it skips or fails (see
// MissingServer) when the server is not installed, and fails when it exited
// on its own.
func (s *sharedServer) require(t testing.TB) {
	t.Helper()
	if s.srv == nil {
		MissingServer(t, s.name+" is not available: "+s.unavailable)
	}
	if err := s.srv.Err(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Stop stops the server gracefully (an outage) and fails t if it cannot. If
// the test does not Start it again, it is restarted when the test ends, so
// the next test finds it running. Not for parallel tests; call it from the
// test's goroutine.
func (s *sharedServer) Stop(t testing.TB) {
	t.Helper()
	s.require(t)
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	s.restartAtCleanup(t)
	if err := s.srv.Stop(ctx); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Kill kills the server with SIGKILL (a crash) and fails t if it cannot.
// Like Stop, it restarts the server when the test ends unless the test did.
func (s *sharedServer) Kill(t testing.TB) {
	t.Helper()
	s.require(t)
	s.restartAtCleanup(t)
	if err := s.srv.Kill(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Start starts the server again after Stop or Kill, on the same ports and
// data, and fails t if it does not come up.
func (s *sharedServer) Start(t testing.TB) {
	t.Helper()
	if s.srv == nil {
		MissingServer(t, s.name+" is not available: "+s.unavailable)
	}
	if err := s.start(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

func (s *sharedServer) start() error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	return s.srv.Start(ctx)
}

func (s *sharedServer) restartAtCleanup(t testing.TB) {
	t.Cleanup(func() {
		if s.running() {
			return
		}
		if err := s.start(); err != nil {
			t.Errorf("testenv: restart %s after the test: %v", s.name, err)
		}
	})
}

func (s *sharedServer) running() bool {
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

// uniqueName returns prefix followed by 16 random hex digits.
func uniqueName(prefix string) string {
	var b [8]byte
	rand.Read(b[:]) // never fails since Go 1.24
	return prefix + hex.EncodeToString(b[:])
}
