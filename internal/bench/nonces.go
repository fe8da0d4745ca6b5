package bench

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/procfs"

	"github.com/pnstream/pnstream/internal/localserver"
	"github.com/pnstream/pnstream/internal/nonces"
)

// The nonces stage claims NonceCount nonces into the nonce bucket of a
// nats-server child process of its own (fresh for each variant, so its
// memory is the bucket's), and reports claims/s, disk and server memory per
// million nonces beside the raw limit of the same sizes: kv.Put, which
// neither checks for an existing key nor sets a TTL.

// nonceTTL is PN_PUSH_MAX_AGE's default: every claimed key stays for the
// whole run, as in a full window.
const nonceTTL = 6 * time.Hour

// nonceWorkers is how many claims are in flight: ingest replicas answer
// many pushes at once, each waiting for its claim.
const nonceWorkers = 64

// nonceVariant is one way of storing the nonces.
type nonceVariant struct {
	name string
	// open creates or opens the store on js and returns how to claim the
	// i-th nonce and how to read what the store holds.
	open func(ctx context.Context, js jetstream.JetStream) (claimFunc, statusFunc, error)
}

type (
	claimFunc  func(ctx context.Context, i int) error
	statusFunc func(ctx context.Context) (msgs, bytes uint64, err error)
)

// nonceFigures are one variant's measurements, per nonce or per million.
type nonceFigures struct {
	perSec        float64
	streamBytes   float64 // stream State.Bytes per nonce
	diskBytes     float64 // allocated blocks of the store directory per nonce
	rssMBPerM     float64 // VmRSS growth, MB per million
	hwmMBPerM     float64 // VmHWM growth, MB per million
	restartMBPerM float64 // VmRSS after a restart on the same store, above a fresh server's, MB per million
	restartSPerM  float64 // seconds from start to the store answering after a restart, per million
}

// nonceBucket is the bucket as the store needs it: one entry per key and
// per-key TTLs; delete markers of expired keys kept the minimum second.
func nonceBucket() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{Bucket: "PN_NONCES", History: 1, Storage: jetstream.FileStorage, LimitMarkerTTL: time.Second}
}

// kvVariant stores the nonces in the bucket cfg with the claim of claimer.
func kvVariant(name string, cfg jetstream.KeyValueConfig, claimer func(jetstream.KeyValue) claimFunc) nonceVariant {
	return nonceVariant{name: name, open: func(ctx context.Context, js jetstream.JetStream) (claimFunc, statusFunc, error) {
		kv, err := js.CreateOrUpdateKeyValue(ctx, cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("create bucket: %w", err)
		}
		status := func(ctx context.Context) (uint64, uint64, error) {
			st, err := kv.Status(ctx)
			if err != nil {
				return 0, 0, fmt.Errorf("bucket status: %w", err)
			}
			return st.Values(), st.Bytes(), nil
		}
		return claimer(kv), status, nil
	}}
}

// dedupeVariant is the other scheme the issue names, nonces.NewDeduplicated:
// one subject of a stream deduplicated by Nats-Msg-Id over the whole
// window, so the server indexes ids, not subjects.
func dedupeVariant() nonceVariant {
	return nonceVariant{name: "dedupe", open: func(ctx context.Context, js jetstream.JetStream) (claimFunc, statusFunc, error) {
		st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name: "PN_NONCES_DEDUPE", Subjects: []string{"pn.nonces"}, Storage: jetstream.FileStorage,
			// The message outlives its id, so a duplicate's original can be read.
			Duplicates: nonceTTL, MaxAge: nonceTTL + time.Minute, Discard: jetstream.DiscardNew,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("create stream: %w", err)
		}
		s := nonces.NewDeduplicated(js, st, "pn.nonces")
		status := func(ctx context.Context) (uint64, uint64, error) {
			info, err := st.Info(ctx)
			if err != nil {
				return 0, 0, fmt.Errorf("stream info: %w", err)
			}
			return info.State.Msgs, info.State.Bytes, nil
		}
		return storeClaim(s), status, nil
	}}
}

// storeClaim claims the i-th nonce with s, as ingest does.
func storeClaim(s *nonces.Store) claimFunc {
	return func(ctx context.Context, i int) error {
		return s.Claim(ctx, "bench-app", "nonce-"+strconv.Itoa(i), strconv.AppendInt([]byte("body "), int64(i), 10), nonceTTL)
	}
}

