package testenv

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/pnstream/pnstream/internal/localserver"
)

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
	*sharedServer                         // Close, Stop, Kill and Start
	ch            *localserver.ClickHouse // nil when unavailable
}

// StartClickHouse starts a ClickHouse server in a new temporary directory on
// free loopback ports. When clickhouse-server is not installed it returns a
// server whose Require skips (or, under ServersRequired, fails) every test
// that needs it, and a nil error. It returns an error when the server is
// installed but does not start.
func StartClickHouse(ctx context.Context) (*ClickHouseServer, error) {
	shared, ch, err := startShared(ctx, clickHouseKind, func(ctx context.Context, dir, bin string) (*localserver.ClickHouse, error) {
		return localserver.StartClickHouse(ctx, localserver.Config{Dir: dir, Binary: bin})
	})
	if err != nil {
		return nil, err
	}
	return &ClickHouseServer{sharedServer: shared, ch: ch}, nil
}

// Require ends t unless the server is usable: it skips or fails (see
// MissingServer) when ClickHouse is not installed, and fails when the server
// exited on its own.
func (s *ClickHouseServer) Require(t testing.TB) {
	t.Helper()
	if s == nil {
		t.Fatal("testenv: no ClickHouse server; call StartClickHouse from TestMain")
	}
	s.require(t)
}

// Addr returns the native protocol address, "127.0.0.1:<port>", or "" when
// the server is unavailable.
func (s *ClickHouseServer) Addr() string {
	if s.ch == nil {
		return ""
	}
	return s.ch.Addr()
}

// NewDatabase creates a database with a unique name (test_<random hex>) and
// drops it when the test ends. It calls Require first.
func (s *ClickHouseServer) NewDatabase(t testing.TB) string {
	t.Helper()
	s.Require(t)
	name := uniqueName("test_")
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
		Addr:        []string{s.ch.Addr()},
		Auth:        clickhouse.Auth{Database: database, Username: "default"},
		DialTimeout: 5 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", s.ch.Addr(), err)
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
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	err = conn.Exec(ctx, query)
	if err != nil {
		err = fmt.Errorf("clickhouse %q: %w", query, err)
	}
	return errors.Join(err, conn.Close())
}

// QueryStrings returns the single String column of query's rows on conn
// (a Warehouse's, or the test's own), in the order the query gives them,
// and ends the test on any error.
func QueryStrings(t testing.TB, conn driver.Conn, query string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
