package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/recorder"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// reparse renders conf as `bento -c` reads it and parses it back.
func reparse(t *testing.T, conf map[string]any) map[string]any {
	t.Helper()
	data, err := bentoYAML(conf)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := yaml.Unmarshal(data, &back); err != nil {
		t.Fatalf("generated YAML does not parse: %v\n%s", err, data)
	}
	return back
}

// field walks a parsed config along keys.
func field(t *testing.T, conf any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := conf.(map[string]any)
		if !ok {
			t.Fatalf("%s: not an object in %v", k, conf)
		}
		if conf, ok = m[k]; !ok {
			t.Fatalf("no %s in %v", k, m)
		}
	}
	return conf
}

var interpolation = regexp.MustCompile(`\$\{! json\("([A-Za-z.]+)"\) \}`)

// interpolate does what Bento's ${! json("a.b") } does on msg, the only
// interpolation the configs use.
func interpolate(t *testing.T, tmpl string, msg []byte) string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(msg, &doc); err != nil {
		t.Fatal(err)
	}
	return interpolation.ReplaceAllStringFunc(tmpl, func(m string) string {
		var v any = doc
		for _, k := range strings.Split(interpolation.FindStringSubmatch(m)[1], ".") {
			v = v.(map[string]any)[k]
		}
		s, ok := v.(string)
		if !ok {
			t.Fatalf("%s is %T in %s", m, v, msg)
		}
		return s
	})
}

// Bento publishes what pnstream publishes, under the same Nats-Msg-Id, so
// that JetStream's deduplication does the same work for both.
func TestBentoIngestPublishesPnstreamsMessageIDs(t *testing.T) {
	c, err := newCorpus()
	if err != nil {
		t.Fatal(err)
	}
	fees := reparse(t, bentoIngestConfig("nats://127.0.0.1:4222", "127.0.0.1:1234", true))
	if got := field(t, fees, "input", "http_server", "path"); got != peerFeePath {
		t.Errorf("fee path = %v", got)
	}
	if got := field(t, fees, "input", "http_server", "address"); got != "127.0.0.1:1234" {
		t.Errorf("address = %v", got)
	}
	procs := field(t, fees, "pipeline", "processors").([]any)
	if len(procs) != 2 || field(t, procs[0], "mapping") != "root = this.feeLst" || field(t, procs[1], "unarchive", "format") != "json_array" {
		t.Errorf("fee processors = %v, want the feeLst array split into one message per CDR", procs)
	}
	if got := field(t, fees, "output", "nats_jetstream", "subject"); got != peerFeeSubject {
		t.Errorf("fee subject = %v", got)
	}
	feeID := field(t, fees, "output", "nats_jetstream", "headers", "Nats-Msg-Id").(string)
	push, err := privatenumber.DecodePush(c.feePush(nil, 0, 3), privatenumber.FeePush)
	if err != nil {
		t.Fatal(err)
	}
	for i := range push.Fees {
		if got, want := interpolate(t, feeID, push.Fees[i].Raw), push.Fees[i].MsgID(); got != want {
			t.Errorf("Bento's fee id %q, pnstream's %q", got, want)
		}
	}

	events := reparse(t, bentoIngestConfig("nats://127.0.0.1:4222", "127.0.0.1:1234", false))
	if _, ok := events["pipeline"]; ok {
		t.Error("an event push is published whole, without processors")
	}
	subject := field(t, events, "output", "nats_jetstream", "subject").(string)
	eventID := field(t, events, "output", "nats_jetstream", "headers", "Nats-Msg-Id").(string)
	for i := range 12 { // every event type of a call and then some
		body := c.event(nil, i)
		p, err := privatenumber.DecodePush(body, privatenumber.EventPush)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := interpolate(t, eventID, body), p.Event.MsgID(); got != want {
			t.Errorf("Bento's event id %q, pnstream's %q", got, want)
		}
		if got, want := interpolate(t, subject, body), peerEventPrefix+p.Event.EventType; got != want {
			t.Errorf("Bento's event subject %q, want %q", got, want)
		}
	}
	for _, conf := range []map[string]any{fees, events} {
		if field(t, conf, "http", "enabled") != false || field(t, conf, "output", "nats_jetstream", "urls").([]any)[0] != "nats://127.0.0.1:4222" {
			t.Errorf("config %v", conf)
		}
	}
}

