package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/audit"
	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/daemon"
	"github.com/pnstream/pnstream/internal/gaps"
	"github.com/pnstream/pnstream/internal/holds"
	"github.com/pnstream/pnstream/internal/numbers"
	"github.com/pnstream/pnstream/internal/recorder"
	"github.com/pnstream/pnstream/internal/retention"
	"github.com/pnstream/pnstream/internal/retry"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// The deadlines of the shutdown steps that have no setting of their own.
// With PN_RECORDER_SHUTDOWN_TIMEOUT (20 s) they fit the Deployment's
// terminationGracePeriodSeconds (35 s).
const (
	// adminShutdownTimeout bounds the admin requests in flight once the
	// workers are done: probes and scrapes, answered in milliseconds
	// (/readyz gives up after 2 s).
	adminShutdownTimeout = 3 * time.Second
	// natsDrainTimeout bounds the flush of the last acks and publishes.
	natsDrainTimeout = 5 * time.Second
)

// app is the recorder wired from its config. newApp does no I/O; Run
// connects and sets up, runs the parts until ctx is done, stops them and
// closes the connections.
type app struct {
	cfg config
	log *zap.Logger
	reg *prometheus.Registry

	// Opened by start, closed by close.
	nc *nats.Conn
	js jetstream.JetStream
	wh *warehouse.Warehouse

	// stopping turns true the moment ctx is done: /readyz answers 503 from
	// then on, while the batches in hand are still being stored.
	stopping atomic.Bool
}

func newApp(cfg config, log *zap.Logger) *app {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &app{cfg: cfg, log: log, reg: reg}
}

// worker is a part of the recorder that runs until ctx is done.
type worker func(ctx context.Context) error

// Run sets up ClickHouse and the streams, then (unless -migrate-only) runs
// the workers until ctx is done and stops as serve describes.
func (a *app) Run(ctx context.Context) error {
	if err := a.start(ctx); err != nil {
		return errors.Join(err, a.close(false))
	}
	if a.cfg.migrateOnly {
		a.log.Info("migrations applied and streams provisioned")
		return a.close(false)
	}
	workers, err := a.workers()
	if err == nil {
		err = a.serve(ctx, workers)
	}
	if err := errors.Join(err, a.close(err == nil)); err != nil {
		return err
	}
	a.log.Info("stopped")
	return nil
}

// start connects to NATS, then applies the migrations and provisions the
// streams. ClickHouse and NATS may come up after the recorder (a fresh
// cluster, or an outage the recorder was restarted in): it keeps trying
// rather than crash-looping. Opening the warehouse pings ClickHouse, so it
// is part of what is retried.
func (a *app) start(ctx context.Context) error {
	nc, js, err := streams.Connect(a.cfg.nats, "pnstream-recorder", a.log)
	if err != nil {
		return err
	}
	a.nc, a.js = nc, js
	setup := func() error {
		if a.wh == nil {
			wh, err := warehouse.Open(ctx, a.cfg.warehouse)
			if err != nil {
				return err
			}
			a.wh = wh
		}
		if err := a.wh.Migrate(ctx); err != nil {
			return err
		}
		return streams.Provision(ctx, a.js, a.cfg.streams)
	}
	policy := retry.NewPolicy(a.cfg.recorder.RetryInitial, a.cfg.recorder.RetryMax)
	if err := retry.Do(ctx, policy, setup, func(err error, next time.Duration) {
		a.log.Warn("start-up: waiting for ClickHouse and NATS", zap.Duration("retry_in", next), zap.Error(err))
	}); err != nil {
		return fmt.Errorf("start-up: %w", err)
	}
	return nil
}

// workers builds the parts that run: the consumers into ClickHouse, the
// recording mirror and its S3 probe (when S3 is configured), the gap
// detector and the X-number watch.
func (a *app) workers() ([]worker, error) {
	policy, err := a.cfg.pii.Policy() // valid: checked with the config
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	rec := recorder.New(a.cfg.recorder, recorder.Deps{
		JetStream: a.js,
		Store:     a.wh,
		Jobs:      archive.NewEnqueuer(streams.NewJetStreamPublisher(a.nc, a.js)),
		PII:       policy,
		BadRows:   warehouse.BadRows,
		Logger:    a.log,
		Registry:  a.reg,
	})
	workers := []worker{rec.Run}
	if a.cfg.archive.Enabled() {
		mirror, probe, err := a.newMirror()
		if err != nil {
			return nil, err
		}
		// Readiness ignores the probe: CDRs reach ClickHouse without S3,
		// and a recorder taken out of service would not bring S3 back.
		// pn_archive_s3_up and its alert make the outage visible instead.
		workers = append(workers, mirror.Run, probe.Run)
	}
	detector := gaps.New(a.cfg.gaps, a.wh, a.log.Named("gaps"), a.reg)
	watch := numbers.New(a.cfg.numbers, a.wh, a.log.Named("numbers"), a.reg)
	var held *holds.Holds // retention (package retention): objects only when S3 is configured
	if a.cfg.archive.Enabled() {
		bucket, err := archive.NewBucket(a.cfg.archive)
		if err != nil {
			return nil, err
		}
		held = holds.New(bucket.Client(), a.cfg.archive.Bucket, a.wh)
	}
	expiry := retention.NewJob(a.cfg.retention, retention.New(a.cfg.retention, a.wh, held), a.js, audit.New(a.wh), a.log.Named("retention"))
	return append(workers, detector.Run, watch.Run, expiry.Run), nil
}

