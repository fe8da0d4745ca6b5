package bench

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTemplateFillsTheIdentity(t *testing.T) {
	tpl, err := cut([]byte("{\n  \"icid\": \"abc\",\n  \"x\": 1\n}"), "icid")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(tpl.append(nil, []byte("new"))); got != "{\n  \"icid\": \"new\",\n  \"x\": 1\n}" {
		t.Errorf("filled template = %q", got)
	}
	for _, doc := range []string{`{"x":1}`, `{"icid":1}`, `{"icid":"open`} {
		if _, err := cut([]byte(doc), "icid"); err == nil {
			t.Errorf("cut(%s) did not fail", doc)
		}
	}
}

func TestCorpusMakesDistinctValidPushes(t *testing.T) {
	c, err := newCorpus()
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.feePush(nil, 0, 50), c.feePush(nil, 0, 50)
	if bytes.Equal(a, b) {
		t.Error("two pushes of the same shapes are identical: identities repeat")
	}
	if err := checkPush(a); err != nil {
		t.Error(err)
	}
	data, eventType, id := c.eventMessage(3)
	if eventType == "" || !strings.HasPrefix(id, "event:bench") || !bytes.Contains(data, []byte(`"statusInfo"`)) {
		t.Errorf("event message %q %q %s", eventType, id, data)
	}
}

func TestReportMediansRatiosAndTargets(t *testing.T) {
	var r Report
	for _, x := range [][2]float64{{100, 90}, {120, 84}, {110, 99}} {
		r.add("s", "rate", "raw", x[0], x[1], &Target{Kind: "ratio", Value: 0.8})
	}
	r.add("s", "p99", "", 0, 40, &Target{Kind: "max", Value: 50})
	rate, p99 := r.Rows[0], r.Rows[1]
	if got := median(rate.Ratio); math.Abs(got-0.9) > 1e-9 {
		t.Errorf("median ratio = %v, want 0.9", got)
	}
	if rate.Met == nil || !*rate.Met || p99.Met == nil || !*p99.Met {
		t.Errorf("targets not met: %+v %+v", rate, p99)
	}
	if got := cell(rate.PN, "%.0f"); got != "90 [84–99]" {
		t.Errorf("cell = %q", got)
	}
	var out strings.Builder
	if err := r.WriteTable(&out); err != nil || !strings.Contains(out.String(), "≥ 0.8 × raw") {
		t.Errorf("table: %v\n%s", err, out.String())
	}
}

func TestModelSharesTheCPUs(t *testing.T) {
	l := stageLimits{decode: 60e3, publish: 60e3, drain: 60e3, insert: 60e3}
	if got := l.model(); math.Abs(got-15e3) > 1e-6 {
		t.Errorf("model = %v, want 15000", got)
	}
	l.insert = 0
	if l.model() != 0 {
		t.Error("model without a stage limit is not 0")
	}
}

func TestDefaultConfigIsValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Stages, c.Repeat = []string{"ingest", "nope"}, 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "nope") || !strings.Contains(err.Error(), "repeat") {
		t.Errorf("Validate = %v", err)
	}
}

func TestLatencyQuantilesFromMergedWorkers(t *testing.T) {
	// Two workers: 1..500 ms and 501..1000 ms, one request each per ms.
	a, b := &loadResult{}, &loadResult{}
	for ms := 1; ms <= 1000; ms++ {
		w := a
		if ms > 500 {
			w = b
		}
		w.observe(50, time.Duration(ms)*time.Millisecond)
	}
	var all loadResult
	all.merge(a)
	all.merge(b)
	all.merge(&loadResult{}) // a worker that saw no success
	if all.requests != 1000 || all.records != 50_000 {
		t.Fatalf("merged %d requests, %d records; want 1000, 50000", all.requests, all.records)
	}
	for _, tt := range []struct{ q, want float64 }{{0.5, 500}, {0.99, 990}, {1, 1000}} {
		// HDR keeps 3 significant digits: within 0.1%.
		if got := all.quantile(tt.q); math.Abs(got-tt.want) > tt.want/1000 {
			t.Errorf("quantile(%v) = %v ms, want %v within 0.1%%", tt.q, got, tt.want)
		}
	}
	if got := (&loadResult{}).quantile(0.99); got != 0 {
		t.Errorf("quantile of no requests = %v, want 0", got)
	}
	h := newLatencies()
	recordLatency(h, 2*time.Hour) // beyond the range: counted as an hour
	if got := quantileMS(h, 1); math.Abs(got-3.6e6) > 3.6e3 {
		t.Errorf("an over-long latency reads %v ms, want an hour", got)
	}
}

func TestCallsStageStoresEveryCallOnce(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Stages = []string{StageCalls}
	cfg.Duration, cfg.Conns, cfg.CallsRawCalls = time.Second, 4, 200
	cfg.CallsRecordingBytes = 20_000 // a quick test: the sizes do not change what is checked
	var logs strings.Builder
	rep, err := Run(context.Background(), cfg, func(format string, args ...any) { fmt.Fprintf(&logs, format+"\n", args...) })
	if err != nil {
		t.Fatalf("calls stage: %v\n%s", err, logs.String())
	}
	want := map[string]bool{}
	for _, m := range []string{
		"calls/s pushed to stored and archived", "calls/s vs bare handler", "calls/s vs JetStream", "calls/s vs batch insert",
		"calls/s vs PutObject", "half load, calls/s", "push → row p50 ms, half load", "push → row p99 ms, half load",
		"CPU µs/call, pnbench (pnstream + load)", "CPU µs/call, clickhouse-server", "CPU µs/call, versitygw",
		// nats-server has a row of its own only as a child process (-nats-server)
		"events per call", "recorded calls %", "recording KB per recorded call",
		"events stored ÷ sent", "CDRs stored ÷ sent", "recordings archived ÷ recorded calls",
	} {
		want[m] = true
	}
	if !slices.Equal(rep.Stages, []string{StageCalls}) {
		t.Errorf("report stages = %v", rep.Stages)
	}
	for _, row := range rep.Rows {
		if row.Stage != callsStage {
			continue
		}
		delete(want, row.Metric)
		if len(row.PN) != 1 || !(row.PN[0] > 0) {
			t.Errorf("%s: pnstream figure %v", row.Metric, row.PN)
		}
		if row.RawBy != "" && (len(row.Raw) != 1 || !(row.Raw[0] > 0)) {
			t.Errorf("%s: raw figure %v (%s)", row.Metric, row.Raw, row.RawBy)
		}
		if strings.Contains(row.Metric, "÷") && row.PN[0] != 1 {
			t.Errorf("%s = %v, want every one stored exactly once", row.Metric, row.PN[0])
		}
	}
	for m := range want {
		t.Errorf("no %q row", m)
	}
	if t.Failed() {
		var table strings.Builder
		_ = rep.WriteTable(&table)
		t.Log(table.String())
	}
}

func TestPeersNeedBentoAndAreNotDefault(t *testing.T) {
	c := DefaultConfig()
	if slices.Contains(c.Stages, StagePeers) {
		t.Errorf("default stages %v run peers, which needs a Bento binary", c.Stages)
	}
	c.Stages = []string{StageCalls, StagePeers}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "stage peers needs -bento") {
		t.Errorf("Validate of peers without -bento = %v", err)
	}
	c.Bento = "bin/bento"
	if err := c.Validate(); err != nil {
		t.Errorf("Validate of peers with -bento: %v", err)
	}
}
