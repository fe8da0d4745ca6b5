package daemon

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pnstream/pnstream/internal/testenv"
)

// serving runs Serve on a loopback listener with handler until the test
// stops the returned Background.
func serving(t *testing.T, handler http.Handler, timeout time.Duration) (base string, serve *testenv.Background) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: time.Second}
	serve = testenv.Go(t, func(ctx context.Context) error { return Serve(ctx, srv, ln, timeout) })
	return "http://" + ln.Addr().String(), serve
}

// A request in flight when ctx ends is answered; new connections are
// refused from then on; Serve returns nil once the request is done.
func TestServeLetsInFlightRequestsFinish(t *testing.T) {
	defer goleak.VerifyNone(t)
	entered, release := make(chan struct{}), make(chan struct{})
	base, serve := serving(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "done")
	}), 10*time.Second)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	answered := make(chan string, 1)
	go func() {
		resp, err := client.Get(base)
		if err != nil {
			answered <- err.Error()
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		answered <- string(body)
	}()
	<-entered
	serve.Cancel()
	// The listener closes at once: a new request is refused while the
	// first one still runs.
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		resp, err := client.Get(base)
		if err != nil {
			return true, ""
		}
		resp.Body.Close()
		return false, "still accepting connections after ctx ended"
	})
	close(release)
	if got := <-answered; got != "done" {
		t.Errorf("request in flight at shutdown got %q, want its answer", got)
	}
	if err := serve.StopWithin(t, 5*time.Second); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

// A request that outlasts the shutdown timeout is cut short, and Serve
// says so within about the timeout.
func TestServeCutsRequestsAtTheDeadline(t *testing.T) {
	defer goleak.VerifyNone(t)
	entered := make(chan struct{})
	base, serve := serving(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done() // until the connection is closed
	}), 200*time.Millisecond)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	failed := make(chan error, 1)
	go func() {
		resp, err := client.Get(base)
		if err == nil {
			resp.Body.Close()
		}
		failed <- err
	}()
	<-entered
	t0 := time.Now()
	err := serve.StopWithin(t, 5*time.Second)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Serve = %v, want a deadline error", err)
	}
	if took := time.Since(t0); took > 2*time.Second {
		t.Errorf("shutdown took %s with a 200ms timeout", took)
	}
	if err := <-failed; err == nil {
		t.Error("the request outlasting the deadline was answered")
	}
}

func TestServeReportsServeFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // Serve fails at once
	srv := &http.Server{ReadHeaderTimeout: time.Second}
	if err := Serve(context.Background(), srv, ln, time.Second); err == nil || errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve on a closed listener = %v, want its error", err)
	}
}

func TestAfterDone(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	wait := AfterDone(ctx, func() { close(ran) })
	cancel()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("f did not run once ctx was done")
	}
	wait()

	var called bool
	wait = AfterDone(context.Background(), func() { called = true })
	wait() // cancels f: ctx never ends
	if called {
		t.Error("f ran though ctx never ended")
	}
}
