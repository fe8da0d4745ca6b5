package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/localserver"
	"github.com/pnstream/pnstream/internal/platformsim"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/warehouse"
)

const simDomain = "ostor.pnsim.local"

// wavBytesPerSecond is the simulator's audio rate (8 kHz, 16-bit mono),
// and wavHeader the size of its WAV header.
const (
	wavBytesPerSecond = 8000 * 2
	wavHeader         = 44
)

// durationFor is the recording length whose WAV is at most size bytes.
func durationFor(size int64) time.Duration {
	return time.Duration((size-wavHeader)/wavBytesPerSecond) * time.Second
}

// mirrorRig is the recording archive against the simulator (record-URL
// API and downloads), versitygw and ClickHouse, as cmd/recorder wires it.
type mirrorRig struct {
	b       *Bench
	sim     *platformsim.Simulator
	stopSim func()
	cfg     archive.Config
	client  *axeapi.Client
	s3      *minio.Client
	wh      *warehouse.Warehouse
	db      string
	dir     string
}

// newMirrorRig starts the simulator and opens database db for the
// mirror's rows.
func (b *Bench) newMirrorRig(ctx context.Context, db string) (*mirrorRig, error) {
	r := &mirrorRig{b: b, db: db, dir: filepath.Join(b.dir, "mirror")}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	simURL := "http://" + ln.Addr().String()
	scfg := platformsim.DefaultConfig()
	scfg.Addr, scfg.PublicURL = ln.Addr().String(), simURL
	scfg.AppKey, scfg.AppSecret = benchAppKey, benchAppSecret
	scfg.CallRate, scfg.Bindings = 0, 0
	scfg.RecordDomain = simDomain
	if r.sim, err = platformsim.New(scfg, platformsim.Deps{}); err != nil {
		_ = ln.Close()
		return nil, err
	}
	srv := &http.Server{Handler: r.sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // ErrServerClosed once stopped
	}()
	r.stopSim = func() { _ = srv.Close(); <-done }

	pcfg := axeapi.DefaultClientConfig()
	pcfg.BaseURL, pcfg.AppKey, pcfg.AppSecret = simURL, benchAppKey, benchAppSecret
	if r.client, err = axeapi.NewClient(pcfg); err != nil {
		r.close()
		return nil, err
	}
	if r.wh, err = b.openWarehouse(ctx, r.db); err != nil {
		r.close()
		return nil, err
	}
	r.cfg = archive.DefaultConfig()
	r.cfg.Endpoint, r.cfg.Bucket = b.srv.s3.Endpoint(), "pn-recordings-bench"
	r.cfg.AccessKey, r.cfg.SecretKey, r.cfg.Insecure = b.srv.s3Access, b.srv.s3Secret, true
	r.cfg.Hosts, r.cfg.AllowPrivate = "127.0.0.1", true
	r.cfg.SpoolDir = filepath.Join(r.dir, "spool")
	r.cfg.Concurrency = b.cfg.MirrorConcurrency
	if err := errors.Join(os.MkdirAll(r.cfg.SpoolDir, 0o750), r.cfg.Validate()); err != nil {
		r.close()
		return nil, fmt.Errorf("archive config: %w", err)
	}
	if r.s3, err = minio.New(r.cfg.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(r.cfg.AccessKey, r.cfg.SecretKey, ""), Region: localserver.S3Region,
	}); err != nil {
		r.close()
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	bucket, err := archive.NewBucket(r.cfg)
	if err == nil {
		err = bucket.Ensure(ctx)
	}
	if err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *mirrorRig) close() {
	if r.wh != nil {
		_ = r.wh.Close()
	}
	r.stopSim()
}

// recordings adds n recordings of the given size to the simulator and
// returns their fee records, as the platform would push them.
func (r *mirrorRig) recordings(n int, size int64) []privatenumber.FeeRecord {
	now := time.Now().UTC().Truncate(time.Second)
	d := durationFor(size)
	fees := make([]privatenumber.FeeRecord, n)
	for i := range fees {
		var id [40]byte
		icid := string(r.b.corpus.nextID(id[:0]))
		rec := platformsim.Recording{ICID: icid, Domain: simDomain, ObjectName: icid + ".wav", Start: now.Add(-d), Duration: d}
		r.sim.Recordings().Add(rec, now)
		fees[i] = privatenumber.FeeRecord{ICID: icid, SessionID: "s-" + icid, SubscriptionID: "bench-sub", RecordFlag: 1,
			RecordDomain: simDomain, RecordObjectName: rec.ObjectName,
			CallInTime: privatenumber.Time{Time: now.Add(-d - 10*time.Second)}, CallEndTime: privatenumber.Time{Time: now}}
	}
	return fees
}

