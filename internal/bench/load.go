package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pnstream/pnstream/internal/aksk"
)

// pushClient posts signed pushes over keep-alive connections.
type pushClient struct {
	client *http.Client
	url    string
	signer *aksk.Signer // nil: unsigned
}

func newPushClient(url string, conns int, signer *aksk.Signer) *pushClient {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, DisableCompression: true, IdleConnTimeout: time.Minute}
	return &pushClient{client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, url: url, signer: signer}
}

func (c *pushClient) close() { c.client.CloseIdleConnections() }

// post sends one push and reports an error unless the answer is 200.
func (c *pushClient) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("push request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	if c.signer != nil {
		c.signer.Sign(req.Header)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // to reuse the connection
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("push answered %s", resp.Status)
	}
	return nil
}

// loadResult is what a load run measured.
type loadResult struct {
	requests int
	records  int
	errors   int
	firstErr error
	elapsed  time.Duration
	latency  *hdrhistogram.Histogram // of the successful requests; nil when there were none
}

func (r *loadResult) recordsPerSec() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.records) / r.elapsed.Seconds()
}

func (r *loadResult) requestsPerSec() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// quantile returns the q-quantile of the latencies, in milliseconds.
func (r *loadResult) quantile(q float64) float64 {
	return quantileMS(r.latency, q)
}

// observe counts a successful request of the given records and latency.
func (r *loadResult) observe(records int, latency time.Duration) {
	if r.latency == nil {
		r.latency = newLatencies()
	}
	recordLatency(r.latency, latency)
	r.requests++
	r.records += records
}

func (r *loadResult) merge(o *loadResult) {
	r.requests += o.requests
	r.records += o.records
	r.errors += o.errors
	if r.firstErr == nil {
		r.firstErr = o.firstErr
	}
	if o.latency != nil {
		if r.latency == nil {
			r.latency = newLatencies()
		}
		r.latency.Merge(o.latency) // the same range: nothing is dropped
	}
}

func (r *loadResult) check() error {
	if r.errors > 0 {
		return fmt.Errorf("%d of %d pushes failed, first: %w", r.errors, r.requests+r.errors, r.firstErr)
	}
	if r.requests == 0 {
		return fmt.Errorf("no push succeeded")
	}
	return nil
}

// body makes the n-th request body of a load run and says how many
// records it carries; it appends to dst.
type body func(dst []byte, n int) ([]byte, int)

// closedLoop runs conns workers that each post pushes back to back for d:
// the most the server takes at that concurrency.
func closedLoop(ctx context.Context, c *pushClient, conns int, d time.Duration, next body) loadResult {
	bufs := make([][]byte, conns)
	return closed(ctx, conns, d, func(w, n int) (int, error) {
		var records int
		bufs[w], records = next(bufs[w][:0], n)
		return records, c.post(ctx, bufs[w])
	})
}

// closed calls do for n = 0, 1, ... back to back on conns workers (w is
// the worker's index) for d, and measures each call's latency. do runs
// to its end even when d is over; it returns the records it sent.
func closed(ctx context.Context, conns int, d time.Duration, do func(w, n int) (int, error)) loadResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	results := make([]loadResult, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conns {
		wg.Go(func() {
			r := &results[w]
			for n := w; ctx.Err() == nil; n += conns {
				t0 := time.Now()
				records, err := do(w, n)
				if err != nil {
					r.errors++
					r.firstErr = err
					continue
				}
				r.observe(records, time.Since(t0))
			}
		})
	}
	wg.Wait()
	return mergeResults(results, time.Since(start))
}

// openLoop posts pushes at a fixed rate for d, whatever the answers take,
// with up to conns in flight.
func openLoop(ctx context.Context, c *pushClient, conns int, perSec float64, d time.Duration, next body) loadResult {
	bufs := make([][]byte, conns)
	return paced(ctx, conns, perSec, d, func(w, n int, _ time.Time) (int, error) {
		var records int
		bufs[w], records = next(bufs[w][:0], n)
		return records, c.post(ctx, bufs[w])
	})
}

// paced calls do for n = 0, 1, ... at perSec calls a second for d, on up
// to conns workers (w is the worker's index; due is when call n was due), and measures each call's
// latency from the moment it was due, so that a server that falls behind
// is not flattered by the load slowing down with it (no coordinated
// omission). do returns the records it sent.
func paced(ctx context.Context, conns int, perSec float64, d time.Duration, do func(w, n int, due time.Time) (int, error)) loadResult {
	type job struct {
		due time.Time
		n   int
	}
	jobs := make(chan job, conns) // the scheduler waits for a free worker beyond this
	results := make([]loadResult, conns)
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
			r := &results[w]
			for j := range jobs {
				records, err := do(w, j.n, j.due)
				if err != nil {
					r.errors++
					r.firstErr = err
					continue
				}
				r.observe(records, time.Since(j.due))
			}
		})
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / perSec)
	for n := range int(d / interval) {
		due := start.Add(time.Duration(n) * interval)
		if wait := time.Until(due); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		jobs <- job{due: due, n: n}
	}
	close(jobs)
	wg.Wait()
	return mergeResults(results, time.Since(start))
}

func mergeResults(results []loadResult, elapsed time.Duration) loadResult {
	var all loadResult
	for i := range results {
		all.merge(&results[i])
	}
	all.elapsed = elapsed
	return all
}
