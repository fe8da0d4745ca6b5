package localserver_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The server is reaped by a goroutine per run; every test must stop what it
// starts.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
