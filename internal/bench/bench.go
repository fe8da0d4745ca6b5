// Package bench is pnstream's performance benchmark: it starts the real
// servers on loopback (NATS JetStream, ClickHouse, the S3 gateway), runs
// each stage of the pipeline under load, measures in the same run the raw
// limit of the tools the stage rests on, and reports pnstream's figures
// beside those limits as ratios. Absolute figures drift on a shared
// machine; ratios measured side by side are what compares.
//
// Stages: ingest (signed pushes over HTTP into JetStream), recorder
// (PN_FEES into ClickHouse), mirror (recordings into S3) and e2e (push to
// visible row), nonces (the shared push nonce store's claims/s, disk and
// server memory per million nonces), calls (whole simulated calls: every
// event in its own push, CDRs merged, recordings archived) and peers (other
// tools on the same workloads, in a file of its own that registers it).
// cmd/pnbench is its command; `make bench` runs it.
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/procfs"
)

// Stages in the order they run.
const (
	StageIngest   = "ingest"
	StageRecorder = "recorder"
	StageMirror   = "mirror"
	StageE2E      = "e2e"
	StageNonces   = "nonces"
	StageCalls    = "calls"
	StagePeers    = "peers"
)

// AllStages lists every stage.
var AllStages = []string{StageIngest, StageRecorder, StageMirror, StageE2E, StageNonces, StageCalls, StagePeers}

// stageFunc runs one repetition of a stage and adds its rows to rep.
type stageFunc func(b *Bench, ctx context.Context, rep *Report) error

// defaultStages are the stages run without -stages: all but peers, which
// needs a Bento binary (-bento; `make bench-peers` builds it).
var defaultStages = []string{StageIngest, StageRecorder, StageMirror, StageE2E, StageNonces, StageCalls}

// stages maps each stage to what runs one repetition of it.
func (b *Bench) stages() map[string]stageFunc {
	return map[string]stageFunc{
		StageIngest: (*Bench).runIngest, StageRecorder: (*Bench).runRecorder, StageMirror: (*Bench).runMirror,
		StageE2E: (*Bench).runE2E, StageNonces: (*Bench).runNonces, StageCalls: (*Bench).runCalls,
		StagePeers: (*Bench).runPeers,
	}
}

// Config of a benchmark run.
type Config struct {
	// Stages to run, a subset of AllStages.
	Stages []string
	// Repeat runs every stage this many times; the table shows medians
	// and ranges.
	Repeat int
	// Duration of each throughput measurement.
	Duration time.Duration
	// Conns is the number of concurrent push connections at full load.
	Conns int
	// RecorderRecords is how many fee records pre-fill PN_FEES.
	RecorderRecords int
	// LargeBytes is the size of the large recording; SmallCount recordings
	// of SmallBytes are the small ones.
	LargeBytes int64
	SmallCount int
	SmallBytes int64
	// MirrorConcurrency is the mirror's worker count
	// (PN_RECORDING_CONCURRENCY), and the raw upload's.
	MirrorConcurrency int
	// E2ERate (records/s) and E2EDuration set the fixed-rate end-to-end
	// run.
	E2ERate     float64
	E2EDuration time.Duration
	// StreamStorage is the JetStream storage of the streams: "file", as
	// in production, or "memory", to tell the file store's share.
	StreamStorage string
	// NATSServer is the nats-server binary to run as a child process;
	// empty runs NATS embedded in this process.
	NATSServer string
	// Dir keeps the servers' data; empty means a temporary directory,
	// removed at the end.
	Dir string
	// NonceCount is how many nonces the nonces stage claims per variant.
	NonceCount int
	// ProfileDir, when set, receives a CPU profile of each timed
	// measurement, named after it.
	ProfileDir string
	// CallsRecordingBytes is the size of every recording of the calls
	// stage; 0 means the call's own: an 8 kHz 16-bit mono WAV as long as
	// the recorded part of the call (16 KB a second).
	CallsRecordingBytes int64
	// CallsRawCalls is how many calls the calls stage's raw model sends
	// through the bare tools.
	CallsRawCalls int
	// Bento is the Bento binary the peers stage runs (bin/bento).
	Bento string
}