// download fetches the audio of fees from the simulator into files in dir,
// the bytes the raw upload sends.
func (r *mirrorRig) download(ctx context.Context, fees []privatenumber.FeeRecord, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("raw dir: %w", err)
	}
	paths := make([]string, len(fees))
	for i := range fees {
		u, err := r.client.RecordingURL(ctx, simDomain, fees[i].RecordObjectName)
		if err != nil {
			return nil, err
		}
		paths[i] = filepath.Join(dir, fees[i].ICID+".wav")
		if err := fetchTo(ctx, u.String(), paths[i]); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

func fetchTo(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("download request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("raw file: %w", err)
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download to %s: %w", path, err)
	}
	return nil
}

// rawPut uploads the files with minio-go's PutObject and its default
// options, workers at a time, and returns the bytes sent.
func (r *mirrorRig) rawPut(ctx context.Context, paths []string, workers int) (int64, error) {
	var (
		mu    sync.Mutex
		total int64
		errs  []error
		wg    sync.WaitGroup
		next  = make(chan string)
	)
	for range workers {
		wg.Go(func() {
			for p := range next {
				n, err := r.putFile(ctx, p)
				mu.Lock()
				total += n
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
	for _, p := range paths {
		next <- p
	}
	close(next)
	wg.Wait()
	return total, errors.Join(errs...)
}

func (r *mirrorRig) putFile(ctx context.Context, path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("raw file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("raw file: %w", err)
	}
	key := "raw/" + filepath.Base(path)
	if _, err := r.s3.PutObject(ctx, r.cfg.Bucket, key, f, st.Size(), minio.PutObjectOptions{ContentType: "audio/wav"}); err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	return st.Size(), nil
}

// mirror archives fees with pnstream's mirror and returns when the last
// pn.recordings row was visible.
func (r *mirrorRig) mirror(ctx context.Context, fees []privatenumber.FeeRecord) (time.Time, time.Time, error) {
	conn, err := r.b.openClickHouse()
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	defer conn.Close()
	table := r.db + ".recordings FINAL WHERE status = '" + recording.Archived + "'"
	base, err := countRows(ctx, conn, table)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	nc, js, err := r.b.connect("pnbench-mirror")
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	defer nc.Close()
	if err := purge(ctx, js, streams.Recordings); err != nil {
		return time.Time{}, time.Time{}, err
	}
	start := time.Now()
	stop, err := r.start(ctx, js)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	err = archive.NewEnqueuer(streams.NewJetStreamPublisher(nc, js)).Enqueue(ctx, fees)
	var end time.Time
	if err == nil {
		end, err = waitEmpty(ctx, js, streams.Recordings, 30*time.Minute)
	}
	if serr := stop(); err == nil {
		err = serr
	}
	if err == nil {
		err = checkRows(ctx, conn, table, base+uint64(len(fees)))
	}
	return start, end, err
}

// start runs archive.Mirror, wired as cmd/recorder wires it, until the
// returned stop is called.
func (r *mirrorRig) start(ctx context.Context, js jetstream.JetStream) (stop func() error, err error) {
	bucket, err := archive.NewBucket(r.cfg)
	if err != nil {
		return nil, err
	}
	m := archive.NewMirror(r.cfg, archive.Deps{
		JetStream: js, Resolver: r.client, Bucket: bucket, Rows: r.wh,
		Logger: productionLogger(), Registry: prometheus.NewRegistry(),
	})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	return func() error { cancel(); return <-done }, nil
}

// removeObjects empties the bucket, so repetitions do not fill the disk.
func (r *mirrorRig) removeObjects(ctx context.Context) error {
	objs := r.s3.ListObjects(ctx, r.cfg.Bucket, minio.ListObjectsOptions{Recursive: true})
	for e := range r.s3.RemoveObjects(ctx, r.cfg.Bucket, objs, minio.RemoveObjectsOptions{}) {
		return fmt.Errorf("remove %s: %w", e.ObjectName, e.Err)
	}
	return nil
}

// runMirror measures the mirror on one large and many small recordings
// against PutObject of the same bytes, with peak RSS.
func (b *Bench) runMirror(ctx context.Context, rep *Report) error {
	r, err := b.newMirrorRig(ctx, "bench_mirror")
	if err != nil {
		return err
	}
	defer r.close()
	cases := []struct {
		stage string
		n     int
		size  int64
	}{
		{fmt.Sprintf("mirror (1 × %s)", bytesLabel(b.cfg.LargeBytes)), 1, b.cfg.LargeBytes},
		{fmt.Sprintf("mirror (%d × %s)", b.cfg.SmallCount, bytesLabel(b.cfg.SmallBytes)), b.cfg.SmallCount, b.cfg.SmallBytes},
	}
	for _, c := range cases {
		if err := b.mirrorCase(ctx, rep, r, c.stage, c.n, c.size); err != nil {
			return fmt.Errorf("%s: %w", c.stage, err)
		}
	}
	return nil
}

func (b *Bench) mirrorCase(ctx context.Context, rep *Report, r *mirrorRig, stage string, n int, size int64) error {
	workers := r.cfg.Concurrency
	rawFees := r.recordings(n, size)
	rawDir := filepath.Join(r.dir, "raw")
	defer os.RemoveAll(rawDir)
	paths, err := r.download(ctx, rawFees, rawDir)
	if err != nil {
		return err
	}
	name := "mirror-large"
	if n > 1 {
		name = "mirror-small"
	}
	resetPeakRSS()
	m := b.measure(name + "-raw")
	t0 := time.Now()
	sent, err := r.rawPut(ctx, paths, workers)
	rawTook := time.Since(t0)
	rawCPU := m.done(n)
	rawPeak := peakRSS()
	if err != nil {
		return err
	}
	if err := errors.Join(os.RemoveAll(rawDir), r.removeObjects(ctx)); err != nil {
		return err
	}

	fees := r.recordings(n, size)
	resetPeakRSS()
	m = b.measure(name + "-pnstream")
	start, end, err := r.mirror(ctx, fees)
	pnCPU := m.done(n)
	pnPeak := peakRSS()
	if err != nil {
		return err
	}
	if err := r.removeObjects(ctx); err != nil {
		return err
	}
	rawMBs := float64(sent) / 1e6 / rawTook.Seconds()
	pnMBs := float64(sent) / 1e6 / end.Sub(start).Seconds()
	// Issue 14: a large recording at 0.9 x PutObject, small ones at 0.8.
	speed, rss := &Target{Kind: "ratio", Value: 0.8}, (*Target)(nil)
	if n == 1 {
		speed, rss = &Target{Kind: "ratio", Value: 0.9}, &Target{Kind: "max", Value: 64}
	}
	rep.add(stage, "MB/s", fmt.Sprintf("minio-go PutObject from disk, default options, %d at a time", workers),
		rawMBs, pnMBs, speed)
	rep.add(stage, "peak RSS MiB (whole bench process)", "the same during the raw upload", rawPeak, pnPeak, rss)
	rep.addCPU(stage, "recording", rawCPU, pnCPU, "pnbench", "versitygw", "clickhouse-server", "nats-server")
	return nil
}

func bytesLabel(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.3g GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.3g MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.3g KB", float64(n)/1e3)
}

// resetPeakRSS returns free memory to the OS and resets the process'
// high-water mark of resident memory, so that peakRSS reports the peak of
// what follows (Linux; elsewhere peakRSS keeps the process' lifetime peak).
func resetPeakRSS() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // best effort: see above
}

// peakRSS returns VmHWM, the peak resident set since resetPeakRSS, in MiB,
// or 0 when /proc cannot tell.
func peakRSS() float64 {
	p, err := procfs.Self()
	if err != nil {
		return 0
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0
	}
	return float64(st.VmHWM) / (1 << 20)
}