// Bento's recorder fills the columns of the raw insert and the optional
// ones of the corpus' CDRs, with the recorder's batching policy.
func TestBentoRecorderConfigMatchesTheRecorder(t *testing.T) {
	conf := reparse(t, bentoRecorderConfig("nats://127.0.0.1:4222", "bento-1", "127.0.0.1:9000", "bench_peers_bento"))
	rc := recorder.DefaultConfig()
	in := field(t, conf, "input", "nats_jetstream")
	if field(t, in, "stream") != peerFees || field(t, in, "subject") != peerFeeSubject || field(t, in, "durable") != "bento-1" ||
		field(t, in, "deliver") != "all" || field(t, in, "max_ack_pending") != float64(rc.BatchSize) {
		t.Errorf("input = %v", in)
	}
	out := field(t, conf, "output", "sql_insert")
	if field(t, out, "driver") != "clickhouse" || field(t, out, "table") != "fee_records" ||
		!strings.HasPrefix(field(t, out, "dsn").(string), "clickhouse://127.0.0.1:9000/bench_peers_bento?") {
		t.Errorf("output = %v", out)
	}
	var cols []string
	for _, c := range field(t, out, "columns").([]any) {
		cols = append(cols, c.(string))
	}
	if !slices.Equal(cols, strings.Split(rawFeeColumns+", call_duration, area_code", ", ")) {
		t.Errorf("columns = %v, want the raw insert's and call_duration, area_code", cols)
	}
	mapping := field(t, out, "args_mapping").(string)
	if !strings.HasPrefix(mapping, "root = [\n") || !strings.HasSuffix(mapping, "\n]\n") {
		t.Errorf("args_mapping is not one array:\n%s", mapping)
	}
	if args := strings.Split(strings.TrimSuffix(strings.TrimPrefix(mapping, "root = [\n"), "\n]\n"), ",\n"); len(args) != len(cols) {
		t.Errorf("args_mapping has %d elements for %d columns:\n%s", len(args), len(cols), mapping)
	}
	for i, a := range feeArgs() {
		if a.column != cols[i] {
			t.Errorf("argument %d computes %s, column %d is %s", i, a.column, i, cols[i])
		}
	}
	batching := field(t, out, "batching")
	if field(t, batching, "count") != float64(rc.BatchSize) || field(t, batching, "byte_size") != float64(rc.BatchMaxBytes) ||
		field(t, batching, "period") != rc.BatchWait.String() {
		t.Errorf("batching = %v, want the recorder's %d records, %d bytes, %s", batching, rc.BatchSize, rc.BatchMaxBytes, rc.BatchWait)
	}
}

func TestPeersStageRefusesAMissingBento(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Stages, cfg.Bento = []string{StagePeers}, t.TempDir()+"/missing"
	b := &Bench{cfg: cfg}
	if err := b.runPeers(context.Background(), &Report{}); err == nil || !strings.Contains(err.Error(), "make bin/bento") {
		t.Errorf("peers with a missing binary: %v", err)
	}
}

func TestPeersStageRefusesMissingPnstreamCommands(t *testing.T) {
	dir := t.TempDir()
	bento := filepath.Join(dir, "bento")
	if err := os.WriteFile(bento, nil, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Stages, cfg.Bento = []string{StagePeers}, bento
	b := &Bench{cfg: cfg}
	err := b.runPeers(context.Background(), &Report{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "ingest")) || !strings.Contains(err.Error(), "make bench-peers") {
		t.Errorf("peers without bin/ingest beside bin/bento: %v", err)
	}
}

// envFlags returns the flag each PN_* variable of env sets, failing on
// anything else.
func envFlags(t *testing.T, env []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "PN_") {
			t.Fatalf("%q is not a PN_ variable", kv)
		}
		out[strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, "PN_")), "_", "-")] = value
	}
	return out
}

// pnstream's side is configured as a deployment is: every variable names
// a setting the command reads, and ingest checks the signatures the load
// generator makes.
func TestPeersPnstreamCommandsEnv(t *testing.T) {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	ic, cc := ingest.DefaultConfig(), streams.DefaultConnConfig()
	ic.RegisterFlags(fs)
	cc.RegisterFlags(fs)
	in := envFlags(t, pnIngestEnv("nats://127.0.0.1:4222", "127.0.0.1:1234"))
	for name := range in {
		if fs.Lookup(name) == nil {
			t.Errorf("ingest has no setting %s", name)
		}
	}
	s := signer()
	if in["push-auth"] != ingest.AuthRequired || in["app-key"] != s.AppKey || in["app-secret"] != s.AppSecret ||
		in["ingest-addr"] != "127.0.0.1:1234" || in["nats-url"] != "nats://127.0.0.1:4222" {
		t.Errorf("ingest env %v", in)
	}

	fs = flag.NewFlagSet("recorder", flag.ContinueOnError)
	rc, sc, wc := recorder.DefaultConfig(), streams.DefaultConfig(), warehouse.DefaultConfig()
	cc = streams.DefaultConnConfig()
	rc.RegisterFlags(fs)
	sc.RegisterFlags(fs)
	wc.RegisterFlags(fs)
	cc.RegisterFlags(fs)
	fs.String("recorder-admin-addr", "", "cmd/recorder's own")
	rec := envFlags(t, pnRecorderEnv("nats://127.0.0.1:4222", "127.0.0.1:9000", "db", "127.0.0.1:8081", "pnbench-3", "memory"))
	for name := range rec {
		if fs.Lookup(name) == nil {
			t.Errorf("recorder has no setting %s", name)
		}
	}
	if rec["clickhouse-addr"] != "127.0.0.1:9000" || rec["clickhouse-database"] != "db" || rec["recorder-admin-addr"] != "127.0.0.1:8081" ||
		rec["recorder-consumer-prefix"] != "pnbench-3" || rec["stream-storage"] != "memory" || rec["nats-url"] != "nats://127.0.0.1:4222" {
		t.Errorf("recorder env %v", rec)
	}
	if _, ok := rec["s3-endpoint"]; ok {
		t.Error("the recorder of the peers stage mirrors nothing")
	}
}

