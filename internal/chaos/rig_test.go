package chaos

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/localserver"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

const appKey = "chaos-app"

// piiPolicy is the recorder's PN_PII_MODE in the runs: the default, which
// masks phone numbers, sessionIds included.
var piiPolicy = func() pii.Policy {
	p, err := pii.New(pii.DefaultMode, nil)
	if err != nil {
		panic(err)
	}
	return p
}()

// setup is what a run of the pipeline is made of.
type setup struct {
	// nodes is 1 (one nats-server) or 3 (a cluster, R3 streams).
	nodes int
	// sync is nats-server's jetstream sync_interval: "" for its default
	// (2m), "always" for an fsync before every ack.
	sync string
	// dupWindow is PN_STREAM_DUPLICATE_WINDOW, short so that late re-pushes
	// come after it.
	dupWindow time.Duration
	// callRate, maxCalls and timeScale drive the simulator.
	callRate  float64
	maxCalls  int
	timeScale float64
	// archive runs the recording mirror into S3.
	archive bool
	// maxPayload is nats-server's max_payload, such as "8MB"; "" keeps its
	// default (1 MB).
	maxPayload string
}

// rig is one run of the pipeline: processes started from the binaries in
// bins, ClickHouse and S3 of TestMain, and the tap between the simulator and
// ingest.
type rig struct {
	t   *testing.T
	cfg setup
	dir string
	// The run's secrets, made up for it, so that a log line holding one is
	// found by a plain search.
	appSecret string
	db        string
	bucket    string
	spool     string
	seed      int64 // of the simulator's calls

	nodes      []*natsNode
	natsURL    string
	ingestAddr string
	adminAddr  string
	simAddr    string

	ingest, recorder, sim *localserver.Program
	// peers are the other recorder replicas (recorderReplicas - 1), which
	// share the durable consumers with recorder and run through every
	// fault; the faults are the primary's (recorder).
	peers []*localserver.Program
	tap   *tap
	nc    *nats.Conn
	js    jetstream.JetStream
	// ch is the test's own connection pool; it dials again after a
	// ClickHouse restart.
	ch     driver.Conn
	faults faultLog
}

type natsNode struct {
	name                       string
	port, monPort, clusterPort int
	prog                       *localserver.Program
}

func newRig(t *testing.T, cfg setup) *rig {
	t.Helper()
	r := &rig{
		t:         t,
		cfg:       cfg,
		dir:       keptOnFailure(t),
		appSecret: "chaos-app-secret-" + rand.Text(),
		seed:      time.Now().UnixNano() % 1_000_000,
		db:        clickhouse.NewDatabase(t),
	}
	r.spool = filepath.Join(r.dir, "spool")
	if err := os.MkdirAll(r.spool, 0o750); err != nil {
		t.Fatal(err)
	}
	if cfg.archive {
		r.bucket = s3.NewBucket(t)
	}
	conn, err := ch.Open(&ch.Options{Addr: []string{clickhouse.Addr()}, Auth: ch.Auth{Database: r.db, Username: "default"},
		DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	r.ch = conn
	r.ingestAddr, r.adminAddr, r.simAddr = r.freeAddr(), r.freeAddr(), r.freeAddr()
	r.startNATS()
	r.tap = newTap(t, "http://"+r.ingestAddr)
	return r
}

// keptOnFailure returns a directory for the run's data and logs, removed
// when the test passes and kept, with its path logged, when it fails.
func keptOnFailure(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pnstream-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("data and logs of the run kept in %s", dir)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Error(err)
		}
	})
	return dir
}