func (b *Bench) runNonces(ctx context.Context, rep *Report) error {
	bin, err := b.natsBinary(ctx)
	if err != nil {
		return err
	}
	n := b.cfg.NonceCount
	// The Store: key 16 chars, value 12 B, per-key TTL.
	store := kvVariant("store", nonceBucket(), func(kv jetstream.KeyValue) claimFunc { return storeClaim(nonces.New(kv)) })
	raw := kvVariant("raw", jetstream.KeyValueConfig{Bucket: "PN_NONCES", History: 1, Storage: jetstream.FileStorage},
		func(kv jetstream.KeyValue) claimFunc {
			return func(ctx context.Context, i int) error {
				key, val := benchNonce(i, nonces.KeyBytes, nonces.DigestBytes)
				_, err := kv.Put(ctx, key, val)
				return err
			}
		})
	// The same operation with larger hashes: the figures follow the sizes.
	wide := kvVariant("wide", nonceBucket(), func(kv jetstream.KeyValue) claimFunc {
		return func(ctx context.Context, i int) error {
			key, val := benchNonce(i, 24, 32)
			_, err := kv.Create(ctx, key, val, jetstream.KeyTTL(nonceTTL))
			return err
		}
	})
	// Expiry by the bucket's max age instead of per-key TTLs: what the
	// server's TTL wheel costs.
	aged := nonceBucket()
	aged.LimitMarkerTTL, aged.TTL = 0, nonceTTL
	bucketAge := kvVariant("bucket-age", aged, func(kv jetstream.KeyValue) claimFunc {
		return func(ctx context.Context, i int) error {
			key, val := benchNonce(i, nonces.KeyBytes, nonces.DigestBytes)
			_, err := kv.Create(ctx, key, val)
			return err
		}
	})
	fig := map[string]nonceFigures{}
	for _, v := range []nonceVariant{raw, store, wide, bucketAge, dedupeVariant()} {
		b.progress("nonces: %d into a fresh nats-server (%s)", n, v.name)
		f, err := b.measureNonces(ctx, bin, v, n)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		fig[v.name] = f
	}
	r, s := fig["raw"], fig["store"]
	const by = "kv.Put of the same key and value sizes, no create check, no TTL"
	rep.add(StageNonces, "claims/s (kv.Create, key 16 ch, value 12 B, TTL 6h)", by, r.perSec, s.perSec, nil)
	rep.add(StageNonces, "stream bytes/nonce", by, r.streamBytes, s.streamBytes, nil)
	rep.add(StageNonces, "disk bytes/nonce (store dir, after shutdown)", by, r.diskBytes, s.diskBytes, nil)
	rep.add(StageNonces, "nats-server RSS MB/million nonces", by, r.rssMBPerM, s.rssMBPerM, nil)
	rep.add(StageNonces, "nats-server peak RSS MB/million nonces", by, r.hwmMBPerM, s.hwmMBPerM, nil)
	rep.add(StageNonces, "nats-server RSS after restart MB/million", by, r.restartMBPerM, s.restartMBPerM, nil)
	rep.add(StageNonces, "restart to first claim, s/million", by, r.restartSPerM, s.restartSPerM, nil)
	for _, alt := range []struct{ name, label string }{
		{"wide", "key 32 ch, value 32 B, TTL 6h"},
		{"bucket-age", "key 16 ch, value 12 B, bucket max age 6h, no per-key TTL"},
		{"dedupe", "nonces.NewDeduplicated (one subject, Nats-Msg-Id window 6h)"},
	} {
		a := fig[alt.name]
		by := "the store (key 16 ch, value 12 B, per-key TTL)"
		rep.add(StageNonces, alt.label+": claims/s", by, s.perSec, a.perSec, nil)
		rep.add(StageNonces, alt.label+": stream bytes/nonce", by, s.streamBytes, a.streamBytes, nil)
		rep.add(StageNonces, alt.label+": disk bytes/nonce", by, s.diskBytes, a.diskBytes, nil)
		rep.add(StageNonces, alt.label+": RSS MB/million", by, s.rssMBPerM, a.rssMBPerM, nil)
		rep.add(StageNonces, alt.label+": RSS after restart MB/million", by, s.restartMBPerM, a.restartMBPerM, nil)
		rep.add(StageNonces, alt.label+": restart to first claim, s/million", by, s.restartSPerM, a.restartSPerM, nil)
	}
	return nil
}

// benchNonce is the i-th nonce of a variant: a key of keyBytes hashed bytes
// (base64url) and a value of valBytes.
func benchNonce(i, keyBytes, valBytes int) (string, []byte) {
	k := sha256.Sum256(strconv.AppendInt([]byte("key"), int64(i), 10))
	v := sha256.Sum256(strconv.AppendInt([]byte("val"), int64(i), 10))
	return base64.RawURLEncoding.EncodeToString(k[:keyBytes]), v[:valBytes]
}

