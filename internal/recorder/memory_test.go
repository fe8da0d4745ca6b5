package recorder

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/internal/warehouse"
	"github.com/pnstream/pnstream/internal/warehouse/warehousetest"
)

// memPeaks are the high-water marks of the process while draining.
type memPeaks struct {
	Base    uint64        // heap objects before the recorder started
	Heap    uint64        // heap objects, garbage included: what RSS follows under GOGC=100
	Live    uint64        // live heap at the end of a GC: what GOMEMLIMIT cannot go below
	RSS     uint64        // VmHWM of the recorder's process (inflated under -race)
	Elapsed time.Duration // from start to drained
}

func (m memPeaks) String() string {
	return fmt.Sprintf("peak heap %d MiB (base %d MiB), peak live heap %d MiB, peak RSS %d MiB, %s",
		m.Heap>>20, m.Base>>20, m.Live>>20, m.RSS>>20, m.Elapsed.Round(time.Millisecond))
}

// sampleMemory records the peaks of the heap until stop is called. It
// reads runtime/metrics, which does not stop the world as ReadMemStats
// does, so sampling often does not slow down what is measured.
func sampleMemory() (stop func() memPeaks) {
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	samples := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	rtmetrics.Read(samples)
	peaks := memPeaks{Base: samples[0].Value.Uint64()}
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			rtmetrics.Read(samples)
			peaks.Heap = max(peaks.Heap, samples[0].Value.Uint64())
			peaks.Live = max(peaks.Live, samples[1].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() memPeaks {
		close(done)
		wg.Wait()
		peaks.Elapsed = time.Since(start)
		peaks.RSS = peakRSS()
		return peaks
	}
}

// resetPeakRSS resets the process' VmHWM (Linux; a no-op elsewhere).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is VmHWM in bytes, 0 where /proc is missing.
func peakRSS() uint64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(status) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, _ := strconv.ParseUint(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// drainBacklog fills PN_FEES with n records of about size bytes, then
// measures a recorder with cfg draining them into ClickHouse, and checks
// that every record became a row. The recorder runs in a child process (this
// test binary, running TestRecorderProcess), so that the figures are its
// own, as in its pod, not those of the NATS server embedded here.
func drainBacklog(t testing.TB, cfg Config, n, size int) memPeaks {
	t.Helper()
	ns := testenv.NATS(t)
	js := connectJetStream(t, ns.URL())
	provision(t, js)
	_, db := warehousetest.Open(t, chServer)
	publishFees(t, js, "backlog", n, size)
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRecorderProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", "CHILD_NATS_URL="+ns.URL(),
		"CHILD_CLICKHOUSE_ADDR="+chServer.Addr(), "CHILD_DATABASE="+db, "CHILD_CONFIG="+string(cfgJSON))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("recorder process: %v\n%s%s", err, out, stderr.Bytes())
	}
	var peaks memPeaks
	_, line, ok := bytes.Cut(out, []byte(peaksPrefix))
	if !ok {
		t.Fatalf("recorder process printed no figures:\n%s%s", out, stderr.Bytes())
	}
	line, _, _ = bytes.Cut(line, []byte("\n"))
	if err := json.Unmarshal(line, &peaks); err != nil {
		t.Fatalf("recorder process figures %q: %v", line, err)
	}
	conn := chServer.Open(t, db)
	var rows uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM fee_records FINAL").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != uint64(n) {
		t.Errorf("%d rows, want %d", rows, n)
	}
	return peaks
}

// childEnv marks the process drainBacklog starts: TestMain then starts no
// servers (they are its parent's) and only TestRecorderProcess runs.
const childEnv = "PN_RECORDER_TEST_CHILD"

// peaksPrefix opens the line of figures the child prints.
const peaksPrefix = "RECORDER_PEAKS "

// TestRecorderProcess is the recorder of drainBacklog, in a process of its
// own. It runs only as drainBacklog's child.
func TestRecorderProcess(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("the recorder process of drainBacklog")
	}
	var cfg Config
	if err := json.Unmarshal([]byte(os.Getenv("CHILD_CONFIG")), &cfg); err != nil {
		t.Fatal(err)
	}
	js := connectJetStream(t, os.Getenv("CHILD_NATS_URL"))
	whCfg := warehouse.DefaultConfig()
	whCfg.Addr, whCfg.Database = os.Getenv("CHILD_CLICKHOUSE_ADDR"), os.Getenv("CHILD_DATABASE")
	wh, err := warehouse.Open(context.Background(), whCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	stop := sampleMemory()
	stopRecorder := startRecorder(t, cfg, js, wh, silentLogger(t))
	waitDrained(t, js, streams.Fees, cfg.ConsumerPrefix+"-fees", 10*time.Minute)
	stopRecorder()
	peaks := stop()
	out, err := json.Marshal(peaks)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("\n%s%s\n", peaksPrefix, out)
}

// A backlog of records near the largest ingest accepts (64 KiB) drained
// with the default settings stays far below the recorder's memory limit
// (1 GiB, GOMEMLIMIT 850 MiB), where batches bounded by count alone held
// the whole backlog (peak heap 558 MiB, live 305 MiB for 60 MiB of
// records). The bounds leave room for the other consumer and the mirror.
func TestDrainingLargeRecordsStaysWithinMemory(t *testing.T) {
	const heapBound, liveBound = 256 << 20, 160 << 20
	peaks := drainBacklog(t, DefaultConfig(), 1000, 60<<10)
	t.Logf("1000 records of 60 KiB: %s", peaks)
	if peaks.Heap > heapBound {
		t.Errorf("peak heap %d MiB, want < %d MiB", peaks.Heap>>20, heapBound>>20)
	}
	if peaks.Live > liveBound {
		t.Errorf("peak live heap %d MiB, want < %d MiB", peaks.Live>>20, liveBound>>20)
	}
}

// BenchmarkDrainBacklog reports the memory and time of draining a backlog
// with the default settings: ordinary CDRs and records near the largest
// ingest accepts. One iteration is one whole backlog.
func BenchmarkDrainBacklog(b *testing.B) {
	for _, c := range []struct {
		name    string
		n, size int
	}{{"cdr-1.5KB", 100_000, 1500}, {"record-60KiB", 1000, 60 << 10}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				peaks := drainBacklog(b, DefaultConfig(), c.n, c.size)
				b.Logf("%d records of %d B: %s", c.n, c.size, peaks)
				b.ReportMetric(float64(peaks.Heap>>20), "peak-heap-MiB")
				b.ReportMetric(float64(peaks.Live>>20), "peak-live-MiB")
				b.ReportMetric(float64(peaks.RSS>>20), "peak-rss-MiB")
				b.ReportMetric(float64(c.n)/peaks.Elapsed.Seconds(), "records/s")
			}
		})
	}
}