func (r *rig) freeAddr() string {
	r.t.Helper()
	port, err := localserver.FreePort()
	if err != nil {
		r.t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}

func (r *rig) freePort() int {
	r.t.Helper()
	port, err := localserver.FreePort()
	if err != nil {
		r.t.Fatal(err)
	}
	return port
}

// startNATS starts the nats-server processes: one, or a three-node
// cluster, each with its own file store.
func (r *rig) startNATS() {
	t := r.t
	for i := range r.cfg.nodes {
		r.nodes = append(r.nodes, &natsNode{
			name: fmt.Sprintf("nats-%d", i+1), port: r.freePort(), monPort: r.freePort(), clusterPort: r.freePort(),
		})
	}
	var urls []string
	for _, n := range r.nodes {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", n.port))
	}
	r.natsURL = strings.Join(urls, ",")
	for _, n := range r.nodes {
		conf := filepath.Join(r.dir, n.name+".conf")
		if err := os.WriteFile(conf, []byte(r.natsConfig(n)), 0o640); err != nil {
			t.Fatal(err)
		}
		probe := localserver.HTTPProbe(fmt.Sprintf("http://127.0.0.1:%d/healthz?js-enabled-only=true", n.monPort))
		n.prog = r.program(n.name, filepath.Join(bins, "nats-server"), nil, []string{"-c", conf}, probe)
	}
	for _, n := range r.nodes {
		r.start(n.prog)
	}
	cc := streams.DefaultConnConfig()
	cc.URL, cc.ReconnectWait = r.natsURL, 100*time.Millisecond
	nc, js, err := streams.Connect(cc, "chaos-test", zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r.nc, r.js = nc, js
}

// natsConfig is a node's configuration file: file storage in the run's
// directory, the sync interval under test, and the cluster routes.
func (r *rig) natsConfig(n *natsNode) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: %q\nlisten: \"127.0.0.1:%d\"\nhttp: \"127.0.0.1:%d\"\n", n.name, n.port, n.monPort)
	if r.cfg.maxPayload != "" {
		fmt.Fprintf(&b, "max_payload: %s\n", r.cfg.maxPayload)
	}
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n", filepath.Join(r.dir, n.name))
	// An accounting cap above the streams' byte limits (34 GiB by
	// default), which the server reserves: its own default is a share of
	// the free disk, which a small test machine may not have.
	b.WriteString("  max_file_store: 1099511627776\n")
	if r.cfg.sync != "" {
		fmt.Fprintf(&b, "  sync_interval: %s\n", r.cfg.sync)
	}
	b.WriteString("}\n")
	if len(r.nodes) > 1 {
		var routes []string
		for _, o := range r.nodes {
			if o != n {
				routes = append(routes, fmt.Sprintf("%q", fmt.Sprintf("nats-route://127.0.0.1:%d", o.clusterPort)))
			}
		}
		fmt.Fprintf(&b, "cluster {\n  name: \"pn-chaos\"\n  listen: \"127.0.0.1:%d\"\n  routes: [%s]\n}\n", n.clusterPort, strings.Join(routes, ", "))
	}
	return b.String()
}

// program returns a process of the run, stopped with SIGTERM when the test
// ends; its output goes to <dir>/logs/<name>.log.
func (r *rig) program(name, bin string, env, args []string, probe func(context.Context) error) *localserver.Program {
	r.t.Helper()
	p, err := localserver.NewProgram(localserver.ProgramConfig{
		Name: name, Binary: bin, Args: args, Env: env, Probe: probe,
		LogFile:     filepath.Join(r.dir, "logs", name+".log"),
		StopTimeout: 30 * time.Second,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		if err := p.Stop(context.Background()); err != nil {
			r.t.Errorf("stop %s: %v", name, err)
		}
	})
	return p
}

func (r *rig) start(p *localserver.Program) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		r.t.Fatal(err)
	}
}

// pipelineEnv is what ingest and the recorder share.
func (r *rig) pipelineEnv() []string {
	replicas := 1
	if len(r.nodes) > 1 {
		replicas = 3
	}
	return []string{
		"PN_NATS_URL=" + r.natsURL,
		"PN_NATS_RECONNECT_WAIT=100ms",
		"PN_STREAM_REPLICAS=" + strconv.Itoa(replicas),
		"PN_STREAM_DUPLICATE_WINDOW=" + r.cfg.dupWindow.String(),
		"PN_APP_KEY=" + appKey,
		"PN_APP_SECRET=" + r.appSecret,
		"PN_LOG_LEVEL=debug", // the most lines for the secrets scan
		"PN_LOG_FORMAT=json",
	}
}

