package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pnstream/pnstream/internal/bench"
)

func TestRunRejectsBadFlagsBeforeStartingServers(t *testing.T) {
	if err := run(context.Background(), []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("run(-h) = %v, want flag.ErrHelp", err)
	}
	// Validated before any server starts: this returns at once.
	if err := run(context.Background(), []string{"-stages", "nope"}); err == nil || !strings.Contains(err.Error(), `stage "nope"`) {
		t.Errorf("run(-stages nope) = %v, want the bad stage named", err)
	}
}

func TestWriteReportPrintsTheTableAndWritesTheJSONFile(t *testing.T) {
	rep := &bench.Report{Repeat: 1, Rows: []*bench.Row{{Stage: "s", Metric: "m", PN: []float64{42}}}}
	o := output{jsonFile: filepath.Join(t.TempDir(), "r.json")}
	var table strings.Builder
	if err := o.writeReport(&table, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "stage  metric") || !strings.Contains(table.String(), "42") {
		t.Errorf("table:\n%s", table.String())
	}
	b, err := os.ReadFile(o.jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var got bench.Report
	if err := json.Unmarshal(b, &got); err != nil || len(got.Rows) != 1 || got.Rows[0].PN[0] != 42 {
		t.Errorf("json file %s: %+v, %v", b, got, err)
	}
}
