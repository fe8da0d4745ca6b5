// Command recorder consumes the fee records, call events and X-number states
// that ingest stored in NATS JetStream and writes them to ClickHouse in batches,
// acknowledging each message only after its row is stored, and mirrors the
// recording of every recorded call into S3. It applies the ClickHouse
// migrations at start-up. With -migrate-only (PN_MIGRATE_ONLY) it applies
// the migrations and provisions the JetStream streams, then exits: the
// set-up Job of a Kubernetes deployment. See the README for its settings;
// every flag is also read from its PN_* environment variable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/daemon"
	"github.com/pnstream/pnstream/internal/gaps"
	"github.com/pnstream/pnstream/internal/numbers"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/recorder"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/warehouse"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	daemon.Exit("recorder", err)
}

type config struct {
	log         daemon.LogConfig
	debug       daemon.DebugConfig
	adminAddr   string
	migrateOnly bool
	recorder    recorder.Config
	nats        streams.ConnConfig
	streams     streams.Config
	warehouse   warehouse.Config
	pii         pii.Config
	archive     archive.Config
	gaps        gaps.Config
	numbers     numbers.Config
	platform    privatenumber.ClientConfig
}

func run(ctx context.Context, args []string) error {
	cfg := config{
		adminAddr: ":8081",
		recorder:  recorder.DefaultConfig(),
		nats:      streams.DefaultConnConfig(),
		streams:   streams.DefaultConfig(),
		warehouse: warehouse.DefaultConfig(),
		pii:       pii.DefaultConfig(),
		archive:   archive.DefaultConfig(),
		gaps:      gaps.DefaultConfig(),
		numbers:   numbers.DefaultConfig(),
		platform:  privatenumber.DefaultClientConfig(),
	}
	fs := flag.NewFlagSet("recorder", flag.ContinueOnError)
	cfg.log.RegisterFlags(fs)
	cfg.debug.RegisterFlags(fs)
	fs.StringVar(&cfg.adminAddr, "recorder-admin-addr", cfg.adminAddr, "address of /healthz, /readyz and /metrics")
	fs.BoolVar(&cfg.migrateOnly, "migrate-only", false, "apply the ClickHouse migrations and provision the JetStream streams, then exit (a deployment's set-up Job)")
	cfg.recorder.RegisterFlags(fs)
	cfg.nats.RegisterFlags(fs)
	cfg.streams.RegisterFlags(fs)
	cfg.warehouse.RegisterFlags(fs)
	cfg.pii.RegisterFlags(fs)
	cfg.archive.RegisterFlags(fs)
	cfg.gaps.RegisterFlags(fs)
	cfg.numbers.RegisterFlags(fs)
	fs.StringVar(&cfg.platform.BaseURL, "api-base-url", cfg.platform.BaseURL, "platform API base URL (record-URL API)")
	fs.StringVar(&cfg.platform.AppKey, "app-key", cfg.platform.AppKey, "platform app key")
	fs.StringVar(&cfg.platform.AppSecret, "app-secret", cfg.platform.AppSecret, "platform app secret (never logged)")
	fs.StringVar(&cfg.platform.CAFile, "api-ca-file", cfg.platform.CAFile, "PEM CA file to verify the platform API (default: system roots)")
	if err := daemon.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	errs := []error{cfg.recorder.Validate(), cfg.nats.Validate(), cfg.streams.Validate(), cfg.warehouse.Validate(), cfg.pii.Validate(), cfg.archive.Validate(), cfg.gaps.Validate(), cfg.numbers.Validate()}
	if cfg.archive.Enabled() {
		errs = append(errs, cfg.platform.Validate())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log, err := daemon.NewLogger(cfg.log, "recorder")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	log.Info("starting", zap.Any("recorder", cfg.recorder), zap.String("nats_url", cfg.nats.Redacted().URL),
		zap.Stringer("clickhouse", cfg.warehouse), zap.Stringer("pii", cfg.pii), zap.Any("streams", cfg.streams),
		zap.Any("archive", cfg.archive.Redacted()), zap.Any("gaps", cfg.gaps), zap.Any("numbers", cfg.numbers), zap.String("api_base_url", cfg.platform.BaseURL))
	if !cfg.archive.Enabled() {
		log.Warn("recording mirror disabled (no PN_S3_ENDPOINT): recording jobs wait in PN_RECORDINGS")
	}

	nc, js, err := streams.Connect(cfg.nats, "pnstream-recorder", log)
	if err != nil {
		return err
	}
	defer nc.Close()

	// ClickHouse and NATS may come up after the recorder (a fresh cluster,
	// or an outage the recorder was restarted in): keep trying rather than
	// crash-looping. Opening the warehouse pings ClickHouse, so it is part
	// of the set-up that is retried.
	var wh *warehouse.Warehouse
	defer func() {
		if wh != nil {
			_ = wh.Close() // nothing is left to flush by then
		}
	}()
	setup := func() (struct{}, error) {
		if wh == nil {
			w, err := warehouse.Open(ctx, cfg.warehouse)
			if err != nil {
				return struct{}{}, err
			}
			wh = w
		}
		if err := wh.Migrate(ctx); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, streams.Provision(ctx, js, cfg.streams)
	}
	if _, err := backoff.Retry(ctx, setup, backoff.WithMaxElapsedTime(0), backoff.WithNotify(func(err error, next time.Duration) {
		log.Warn("start-up: waiting for ClickHouse and NATS", zap.Duration("retry_in", next), zap.Error(err))
	})); err != nil {
		return fmt.Errorf("start-up: %w", err)
	}
	if cfg.migrateOnly {
		log.Info("migrations applied and streams provisioned")
		return nil
	}

	policy, err := cfg.pii.Policy() // valid: checked with the config
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rec := recorder.New(cfg.recorder, recorder.Deps{
		JetStream: js,
		Store:     wh,
		Jobs:      archive.NewEnqueuer(streams.NewJetStreamPublisher(nc, js)),
		PII:       policy,
		BadRows:   warehouse.BadRows,
		Logger:    log,
		Registry:  reg,
	})

	admin := &http.Server{Handler: adminHandler(reg, func(ctx context.Context) error {
		if !nc.IsConnected() {
			return fmt.Errorf("nats %s", nc.Status())
		}
		return wh.Ping(ctx)
	}), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", cfg.adminAddr)
	if err != nil {
		return fmt.Errorf("listen admin: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	if err := cfg.debug.Start(gctx, g, log); err != nil {
		_ = ln.Close()
		return err
	}
	g.Go(func() error {
		if err := admin.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("admin server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		defer func() { _ = admin.Shutdown(context.WithoutCancel(gctx)) }()
		return rec.Run(gctx)
	})
	if cfg.archive.Enabled() {
		mirror, probe, err := newMirror(cfg, js, wh, log, reg)
		if err != nil {
			return err
		}
		g.Go(func() error { return mirror.Run(gctx) })
		// Readiness ignores the probe: CDRs reach ClickHouse without S3,
		// and a recorder taken out of service would not bring S3 back.
		// pn_archive_s3_up and its alert make the outage visible instead.
		g.Go(func() error { return probe.Run(gctx) })
	}
	detector := gaps.New(cfg.gaps, wh, log.Named("gaps"), reg)
	g.Go(func() error { return detector.Run(gctx) })
	watch := numbers.New(cfg.numbers, wh, log.Named("numbers"), reg)
	g.Go(func() error { return watch.Run(gctx) })
	log.Info("consuming", zap.String("admin_addr", ln.Addr().String()))
	if err := g.Wait(); err != nil {
		return err
	}
	if err := streams.Drain(nc, 5*time.Second); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// newMirror returns the recording mirror and the probe of its bucket; they
// share the bucket, so the probe exports the time of the mirror's last
// upload.
func newMirror(cfg config, js jetstream.JetStream, wh *warehouse.Warehouse, log *zap.Logger, reg prometheus.Registerer) (*archive.Mirror, *archive.Probe, error) {
	client, err := privatenumber.NewClient(cfg.platform)
	if err != nil {
		return nil, nil, err
	}
	bucket, err := archive.NewBucket(cfg.archive)
	if err != nil {
		return nil, nil, err
	}
	mirror := archive.NewMirror(cfg.archive, archive.Deps{
		JetStream: js, Resolver: client, Bucket: bucket, Rows: wh, Logger: log, Registry: reg,
	})
	return mirror, archive.NewProbe(cfg.archive, bucket, log, reg), nil
}
