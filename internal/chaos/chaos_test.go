package chaos

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/testenv"
)

// syncEnv names the variable that sets the nats-servers' sync_interval,
// such as "always"; empty keeps nats-server's default (2m).
const syncEnv = "PN_CHAOS_NATS_SYNC"

// outageDuration is how long ClickHouse, then S3, stay down:
// PN_CHAOS_OUTAGE, default 30s.
func outageDuration(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv("PN_CHAOS_OUTAGE")
	if v == "" {
		return 30 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Second {
		t.Fatalf("PN_CHAOS_OUTAGE=%q: want a duration of at least 1s", v)
	}
	return d
}

// TestFaultsLoseNothingDuplicateNothing runs the pipeline as real processes
// under a steady simulated load and breaks it on purpose, in turn: pushes
// whose answers are lost (the platform re-pushes them, the late ones after
// the JetStream duplicate window), the recorder killed in the middle of a
// batch and of a recording upload, ingest restarted with SIGTERM and with
// SIGKILL, nats-server killed, ClickHouse stopped (the recorder stopped
// with SIGTERM and killed during it) and then S3 stopped (the recorder
// killed during it), each for the outage duration. At the end every
// CDR pushed is exactly one fee_records row, every event one call_events
// row, every recorded call one object with the simulator's SHA-256, the
// consumers are drained, PN_DEAD and PN_REJECTED are empty and no log line
// holds a secret.
func TestFaultsLoseNothingDuplicateNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault-injection suite takes minutes; run without -short (make test-chaos)")
	}
	started := time.Now()
	outage := outageDuration(t)
	const callRate = 8
	cfg := setup{
		nodes:     1,
		sync:      os.Getenv(syncEnv),
		dupWindow: 10 * time.Second,
		callRate:  callRate,
		// Enough calls to keep the load on through every fault.
		maxCalls: int(callRate * (2*outage + 50*time.Second).Seconds()),
		// Re-pushes at 0.3 s, 1.2 s, 2.7 s, 31.8 s, 60.9 s and 90 s: the
		// last three come after the 10 s duplicate window.
		timeScale: 0.005,
		archive:   true,
	}
	r := newRig(t, cfg)
	r.startRecorder()
	r.startIngest()
	r.startSimulator()
	r.waitFor("the first rows", time.Minute, func() bool { return r.count("SELECT count() FROM fee_records") > 0 })

	// Answers lost for 4 s: the pushes are stored, and pushed again, the
	// late re-pushes after the duplicate window.
	r.simFault(`{"push":{"loseAnswer":true,"for":"4s"}}`)
	r.faults.add("answers lost", "4 s: re-pushed at 0.3-2.7 s (inside the duplicate window) and 31.8 s (after it)")
	r.killRecorderMidBatch(true)
	r.killRecorderMidUpload(true)
	r.restartIngest(false)
	r.restartIngest(true)
	r.killNATS(r.nodes[0], "the only node", 3*time.Second)
	r.checkAlive()

	const retries = "pn_recorder_insert_retries_total"
	before, err := r.recorderCounter(retries)
	if err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	clickhouse.Stop(t)
	// Batches are being retried: the recorder holds what it cannot store.
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		n, err := r.recorderCounter(retries)
		if err != nil {
			return false, err.Error()
		}
		return n >= before+2, fmt.Sprintf("%s %v, %v before ClickHouse stopped", retries, n, before)
	})
	// SIGTERM: the recorder hands its batches back and exits within its
	// shutdown timeout (PN_RECORDER_SHUTDOWN_TIMEOUT=10s), or Stop kills it
	// and fails.
	stopCtx, cancelStop := context.WithTimeout(context.Background(), 15*time.Second)
	err = r.recorder.Stop(stopCtx)
	cancelStop()
	if err != nil {
		t.Fatal(err)
	}
	r.faults.add("recorder SIGTERM", "during the ClickHouse outage: batches handed back, drained")
	r.restartRecorder(false)
	// The outage's timeline, not waits for a condition: the kill comes
	// halfway through it, ClickHouse returns at its end.
	time.Sleep(time.Until(down.Add(outage / 2)))
	r.killRecorderMidBatch(false) // its batch was being retried
	time.Sleep(time.Until(down.Add(outage)))
	clickhouse.Start(t)
	r.faults.add("ClickHouse stopped", "%s, recorder stopped and killed during it", time.Since(down).Round(time.Second))
	r.waitRecorderReady()

	s3.Stop(t)
	time.Sleep(outage / 2) // the S3 outage's timeline, as above
	r.kill(r.recorder)
	r.restartRecorder(true) // S3 still down: the recorder must keep the rest going
	r.faults.add("recorder SIGKILL", "during the S3 outage")
	time.Sleep(outage / 2) // the rest of the S3 outage
	s3.Start(t)
	r.faults.add("S3 stopped", "%s, recorder killed and restarted during it", outage)
	r.killRecorderMidUpload(true) // the backlog of uploads
	r.checkAlive()

	r.finish(started, 4*time.Minute)
}