// newMirror returns the recording mirror and the probe of its bucket; they
// share the bucket, so the probe exports the time of the mirror's last
// upload.
func (a *app) newMirror() (*archive.Mirror, *archive.Probe, error) {
	client, err := axeapi.NewClient(a.cfg.platform)
	if err != nil {
		return nil, nil, err
	}
	bucket, err := archive.NewBucket(a.cfg.archive)
	if err != nil {
		return nil, nil, err
	}
	mirror := archive.NewMirror(a.cfg.archive, archive.Deps{
		JetStream: a.js, Resolver: client, Bucket: bucket, Rows: a.wh, Logger: a.log, Registry: a.reg,
	})
	return mirror, archive.NewProbe(a.cfg.archive, bucket, a.log, a.reg), nil
}

// serve runs the workers, with the admin server (and pprof) beside them,
// until ctx is done, then stops in the order of STYLE §12, each step
// bounded:
//  1. /readyz answers 503 the moment ctx is done;
//  2. the consumers stop fetching, without cutting a pull short, and the
//     batches in hand are inserted and acked within
//     PN_RECORDER_SHUTDOWN_TIMEOUT, however long ClickHouse is away; the
//     mirror hands its jobs back; the gap detector and the watch stop;
//  3. the admin and pprof servers, kept up until then so that /readyz
//     says 503 and /metrics is scraped through the flush, shut down within
//     adminShutdownTimeout.
//
// Run then closes ClickHouse and drains NATS. A worker or server that
// fails stops the rest the same way.
func (a *app) serve(ctx context.Context, workers []worker) error {
	defer daemon.AfterDone(ctx, func() { a.stopping.Store(true) })()
	ln, err := net.Listen("tcp", a.cfg.adminAddr)
	if err != nil {
		return fmt.Errorf("listen admin: %w", err)
	}
	serveCtx, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServing()
	servers, sctx := errgroup.WithContext(serveCtx)
	if err := a.cfg.debug.Start(sctx, servers, a.log); err != nil {
		_ = ln.Close()
		return err
	}
	admin := &http.Server{Handler: adminHandler(a.reg, a.ready), ReadHeaderTimeout: 5 * time.Second}
	servers.Go(func() error { return daemon.Serve(sctx, admin, ln, adminShutdownTimeout) })

	wctx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	defer daemon.AfterDone(sctx, stopWorkers)() // a server that fails stops the workers
	g, gctx := errgroup.WithContext(wctx)
	for _, w := range workers {
		g.Go(func() error { return w(gctx) })
	}
	a.log.Info("consuming", zap.String("admin_addr", ln.Addr().String()))
	err = g.Wait()
	stopServing()
	return errors.Join(err, servers.Wait())
}

// ready is /readyz: false from the moment the recorder stops, and while
// NATS is disconnected or ClickHouse does not answer.
func (a *app) ready(ctx context.Context) error {
	if a.stopping.Load() {
		return errors.New("shutting down")
	}
	if !a.nc.IsConnected() {
		return fmt.Errorf("nats %s", a.nc.Status())
	}
	return a.wh.Ping(ctx)
}

// close releases what start opened: ClickHouse (nothing is left to flush
// by then), then NATS, drained when the recorder ran so that the last acks
// and publishes reach the server, closed otherwise.
func (a *app) close(drain bool) error {
	var errs []error
	if a.wh != nil {
		errs = append(errs, a.wh.Close())
	}
	switch {
	case a.nc == nil:
	case drain:
		errs = append(errs, streams.Drain(a.nc, natsDrainTimeout))
	default:
		a.nc.Close()
	}
	return errors.Join(errs...)
}