// measureNonces claims n nonces of v into a fresh server, then restarts it
// on the same store.
func (b *Bench) measureNonces(ctx context.Context, bin string, v nonceVariant, n int) (nonceFigures, error) {
	var f nonceFigures
	dir := filepath.Join(b.dir, "nonces-"+v.name)
	srv, err := startNonceServer(ctx, dir, bin)
	if err != nil {
		return f, err
	}
	defer func() { _ = srv.stop() }() // a no-op once stopped below
	claim, status, err := v.open(ctx, srv.js)
	if err != nil {
		return f, err
	}
	base, err := procStatus(srv.pid)
	if err != nil {
		return f, err
	}
	start := time.Now()
	if err := claimAll(ctx, n, claim); err != nil {
		return f, err
	}
	elapsed := time.Since(start)
	after, err := procStatus(srv.pid)
	if err != nil {
		return f, err
	}
	msgs, size, err := status(ctx)
	if err != nil {
		return f, err
	}
	if msgs != uint64(n) {
		return f, fmt.Errorf("store holds %d nonces, want %d", msgs, n)
	}
	millions := float64(n) / 1e6
	f.perSec = float64(n) / elapsed.Seconds()
	f.streamBytes = float64(size) / float64(n)
	f.rssMBPerM = float64(after.rss-base.rss) / 1e6 / millions
	f.hwmMBPerM = float64(after.hwm-base.hwm) / 1e6 / millions
	if err := srv.stop(); err != nil {
		return f, err
	}
	disk, err := allocatedBytes(filepath.Join(dir, "jetstream"))
	if err != nil {
		return f, err
	}
	f.diskBytes = float64(disk) / float64(n)

	// The memory a server needs to hold a full window again after a restart.
	start = time.Now()
	srv, err = startNonceServer(ctx, dir, bin)
	if err != nil {
		return f, err
	}
	defer func() { _ = srv.stop() }()
	if claim, status, err = v.open(ctx, srv.js); err != nil {
		return f, err
	}
	if msgs, _, err = status(ctx); err != nil || msgs != uint64(n) {
		return f, fmt.Errorf("after restart: %d nonces (want %d), %v", msgs, n, err)
	}
	// The first claim waits for whatever index the server rebuilds.
	if err := claim(ctx, n); err != nil {
		return f, fmt.Errorf("claim after restart: %w", err)
	}
	f.restartSPerM = time.Since(start).Seconds() / millions
	restarted, err := procStatus(srv.pid)
	if err != nil {
		return f, err
	}
	f.restartMBPerM = float64(restarted.rss-base.rss) / 1e6 / millions
	return f, srv.stop()
}

// claimAll runs claim for 0..n-1 on nonceWorkers goroutines; every claim
// must succeed.
func claimAll(ctx context.Context, n int, claim claimFunc) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range nonceWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := claim(cctx, i)
				cancel()
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("claim %d: %w", i, err) })
					next.Store(int64(n)) // stop the others
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// nonceServer is a nats-server child process and a connection to it.
type nonceServer struct {
	pid  int
	nc   *nats.Conn
	js   jetstream.JetStream
	stop func() error
}

func startNonceServer(ctx context.Context, dir, bin string) (*nonceServer, error) {
	srv, err := localserver.StartNATS(ctx, localserver.NATSConfig{Dir: dir, Name: "pnbench-nonces", Binary: bin})
	if err != nil {
		return nil, err
	}
	s := &nonceServer{pid: srv.Pid()}
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			if s.nc != nil {
				s.nc.Close()
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			stopErr = srv.Stop(ctx)
		})
		return stopErr
	}
	if s.nc, err = nats.Connect(srv.URL()); err != nil {
		return nil, errors.Join(fmt.Errorf("connect %s: %w", srv.URL(), err), s.stop())
	}
	if s.js, err = jetstream.New(s.nc); err != nil {
		return nil, errors.Join(err, s.stop())
	}
	return s, nil
}

// natsBinary returns the nats-server binary to run: -nats-server, else
// bin/nats-server, else one built from the pinned module into the run's
// directory.
func (b *Bench) natsBinary(ctx context.Context) (string, error) {
	if b.cfg.NATSServer != "" {
		return b.cfg.NATSServer, nil
	}
	if _, err := os.Stat("bin/nats-server"); err == nil {
		return "bin/nats-server", nil
	}
	bin := filepath.Join(b.dir, "nats-server")
	b.progress("nonces: building %s (the stage measures a nats-server process of its own)", bin)
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/nats-io/nats-server/v2").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build nats-server: %w: %s", err, out)
	}
	return bin, nil
}

// memStatus is a process's resident memory, in bytes.
type memStatus struct{ rss, hwm int64 }

// procStatus reads VmRSS and VmHWM of pid.
func procStatus(pid int) (memStatus, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return memStatus{}, fmt.Errorf("server memory: %w", err)
	}
	st, err := p.NewStatus()
	if err != nil {
		return memStatus{}, fmt.Errorf("server memory: %w", err)
	}
	if st.VmRSS == 0 || st.VmHWM == 0 {
		return memStatus{}, fmt.Errorf("server memory: no VmRSS/VmHWM for pid %d", pid)
	}
	return memStatus{rss: int64(st.VmRSS), hwm: int64(st.VmHWM)}, nil
}

// allocatedBytes is the disk space the files under dir take.
func allocatedBytes(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		} else {
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store size: %w", err)
	}
	return total, nil
}
