package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/platformsim"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

// TestSimulatedRecordingsArchivedOnce: simulated calls pushed through
// ingest and the recorder; every recorded call ends as exactly one object
// whose SHA-256 is that of the simulator's audio, and one archived
// pn.recordings row with the same size and hash.
func TestSimulatedRecordingsArchivedOnce(t *testing.T) {
	t.Parallel()
	const calls = 120
	p := start(t, nil)

	srv := httptest.NewUnstartedServer(nil) // started once the simulator exists
	simURL := "http://" + srv.Listener.Addr().String()
	cfg := platformsim.DefaultConfig()
	cfg.Addr, cfg.PublicURL = srv.Listener.Addr().String(), simURL
	cfg.AppKey, cfg.AppSecret = appKey, appSecret
	cfg.EventsURL, cfg.FeesURL = p.ingest.URL+ingest.PathEvents, p.ingest.URL+ingest.PathFees
	cfg.CallRate, cfg.MaxCalls, cfg.Bindings, cfg.Seed, cfg.RecordShare = 100, calls, 10, 7, 1
	cfg.TimeScale, cfg.FeeBatchWait = 0.001, 200*time.Millisecond
	sim, err := platformsim.New(cfg, platformsim.Deps{Logger: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))})
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
	acfg := archive.DefaultConfig()
	acfg.Endpoint, acfg.Bucket = s3.Endpoint(), s3.NewBucket(t)
	acfg.AccessKey, acfg.SecretKey, acfg.Insecure = s3.AccessKey(), s3.SecretKey(), true
	acfg.Hosts, acfg.AllowPrivate, acfg.SpoolDir = "127.0.0.1", true, t.TempDir()
	acfg.RetryInitial, acfg.RetryMax = 100*time.Millisecond, 500*time.Millisecond
	bucket, err := archive.NewBucket(acfg)
	if err != nil {
		t.Fatal(err)
	}
	mirror := archive.NewMirror(acfg, archive.Deps{JetStream: p.js, Resolver: client, Bucket: bucket, Rows: p.wh,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)), Registry: prometheus.NewRegistry()})
	testenv.Go(t, mirror.Run)

	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		st := sim.Stats()
		return st.Calls >= calls && st.Push.Pending == 0, fmt.Sprintf("simulator not done: %+v", st)
	})
	p.waitCount("SELECT count() FROM fee_records FINAL", calls, 20*time.Second)
	recorded := p.count("SELECT count() FROM fee_records FINAL WHERE record_flag = 1")
	if recorded == 0 {
		t.Fatal("no recorded calls simulated")
	}
	p.waitCount("SELECT count() FROM recordings FINAL WHERE status = 'archived'", recorded, 60*time.Second)
	p.waitCount("SELECT count() FROM recordings FINAL", recorded, time.Second)

	// Where the platform serves each audio. A URL from the record-URL API
	// lives URLTTL × TimeScale (1.8 s here), so it is asked for right
	// before its download, as the mirror does.
	type source struct{ domain, name, direct string }
	sources := map[string]source{}
	rows, err := p.conn().Query(context.Background(), `SELECT icid, record_domain, record_object_name, record_file_download_url
		FROM fee_records FINAL WHERE record_flag = 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var icid string
		var src source
		if err := rows.Scan(&icid, &src.domain, &src.name, &src.direct); err != nil {
			t.Fatal(err)
		}
		sources[icid] = src
	}
	rows.Close()

	s3c := s3.Client(t)
	rows, err = p.conn().Query(context.Background(), "SELECT icid, object_key, sha256, size_bytes FROM recordings FINAL")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var icid, key, sum string
		var size uint64
		if err := rows.Scan(&icid, &key, &sum, &size); err != nil {
			t.Fatal(err)
		}
		srcSum, srcSize := sha256Of(t, func() (io.ReadCloser, error) {
			src := sources[icid]
			from := src.direct
			if src.domain != "" {
				u, err := client.RecordingURL(context.Background(), src.domain, src.name)
				if err != nil {
					return nil, fmt.Errorf("source of %s: %w", icid, err)
				}
				from = u.String()
			}
			resp, err := http.Get(from)
			if err != nil {
				return nil, err
			}
			if resp.StatusCode != http.StatusOK {
				resp.Body.Close()
				return nil, fmt.Errorf("source of %s: %s", icid, resp.Status)
			}
			return resp.Body, nil
		})
		objSum, objSize := sha256Of(t, func() (io.ReadCloser, error) {
			return s3c.GetObject(context.Background(), acfg.Bucket, key, minio.GetObjectOptions{})
		})
		if sum != srcSum || objSum != srcSum || size != uint64(srcSize) || objSize != srcSize {
			t.Errorf("%s: row %d bytes %s, object %d bytes %s, source %d bytes %s", icid, size, sum, objSize, objSum, srcSize, srcSum)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	objects := 0
	for obj := range s3c.ListObjects(context.Background(), acfg.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		objects++
	}
	if uint64(objects) != recorded {
		t.Errorf("%d objects for %d recorded calls", objects, recorded)
	}
	jobs, err := p.js.Stream(context.Background(), streams.Recordings)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := jobs.Info(context.Background()); err != nil || info.State.Msgs != 0 {
		t.Errorf("PN_RECORDINGS after archiving: %+v %v", info.State, err)
	}
	t.Logf("%d calls, %d recorded, %d objects", calls, recorded, objects)
}

func sha256Of(t *testing.T, open func() (io.ReadCloser, error)) (string, int64) {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}
