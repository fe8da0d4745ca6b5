package nonces_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/nonces"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m, testenv.Servers{}) }

const ttl = time.Hour

// backend opens a Store on a fresh connection to url, as one ingest
// replica would, creating its bucket or stream when missing: window is
// the deduplicated stream's (the bucket takes Claim's ttl), maxBytes 0
// keeps the default size.
type backend struct {
	name string
	open func(t *testing.T, url string, window time.Duration, maxBytes int64) *nonces.Store
}

var backends = []backend{
	// The KV bucket of New: the bench's comparison.
	{"kv", func(t *testing.T, url string, _ time.Duration, maxBytes int64) *nonces.Store {
		js := connect(t, url)
		cfg := bucketConfig()
		if maxBytes > 0 {
			cfg.MaxBytes = maxBytes
		}
		kv, err := js.CreateOrUpdateKeyValue(ctxFor(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return nonces.New(kv)
	}},
	{"dedupe", func(t *testing.T, url string, window time.Duration, maxBytes int64) *nonces.Store {
		js := connect(t, url)
		if maxBytes == 0 {
			maxBytes = 64 << 20
		}
		st, err := js.CreateOrUpdateStream(ctxFor(t), streamConfig(window, maxBytes))
		if err != nil {
			t.Fatal(err)
		}
		return nonces.NewDeduplicated(js, st, streams.ClaimSubject)
	}},
}

// each runs test once per backend, in parallel: each run starts its own
// server.
func each(t *testing.T, test func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b)
		})
	}
}

func connect(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func claim(t *testing.T, s *nonces.Store, appKey, nonce, body string, want error) {
	t.Helper()
	err := s.Claim(ctxFor(t), appKey, nonce, []byte(body), ttl)
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("Claim(%q, %q, %q) = %v, want %v", appKey, nonce, body, err, want)
	}
}

func TestClaim(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		s := b.open(t, testenv.NATS(t).URL(), ttl, 0)
		claim(t, s, "app1", "n1", "body A", nil)
		claim(t, s, "app1", "n1", "body A", nil)              // the platform's re-push
		claim(t, s, "app1", "n1", "body B", nonces.ErrReused) // a forged body
		claim(t, s, "app1", "n1", "", nonces.ErrReused)       // an empty one too
		claim(t, s, "app2", "n1", "body B", nil)              // another app's nonce
		claim(t, s, "app1", "n2", "body B", nil)              // another nonce
		claim(t, s, "app1", "n1", "body A", nil)              // still bound to A
		claim(t, s, "app", "1n1", "body B", nil)              // no ambiguity between the parts
		claim(t, s, "app1", "n1", "body A\x00", nonces.ErrReused)
	})
}

func TestClaimRefusesShortTTL(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		s := b.open(t, testenv.NATS(t).URL(), ttl, 0)
		if err := s.Claim(ctxFor(t), "app", "n", nil, 500*time.Millisecond); err == nil || errors.Is(err, nonces.ErrReused) {
			t.Fatalf("Claim with ttl 500ms = %v, want a ttl error", err)
		}
	})
}

func TestReplicasShareState(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		srv := testenv.NATS(t)
		r1, r2 := b.open(t, srv.URL(), ttl, 0), b.open(t, srv.URL(), ttl, 0)
		claim(t, r1, "app", "n", "original", nil)
		claim(t, r2, "app", "n", "forged", nonces.ErrReused)
		claim(t, r2, "app", "n", "original", nil)
		claim(t, r2, "app", "m", "original", nil)
		claim(t, r1, "app", "m", "forged", nonces.ErrReused)
	})
}

func TestSurvivesServerRestart(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		srv := testenv.NATS(t)
		claim(t, b.open(t, srv.URL(), ttl, 0), "app", "n", "original", nil)
		srv.Restart(t)
		s := b.open(t, srv.URL(), ttl, 0)
		claim(t, s, "app", "n", "forged", nonces.ErrReused)
		claim(t, s, "app", "n", "original", nil)
	})
}

func TestUnreachableIsNotReused(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		srv := testenv.NATS(t)
		s := b.open(t, srv.URL(), ttl, 0)
		claim(t, s, "app", "n", "original", nil)
		srv.Shutdown()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := s.Claim(ctx, "app", "n", []byte("forged"), ttl)
		if err == nil || errors.Is(err, nonces.ErrReused) {
			t.Fatalf("Claim with the server down = %v, want an unreachable error", err)
		}
	})
}

// TestExpiry: after its ttl a nonce may be used again, with any body, and
// not before.
func TestExpiry(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		const short = time.Second
		s := b.open(t, testenv.NATS(t).URL(), short, 0)
		ctx := ctxFor(t)
		start := time.Now()
		if err := s.Claim(ctx, "app", "n", []byte("first"), short); err != nil {
			t.Fatal(err)
		}
		var elapsed time.Duration
		testenv.Eventually(t, 20*time.Second, func() (bool, string) {
			err := s.Claim(ctx, "app", "n", []byte("second"), short)
			elapsed = time.Since(start)
			if err != nil && !errors.Is(err, nonces.ErrReused) {
				t.Fatalf("Claim after %s = %v", elapsed, err)
			}
			return err == nil, fmt.Sprintf("nonce with ttl %s still claimed after %s", short, elapsed)
		})
		if elapsed < short {
			t.Fatalf("nonce with ttl %s claimable again after %s", short, elapsed)
		}
		// The new claim binds the nonce to the new body.
		if err := s.Claim(ctx, "app", "n", []byte("first"), short); !errors.Is(err, nonces.ErrReused) {
			t.Fatalf("Claim of the old body after re-claim = %v, want ErrReused", err)
		}
	})
}