// DefaultConfig returns the settings `make bench` uses.
func DefaultConfig() Config {
	return Config{
		Stages:            slices.Clone(defaultStages),
		Repeat:            1,
		Duration:          10 * time.Second,
		Conns:             32,
		RecorderRecords:   200_000,
		LargeBytes:        1 << 30,
		SmallCount:        2000,
		SmallBytes:        200_000,
		MirrorConcurrency: 4,
		E2ERate:           5000,
		E2EDuration:       60 * time.Second,
		StreamStorage:     "file",
		NonceCount:        1_000_000,
		CallsRawCalls:     10_000,
	}
}

// RegisterFlags binds the fields to flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.Func("stages", "comma-separated stages to run: "+strings.Join(AllStages, ",")+" (default "+strings.Join(defaultStages, ",")+")", func(v string) error {
		c.Stages = strings.Split(v, ",")
		return nil
	})
	fs.IntVar(&c.Repeat, "repeat", c.Repeat, "runs of every stage; the table shows medians and [min–max]")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "length of each throughput measurement")
	fs.IntVar(&c.Conns, "conns", c.Conns, "concurrent push connections at full load")
	fs.IntVar(&c.RecorderRecords, "recorder-records", c.RecorderRecords, "fee records pre-filled into PN_FEES for the recorder stage")
	fs.Int64Var(&c.LargeBytes, "mirror-large-bytes", c.LargeBytes, "size of the large recording")
	fs.IntVar(&c.SmallCount, "mirror-small-count", c.SmallCount, "number of small recordings")
	fs.Int64Var(&c.SmallBytes, "mirror-small-bytes", c.SmallBytes, "size of each small recording")
	fs.IntVar(&c.MirrorConcurrency, "mirror-concurrency", c.MirrorConcurrency, "mirror workers (PN_RECORDING_CONCURRENCY) and parallel raw uploads")
	fs.Float64Var(&c.E2ERate, "e2e-rate", c.E2ERate, "fee records/s of the fixed-rate end-to-end run")
	fs.DurationVar(&c.E2EDuration, "e2e-duration", c.E2EDuration, "length of the fixed-rate end-to-end run")
	fs.StringVar(&c.StreamStorage, "stream-storage", c.StreamStorage, `JetStream storage: "file" (production) or "memory"`)
	fs.StringVar(&c.NATSServer, "nats-server", c.NATSServer, "nats-server binary run as a child process (empty: embedded)")
	fs.StringVar(&c.Dir, "dir", c.Dir, "directory for the servers' data (empty: a temporary one, removed)")
	fs.IntVar(&c.NonceCount, "nonces", c.NonceCount, "nonces claimed per variant by the nonces stage")
	fs.StringVar(&c.ProfileDir, "profile-dir", c.ProfileDir, "write a CPU profile of each timed measurement into this directory")
	fs.Int64Var(&c.CallsRecordingBytes, "calls-recording-bytes", c.CallsRecordingBytes, "size of each recording of the calls stage (0: the recorded part of the call as an 8 kHz 16-bit mono WAV)")
	fs.IntVar(&c.CallsRawCalls, "calls-raw", c.CallsRawCalls, "calls sent through the bare tools for the calls stage's raw model")
	fs.StringVar(&c.Bento, "bento", c.Bento, "Bento binary for -stages peers (`make bench-peers` builds bin/bento)")
}

// Validate reports every problem of c.
func (c Config) Validate() error {
	var errs []error
	for _, s := range c.Stages {
		if !slices.Contains(AllStages, s) {
			errs = append(errs, fmt.Errorf("stage %q: want one of %s", s, strings.Join(AllStages, ", ")))
		}
	}
	if slices.Contains(c.Stages, StagePeers) && c.Bento == "" {
		errs = append(errs, errors.New("stage peers needs -bento, the Bento binary (`make bench-peers` builds bin/bento)"))
	}
	if c.Repeat < 1 || c.Repeat > 20 {
		errs = append(errs, fmt.Errorf("repeat %d: want 1 to 20", c.Repeat))
	}
	if c.Duration < time.Second || c.E2EDuration < time.Second {
		errs = append(errs, errors.New("durations must be at least 1s"))
	}
	if c.Conns < 1 || c.Conns > 1024 {
		errs = append(errs, fmt.Errorf("conns %d: want 1 to 1024", c.Conns))
	}
	if c.RecorderRecords < 1000 {
		errs = append(errs, fmt.Errorf("recorder records %d: want at least 1000", c.RecorderRecords))
	}
	if c.LargeBytes < 1<<20 || c.LargeBytes > 1<<30 || c.SmallBytes < 1<<10 || c.SmallBytes > c.LargeBytes || c.SmallCount < 1 {
		errs = append(errs, errors.New("recording sizes: want 1 MiB ≤ large ≤ 1 GiB (the default cap), 1 KiB ≤ small ≤ large, count ≥ 1"))
	}
	if c.MirrorConcurrency < 1 || c.MirrorConcurrency > 256 {
		errs = append(errs, fmt.Errorf("mirror concurrency %d: want 1 to 256", c.MirrorConcurrency))
	}
	if c.NonceCount < 1000 {
		errs = append(errs, fmt.Errorf("nonces %d: want at least 1000", c.NonceCount))
	}
	if c.CallsRecordingBytes < 0 || c.CallsRecordingBytes > c.LargeBytes || c.CallsRawCalls < 100 {
		errs = append(errs, fmt.Errorf("calls: recording bytes %d (want 0 to the large recording's size), raw calls %d (want at least 100)", c.CallsRecordingBytes, c.CallsRawCalls))
	}
	if c.StreamStorage != "file" && c.StreamStorage != "memory" {
		errs = append(errs, fmt.Errorf("stream storage %q: want file or memory", c.StreamStorage))
	}
	if c.E2ERate < 50 || c.E2ERate > 1e6 {
		errs = append(errs, fmt.Errorf("e2e rate %g: want 50 to 1e6 records/s", c.E2ERate))
	}
	return errors.Join(errs...)
}

