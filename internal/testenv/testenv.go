// Package testenv gives tests the real servers pnstream depends on, started
// through internal/localserver: an embedded NATS JetStream server per test,
// and a ClickHouse server and an S3 gateway (versitygw) each shared by the
// tests of a package, with a database or bucket of its own per test. It
// also holds the waiting helpers tests share: Eventually, for a condition
// to hold, and Go, for work in the background that must not fail silently.
// It is for tests only.
//
// A server that cannot run here (no clickhouse-server or versitygw
// installed) makes the tests that need it skip, with a message saying how to
// install it, except when CI=true or PN_REQUIRE_SERVERS=1: then they fail,
// because a test that skips in CI hides a broken pipeline. `make test` sets
// PN_REQUIRE_SERVERS=1 after `make deps` installed everything.
package testenv

import (
	"os"
	"strconv"
	"testing"
)

// ServersRequired reports whether a missing server is a test failure rather
// than a reason to skip: when CI or PN_REQUIRE_SERVERS is set to a true value
// ("1", "true", ...).
func ServersRequired() bool {
	return envTrue("CI") || envTrue("PN_REQUIRE_SERVERS")
}

func envTrue(name string) bool {
	v, err := strconv.ParseBool(os.Getenv(name))
	return err == nil && v
}

// MissingServer ends the test because a server it needs is not available:
// it fails when ServersRequired, and skips otherwise.
func MissingServer(t testing.TB, reason string) {
	t.Helper()
	if ServersRequired() {
		t.Fatalf("%s; CI or PN_REQUIRE_SERVERS is set, so this fails instead of skipping (run `make deps`)", reason)
	}
	t.Skipf("%s; skipping (run `make deps` to install it, or `make test`)", reason)
}