// startIngest starts ingest and waits until it is ready.
func (r *rig) startIngest() {
	env := append(r.pipelineEnv(),
		"PN_INGEST_ADDR="+r.ingestAddr,
		"PN_INGEST_PUBLISH_TIMEOUT=3s",
		"PN_INGEST_WRITE_TIMEOUT=6s",
		"PN_INGEST_SHUTDOWN_TIMEOUT=10s",
	)
	r.ingest = r.program("ingest", filepath.Join(bins, "ingest"), env, nil, localserver.HTTPProbe("http://"+r.ingestAddr+"/readyz"))
	r.start(r.ingest)
}

// recorderReplicas is how many recorders run at once: PN_CHAOS_RECORDERS,
// default 2. Several replicas share the durable consumers (the recorder's
// and the mirror's), so that a fault of one hands its work to another.
func recorderReplicas() int {
	if n, err := strconv.Atoi(os.Getenv("PN_CHAOS_RECORDERS")); err == nil && n >= 1 {
		return n
	}
	return 2
}

// startRecorder starts the recorder (and its recording mirror) and waits
// until it is ready; the first time, it starts its peers too.
func (r *rig) startRecorder() {
	r.recorder = r.newRecorder("recorder", r.adminAddr, r.spool)
	r.start(r.recorder)
	r.waitRecorderReady()
	if r.peers != nil {
		return
	}
	r.peers = []*localserver.Program{}
	for i := 2; i <= recorderReplicas(); i++ {
		spool := filepath.Join(r.dir, fmt.Sprintf("spool-%d", i))
		if err := os.MkdirAll(spool, 0o750); err != nil {
			r.t.Fatal(err)
		}
		admin := r.freeAddr()
		name := fmt.Sprintf("recorder-%d", i)
		p := r.newRecorder(name, admin, spool)
		r.start(p)
		probe := localserver.HTTPProbe("http://" + admin + "/readyz")
		r.waitFor(name+" ready", time.Minute, func() bool { return probe(context.Background()) == nil })
		r.peers = append(r.peers, p)
	}
}

// spools are the spool directories of every recorder replica.
func (r *rig) spools() []string {
	out := []string{r.spool}
	for i := 2; i <= len(r.peers)+1; i++ {
		out = append(out, filepath.Join(r.dir, fmt.Sprintf("spool-%d", i)))
	}
	return out
}

// newRecorder returns a recorder replica with its own admin address and
// spool directory (a starting recorder sweeps its spool).
func (r *rig) newRecorder(name, adminAddr, spool string) *localserver.Program {
	env := append(r.pipelineEnv(),
		"PN_CLICKHOUSE_ADDR="+clickhouse.Addr(),
		"PN_CLICKHOUSE_DATABASE="+r.db,
		"PN_RECORDER_ADMIN_ADDR="+adminAddr,
		"PN_PII_MODE="+piiPolicy.Mode(),
		"PN_RECORDER_BATCH_WAIT=500ms",
		"PN_RECORDER_ACK_WAIT=5s",
		"PN_RECORDER_RETRY_INITIAL=100ms",
		"PN_RECORDER_RETRY_MAX=2s",
		"PN_RECORDER_SHUTDOWN_TIMEOUT=10s",
		"PN_API_BASE_URL=http://"+r.simAddr,
	)
	if r.cfg.archive {
		env = append(env,
			"PN_S3_ENDPOINT="+s3.Endpoint(),
			"PN_S3_BUCKET="+r.bucket,
			"PN_S3_ACCESS_KEY="+s3.AccessKey(),
			"PN_S3_SECRET_KEY="+s3.SecretKey(),
			"PN_S3_INSECURE=true",
			"PN_RECORDING_HOSTS=127.0.0.1",
			"PN_RECORDING_ALLOW_PRIVATE=true",
			"PN_RECORDING_SPOOL_DIR="+spool,
			// Every download on disk: the mid-upload kill waits for an
			// open spool file, and no spool file may be left behind.
			"PN_RECORDING_MEMORY_SPOOL=0",
			"PN_RECORDING_RETRY_INITIAL=500ms",
			"PN_RECORDING_RETRY_MAX=3s",
			"PN_RECORDING_ACK_WAIT=6s",
		)
	}
	// Ready is probed apart (waitRecorderReady): a recorder restarted
	// while ClickHouse is down does not answer until it is back.
	return r.program(name, filepath.Join(bins, "recorder"), env, nil, nil)
}