// Bench is one benchmark run.
type Bench struct {
	cfg       Config
	dir       string
	srv       *servers
	corpus    *corpus
	limits    stageLimits
	consumers atomic.Int64
	calls     *callSource // the calls stage's generator, kept across repetitions
	progress  func(format string, args ...any)
}

// Run starts the servers the chosen stages need, runs the stages
// cfg.Repeat times and returns the report. progress receives a line as each
// step starts. The servers are stopped before Run returns.
func Run(ctx context.Context, cfg Config, progress func(format string, args ...any)) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bench config: %w", err)
	}
	b := &Bench{cfg: cfg, dir: cfg.Dir, progress: progress}
	if b.dir == "" {
		dir, err := os.MkdirTemp("", "pnbench-")
		if err != nil {
			return nil, fmt.Errorf("bench dir: %w", err)
		}
		defer os.RemoveAll(dir)
		b.dir = dir
	}
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o750); err != nil {
			return nil, fmt.Errorf("profile dir: %w", err)
		}
	}
	var err error
	if b.corpus, err = newCorpus(); err != nil {
		return nil, err
	}
	needCH := slices.ContainsFunc(cfg.Stages, func(s string) bool { return s != StageIngest && s != StageNonces })
	needS3 := slices.Contains(cfg.Stages, StageMirror) || slices.Contains(cfg.Stages, StageCalls)
	progress("starting servers in %s", b.dir)
	b.srv, err = startServers(ctx, b.dir, cfg.NATSServer, needCH, needS3)
	defer func() { _ = b.srv.close() }() // their data is thrown away
	if err != nil {
		return nil, err
	}
	rep := &Report{Started: time.Now().UTC(), Machine: machine(runtime.NumCPU(), cpuModel()), Repeat: cfg.Repeat, Stages: cfg.Stages,
		Settings: fmt.Sprintf("stages %s; %s per throughput run, %d conns; %d pre-filled records; e2e %.0f records/s for %s; NATS %s, %s storage",
			strings.Join(cfg.Stages, ","), cfg.Duration, cfg.Conns, cfg.RecorderRecords, cfg.E2ERate, cfg.E2EDuration, natsMode(cfg.NATSServer), cfg.StreamStorage)}
	if slices.Contains(cfg.Stages, StageCalls) {
		rep.Settings += "; calls: " + callsSettings(cfg)
	}
	stages := b.stages()
	for i := range cfg.Repeat {
		for _, s := range AllStages {
			if !slices.Contains(cfg.Stages, s) {
				continue
			}
			progress("run %d/%d: %s", i+1, cfg.Repeat, s)
			if err := stages[s](b, ctx, rep); err != nil {
				return rep, fmt.Errorf("stage %s: %w", s, err)
			}
		}
	}
	return rep, nil
}

func natsMode(bin string) string {
	if bin == "" {
		return "embedded"
	}
	return "child process " + bin
}

// cpuModel returns the CPU model /proc/cpuinfo names, or "".
func cpuModel() string {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return ""
	}
	cpus, err := fs.CPUInfo()
	if err != nil || len(cpus) == 0 {
		return "" // the report names the CPU count alone
	}
	return cpus[0].ModelName
}
