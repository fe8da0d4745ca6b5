package console_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/audit"
	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/casefile"
	"github.com/pnstream/pnstream/internal/console"
	"github.com/pnstream/pnstream/internal/erasure"
	"github.com/pnstream/pnstream/internal/holds"
	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/platformsim"
	"github.com/pnstream/pnstream/internal/recorder"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/internal/warehouse"
	"github.com/pnstream/pnstream/internal/warehouse/warehousetest"
)

const (
	appKey    = "console-app"
	appSecret = "console-secret"
	// token logs a browser into a test console.
	token = "console-test-token-0123456789"
)

// world is simulated calls that went through the real pipeline pieces:
// the platform simulator pushed them to ingest, the recorder stored them
// in ClickHouse and the mirror archived their recordings in an
// object-locked S3 bucket. Its calls are done and archived when
// simulate returns.
type world struct {
	wh     *warehouse.Warehouse
	db     string
	s3     *minio.Client
	bucket string
	log    *audit.Log
}

// simulate runs calls simulated calls, all recorded, through the pipeline.
func simulate(t *testing.T, calls int) *world {
	t.Helper()
	ctx := context.Background()
	wh, db := warehousetest.Open(t, chServer)
	nats := testenv.NATS(t)
	cc := streams.DefaultConnConfig()
	cc.URL = nats.URL()
	nc, js, err := streams.Connect(cc, "console-test", zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := streams.Provision(ctx, js, streams.DefaultConfig()); err != nil {
		t.Fatal(err)
	}
	quiet := func() *zap.Logger { return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)) }

	icfg := ingest.DefaultConfig()
	icfg.AppKey, icfg.AppSecret = appKey, appSecret
	icfg.Complete()
	in := httptest.NewServer(ingest.New(icfg, ingest.Deps{
		Publisher: streams.NewJetStreamPublisher(nc, js), Nonces: ingest.NewJetStreamNonces(js, icfg.NonceWindow()),
		MaxPayload: nc.MaxPayload, Ready: func(context.Context) error { return nil }, Logger: quiet(), Registry: prometheus.NewRegistry(),
	}).Handler())
	t.Cleanup(in.Close)

	rcfg := recorder.DefaultConfig()
	rcfg.BatchWait, rcfg.AckWait = 200*time.Millisecond, 3*time.Second
	rec := recorder.New(rcfg, recorder.Deps{JetStream: js, Store: wh, BadRows: warehouse.BadRows,
		Jobs: archive.NewEnqueuer(streams.NewJetStreamPublisher(nc, js)), Logger: quiet(), Registry: prometheus.NewRegistry()})
	testenv.Go(t, rec.Run)

	srv := httptest.NewUnstartedServer(nil) // started once the simulator exists
	simURL := "http://" + srv.Listener.Addr().String()
	scfg := platformsim.DefaultConfig()
	scfg.Addr, scfg.PublicURL = srv.Listener.Addr().String(), simURL
	scfg.AppKey, scfg.AppSecret = appKey, appSecret
	scfg.EventsURL, scfg.FeesURL = in.URL+ingest.PathEvents, in.URL+ingest.PathFees
	scfg.CallRate, scfg.MaxCalls, scfg.Bindings, scfg.Seed, scfg.RecordShare = 100, calls, 4, 11, 1
	scfg.TimeScale, scfg.FeeBatchWait = 0.001, 200*time.Millisecond
	sim, err := platformsim.New(scfg, platformsim.Deps{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = sim.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	testenv.Go(t, sim.Run)

	pcfg := axeapi.DefaultClientConfig()
	pcfg.BaseURL, pcfg.AppKey, pcfg.AppSecret = simURL, appKey, appSecret
	client, err := axeapi.NewClient(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{wh: wh, db: db, s3: s3Server.Client(t), bucket: s3Server.NewLockedBucket(t), log: audit.New(wh)}
	acfg := archive.DefaultConfig()
	acfg.Endpoint, acfg.Bucket = s3Server.Endpoint(), w.bucket
	acfg.AccessKey, acfg.SecretKey, acfg.Insecure = s3Server.AccessKey(), s3Server.SecretKey(), true
	acfg.Hosts, acfg.AllowPrivate, acfg.SpoolDir = "127.0.0.1", true, t.TempDir()
	acfg.LockMode, acfg.LockDays = "GOVERNANCE", 1
	acfg.RetryInitial, acfg.RetryMax = 100*time.Millisecond, 500*time.Millisecond
	bucket, err := archive.NewBucket(acfg)
	if err != nil {
		t.Fatal(err)
	}
	mirror := archive.NewMirror(acfg, archive.Deps{JetStream: js, Resolver: client, Bucket: bucket, Rows: wh, Logger: quiet(), Registry: prometheus.NewRegistry()})
	testenv.Go(t, mirror.Run)

	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		st := sim.Stats()
		return st.Calls >= int64(calls) && st.Push.Pending == 0, fmt.Sprintf("simulator not done: %+v", st)
	})
	testenv.Eventually(t, 60*time.Second, func() (bool, string) {
		var fees, recorded, archived uint64
		if err := wh.Conn().QueryRow(ctx, "SELECT count(), countIf(record_flag = 1) FROM "+db+".fee_records FINAL").Scan(&fees, &recorded); err != nil {
			return false, err.Error()
		}
		if err := wh.Conn().QueryRow(ctx, "SELECT count() FROM "+db+".recordings FINAL WHERE status = 'archived'").Scan(&archived); err != nil {
			return false, err.Error()
		}
		return fees >= uint64(calls) && recorded > 0 && archived == recorded, fmt.Sprintf("%d CDRs, %d recorded, %d archived", fees, recorded, archived)
	})
	return w
}

// console starts a console over w for a token login of role.
func (w *world) console(t *testing.T, role string) *httptest.Server {
	t.Helper()
	cfg := console.DefaultConfig()
	cfg.Token, cfg.TokenRole, cfg.TokenUser, cfg.SecureCookies = token, role, role+"-user", false
	h := holds.New(w.s3, w.bucket, w.wh)
	srv, err := console.New(cfg, console.Deps{
		Warehouse: w.wh, Audit: w.log, S3: w.s3, Bucket: w.bucket,
		Holds:    console.HoldsOf(h),
		Exporter: console.ExporterOf(casefile.NewSource(w.wh, w.s3, w.bucket)),
		Eraser:   console.EraserOf(erasure.New(w.wh, h, pii.Policy{}, w.log, "streams untouched")),
		Logger:   zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs
}

// recordedCall returns the icid, X and caller of an archived recording.
func (w *world) recordedCall(t *testing.T) (icid, x, caller string) {
	t.Helper()
	err := w.wh.Conn().QueryRow(context.Background(), `SELECT icid, bind_num, caller_num FROM `+w.db+`.fee_records FINAL
		WHERE icid IN (SELECT icid FROM `+w.db+`.recordings FINAL WHERE status = 'archived' AND size_bytes > 1000)
		ORDER BY icid LIMIT 1`).Scan(&icid, &x, &caller)
	if err != nil {
		t.Fatal(err)
	}
	return icid, x, caller
}