// The side measured first alternates between repetitions.
func TestPeersAlternateWhichSideGoesFirst(t *testing.T) {
	rep := &Report{}
	var order []string
	for i := range 3 {
		bentoFirst := peerRepetition(rep)%2 == 1
		if err := inOrder(bentoFirst, func() error { order = append(order, "pnstream"); return nil },
			func() error { order = append(order, "bento"); return nil }); err != nil {
			t.Fatal(err)
		}
		addPeerRows(rep, "peers: x", "records", "", peerRun{rate: 2, cpu: map[string]float64{}}, peerRun{rate: 1, cpu: map[string]float64{}})
		if got := peerRepetition(rep); got != i+1 {
			t.Fatalf("after %d repetitions peerRepetition = %d", i+1, got)
		}
	}
	if want := []string{"pnstream", "bento", "bento", "pnstream", "pnstream", "bento"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	stop := errors.New("stop")
	ran := false
	if err := inOrder(true, func() error { ran = true; return nil }, func() error { return stop }); err != stop || ran {
		t.Errorf("inOrder after a failure: %v, ran the other: %v", err, ran)
	}
}

// The whole stage, both sides as child processes, when `make test` or
// `make bench-peers` built the binaries (bin/bento, bin/ingest,
// bin/recorder); skipped otherwise, as building Bento takes minutes, but
// failed where servers are required (CI).
func TestPeersStageRunsBothSidesAsProcesses(t *testing.T) {
	bento, err := filepath.Abs("../../bin/bento")
	if err != nil {
		t.Fatal(err)
	}
	for _, bin := range []string{bento, filepath.Join(filepath.Dir(bento), "ingest"), filepath.Join(filepath.Dir(bento), "recorder")} {
		if _, err := os.Stat(bin); err != nil {
			testenv.MissingServer(t, fmt.Sprintf("no %s: `make bin/bento bin/ingest bin/recorder` builds them", bin))
		}
	}
	cfg := DefaultConfig()
	cfg.Stages, cfg.Bento, cfg.Repeat = []string{StagePeers}, bento, 2 // both orders
	cfg.Duration, cfg.Conns, cfg.RecorderRecords = time.Second, 4, 1000
	var logs strings.Builder
	rep, err := Run(context.Background(), cfg, func(format string, args ...any) { fmt.Fprintf(&logs, format+"\n", args...) })
	if err != nil {
		t.Fatalf("peers stage: %v\n%s", err, logs.String())
	}
	type key struct{ stage, metric string }
	want := map[key]bool{}
	for _, k := range []pushKind{{stage: "ingest fees (50-record pushes)", unit: "records"}, {stage: "ingest events (single-event pushes)", unit: "events"}} {
		stage, one := "peers: "+k.stage, k.unit[:len(k.unit)-1]
		for _, m := range []string{k.unit + "/s (pnstream ÷ Bento)", "peak RSS MiB, pipeline process(es)", "CPU µs/" + one + ", ingest process",
			"half load, " + k.unit + "/s", "push p50 ms, half load", "push p99 ms, half load"} {
			want[key{stage, m}] = true
		}
	}
	want[key{"peers: recorder drain (1000 pre-filled CDRs)", "CPU µs/row, recorder process"}] = true
	e2e := "peers: end to end (fee pushes → visible rows)"
	for _, m := range []string{"records/s (pnstream ÷ Bento)", "peak RSS MiB, pipeline process(es)", "CPU µs/record, pipeline processes",
		"CPU µs/record, ingest process", "CPU µs/record, recorder process"} {
		want[key{e2e, m}] = true
	}
	for _, row := range rep.Rows {
		if !want[key{row.Stage, row.Metric}] {
			continue
		}
		delete(want, key{row.Stage, row.Metric})
		if len(row.PN) != 2 || len(row.Raw) != 2 || slices.ContainsFunc(append(row.PN, row.Raw...), func(x float64) bool { return !(x > 0) }) {
			t.Errorf("%s, %s: pnstream %v, Bento %v, want two figures each", row.Stage, row.Metric, row.PN, row.Raw)
		}
	}
	for k := range want {
		t.Errorf("no %q row of %s", k.metric, k.stage)
	}
	if t.Failed() {
		var table strings.Builder
		_ = rep.WriteTable(&table)
		t.Log(table.String())
	}
}
