package archive_test

import (
	"github.com/pnstream/pnstream/internal/archive"

	"runtime"
	"sync"
	"testing"
	"time"
)

// A recording far larger than any buffer streams through: the heap grows
// by a bounded amount (copy buffers), not by the file's size.
func TestLargeRecordingStreamsWithBoundedHeap(t *testing.T) {
	r := newRig(t, func(c *archive.Config) { c.Concurrency = 1 })
	// 16,000 bytes of audio a second: 5h13m is about 300 MB.
	fee, sum, size := r.recording("large", 18750*time.Second, true)
	if size < 300_000_000 {
		t.Fatalf("fixture is only %d bytes", size)
	}

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var (
		mu   sync.Mutex
		peak uint64
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				mu.Lock()
				peak = max(peak, ms.HeapInuse)
				mu.Unlock()
			}
		}
	})
	start := time.Now()
	r.enqueue(fee)
	r.mirror()
	r.checkArchived(fee, sum, size)
	took := time.Since(start)
	close(stop)
	wg.Wait()

	growth := int64(peak) - int64(base.HeapInuse)
	t.Logf("%d MB recording archived in %s (%.0f MB/s, incl. reading it back); heap in use %d MiB before, peak %d MiB, growth %d MiB",
		size/1e6, took.Round(time.Millisecond), float64(size)/1e6/took.Seconds(), base.HeapInuse>>20, peak>>20, growth>>20)
	if growth > 64<<20 {
		t.Errorf("heap grew by %d MiB while mirroring %d MB: the recording is being buffered", growth>>20, size>>20)
	}
}