// TestConcurrentClaims: replicas racing for one nonce with different bodies;
// exactly one wins, the others are told it was reused.
func TestConcurrentClaims(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		srv := testenv.NATS(t)
		const replicas, racers, rounds = 3, 12, 20
		stores := make([]*nonces.Store, replicas)
		for i := range stores {
			stores[i] = b.open(t, srv.URL(), ttl, 0)
		}
		ctx := ctxFor(t)
		for round := range rounds {
			nonce := fmt.Sprintf("race-%d", round)
			errs := make([]error, racers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range racers {
				wg.Go(func() {
					<-start
					errs[i] = stores[i%replicas].Claim(ctx, "app", nonce, fmt.Appendf(nil, "body %d", i), ttl)
				})
			}
			close(start)
			wg.Wait()
			won := 0
			for i, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, nonces.ErrReused):
					t.Fatalf("round %d racer %d: %v", round, i, err)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: %d claims won, want exactly 1", round, won)
			}
		}
	})
}

func TestKeyAndDigestAreShort(t *testing.T) {
	t.Parallel()
	legal := regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	seen := map[string]bool{}
	for _, p := range [][2]string{{"ab", "c"}, {"a", "bc"}, {"", "abc"}, {"abc", ""}, {"app", "n"}} {
		k := nonces.Key(p[0], p[1])
		if len(k) != 16 || !legal.MatchString(k) {
			t.Errorf("Key%q = %q: want 16 base64url characters", p, k)
		}
		if seen[k] {
			t.Errorf("Key%q = %q repeats another pair's key", p, k)
		}
		seen[k] = true
	}
	if d := nonces.Digest([]byte("x")); len(d) != nonces.DigestBytes {
		t.Errorf("Digest is %d bytes, want %d", len(d), nonces.DigestBytes)
	}
}

// TestFullStoreRefuses: a full bucket or stream (discard new) refuses new
// nonces with an error the caller answers 503 with, never ErrReused, never
// nil.
func TestFullStoreRefuses(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		s := b.open(t, testenv.NATS(t).URL(), ttl, 4096)
		ctx := ctxFor(t)
		for i := range 1000 {
			err := s.Claim(ctx, "app", fmt.Sprint(i), []byte("body"), ttl)
			if err == nil {
				continue
			}
			if errors.Is(err, nonces.ErrReused) {
				t.Fatalf("claim %d into a full store = %v, want a store error", i, err)
			}
			if i < 10 {
				t.Fatalf("store of 4 KiB full after %d nonces: %v", i, err)
			}
			return
		}
		t.Fatal("1000 nonces fit in a store of 4 KiB")
	})
}

// openEvents opens a Store on PN_EVENTS as ingest does, and the stream.
func openEvents(t *testing.T, url string) (*nonces.Store, jetstream.Stream) {
	js := connect(t, url)
	st, err := js.CreateOrUpdateStream(ctxFor(t), streamConfig(ttl, 64<<20))
	if err != nil {
		t.Fatal(err)
	}
	return nonces.NewDeduplicated(js, st, streams.ClaimSubject), st
}

// TestClaimWith: a single-record push is stored and claims its nonce in
// one message, which carries the nonce's key as its id and the body's
// digest; the same body again (a re-push) stores nothing more and passes;
// another body under the nonce, by ClaimWith or by Claim, stores nothing
// and is refused; a nonce claimed by Claim refuses a record under another
// body. The nonces of both forms are one set.
func TestClaimWith(t *testing.T) {
	t.Parallel()
	s, st := openEvents(t, testenv.NATS(t).URL())
	ctx := ctxFor(t)
	event := func(data string) streams.Message {
		return streams.Message{Subject: streams.EventSubject("callin"), MsgID: "event:identity", Data: []byte(data),
			Header: nats.Header{"Keep": []string{"me"}}}
	}
	msgs := func() uint64 {
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	if err := s.ClaimWith(ctx, "app", "n1", []byte("body A"), event("A")); err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get(jetstream.MsgIDHeader) != nonces.Key("app", "n1") || string(m.Data) != "A" || m.Header.Get("Keep") != "me" ||
		m.Header.Get(streams.HeaderPushDigest) == "" {
		t.Fatalf("stored message: subject %s header %v data %q", m.Subject, m.Header, m.Data)
	}
	if err := s.ClaimWith(ctx, "app", "n1", []byte("body A"), event("A")); err != nil {
		t.Errorf("the re-push: %v", err)
	}
	for _, forged := range []func() error{
		func() error { return s.ClaimWith(ctx, "app", "n1", []byte("body B"), event("B")) },
		func() error { return s.Claim(ctx, "app", "n1", []byte("body B"), ttl) },
	} {
		if err := forged(); !errors.Is(err, nonces.ErrReused) {
			t.Errorf("another body under the nonce: %v, want ErrReused", err)
		}
	}
	claim(t, s, "app", "n2", "body C", nil)
	if err := s.ClaimWith(ctx, "app", "n2", []byte("body D"), event("D")); !errors.Is(err, nonces.ErrReused) {
		t.Errorf("a record under a claimed nonce with another body: %v, want ErrReused", err)
	}
	if n := msgs(); n != 2 {
		t.Errorf("the stream holds %d messages, want the event and one claim", n)
	}
}

// A Store on a bucket cannot store a record with its claim.
func TestClaimWithNeedsTheStream(t *testing.T) {
	t.Parallel()
	s := backends[0].open(t, testenv.NATS(t).URL(), ttl, 0)
	err := s.ClaimWith(ctxFor(t), "app", "n", []byte("b"), streams.Message{Subject: "x"})
	if !errors.Is(err, nonces.ErrClaimWithUnsupported) {
		t.Errorf("ClaimWith on a bucket: %v, want ErrClaimWithUnsupported", err)
	}
}
