package localserver_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// The server is reaped by a goroutine per run; every test must stop what it
// starts.
func TestMain(m *testing.M) {
	if os.Getenv(natsServerEnv) != "" {
		runAsNATSServer()
	}
	goleak.VerifyTestMain(m)
}