func (r *rig) waitRecorderReady() {
	r.t.Helper()
	probe := localserver.HTTPProbe("http://" + r.adminAddr + "/readyz")
	r.waitFor("recorder ready", time.Minute, func() bool { return probe(context.Background()) == nil })
}

// repushHeaders is PN_CHAOS_REPUSH_HEADERS, passed to pnsim as
// PN_SIM_REPUSH_HEADERS: "fresh" (the default) or "original" (re-pushes
// re-send the first attempt's headers); pnsim refuses anything else.
func repushHeaders() string {
	if v := os.Getenv("PN_CHAOS_REPUSH_HEADERS"); v != "" {
		return v
	}
	return "fresh"
}

// startSimulator starts pnsim pushing to the tap.
func (r *rig) startSimulator() {
	env := []string{
		"PN_SIM_ADDR=" + r.simAddr,
		"PN_APP_KEY=" + appKey,
		"PN_APP_SECRET=" + r.appSecret,
		"PN_SIM_EVENTS_URL=" + r.tap.url + "/v1/notifications/events",
		"PN_SIM_FEES_URL=" + r.tap.url + "/v1/notifications/fees",
		"PN_SIM_CALL_RATE=" + strconv.FormatFloat(r.cfg.callRate, 'f', -1, 64),
		"PN_SIM_MAX_CALLS=" + strconv.Itoa(r.cfg.maxCalls),
		"PN_SIM_BINDINGS=20",
		"PN_SIM_RECORD_SHARE=0.4",
		"PN_SIM_SEED=" + strconv.FormatInt(r.seed, 10),
		"PN_SIM_TIME_SCALE=" + strconv.FormatFloat(r.cfg.timeScale, 'f', -1, 64),
		"PN_SIM_FEE_BATCH_WAIT=300ms",
		"PN_SIM_PUSH_TIMEOUT=8s",
		"PN_SIM_PUSH_WORKERS=16",
		"PN_SIM_REPUSH_HEADERS=" + repushHeaders(),
		"PN_LOG_LEVEL=info",
	}
	r.sim = r.program("pnsim", filepath.Join(bins, "pnsim"), env, nil, localserver.HTTPProbe("http://"+r.simAddr+"/healthz"))
	r.start(r.sim)
}

// waitFor waits as testenv.Eventually does until ok holds. A timeout
// names what it waited for and the processes of the run that had exited
// on their own, the likely reason, with the tails of their logs.
func (r *rig) waitFor(what string, timeout time.Duration, ok func() bool) {
	r.t.Helper()
	testenv.Eventually(r.t, timeout, func() (bool, string) {
		if ok() {
			return true, ""
		}
		return false, "waiting for " + what + r.exited()
	})
}

// exited says which processes of the run exited on their own, and why.
func (r *rig) exited() string {
	var why []string
	progs := append([]*localserver.Program{r.ingest, r.recorder, r.sim}, r.peers...)
	for _, n := range r.nodes {
		progs = append(progs, n.prog)
	}
	for _, p := range progs {
		if p == nil {
			continue
		}
		if err := p.Err(); err != nil {
			why = append(why, err.Error())
		}
	}
	if len(why) == 0 {
		return ""
	}
	return "; " + strings.Join(why, "; ")
}

// recorderCounter returns the sum of the recorder's counter name over its
// labels, read from its /metrics.
func (r *rig) recorderCounter(name string) (float64, error) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + r.adminAddr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	sum := 0.0
	for line := range strings.Lines(string(body)) {
		series, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || (series != name && !strings.HasPrefix(series, name+"{")) {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", line, err)
		}
		sum += v
	}
	return sum, nil
}
