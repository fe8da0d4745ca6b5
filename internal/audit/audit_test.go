package audit_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/audit"
	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/internal/warehouse/warehousetest"
)

var chServer *testenv.ClickHouseServer

func TestMain(m *testing.M) { testenv.Main(m, testenv.Servers{ClickHouse: &chServer}) }

func TestRecordAndList(t *testing.T) {
	w, _ := warehousetest.Open(t, chServer)
	l := audit.New(w)
	ctx := t.Context()
	base := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	entries := []audit.Entry{
		{At: base, Who: "ana", Role: "viewer", Action: audit.ActionSearch, Target: "x=+8613800000001", From: "10.0.0.1"},
		{At: base.Add(time.Minute), Who: "ana", Role: "viewer", Action: audit.ActionPlay, Target: "icid-1", From: "10.0.0.1"},
		// Another month: another partition, still listed.
		{At: base.AddDate(0, 1, 0), Who: "bo", Role: "officer", Action: audit.ActionExport, Target: "icid-1,icid-2", From: "10.0.0.2", Detail: "2 calls"},
	}
	for _, e := range entries {
		if err := l.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	all, err := l.List(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0] != entries[2] || all[2] != entries[0] {
		t.Fatalf("List = %+v, want the three entries newest first", all)
	}
	for _, c := range []struct {
		name string
		f    audit.Filter
		want []audit.Entry
	}{
		{"who", audit.Filter{Who: "bo"}, entries[2:]},
		{"action", audit.Filter{Action: audit.ActionPlay}, entries[1:2]},
		{"target substring", audit.Filter{Target: "icid-2"}, entries[2:]},
		{"time range", audit.Filter{Since: base.Add(time.Second), Until: base.AddDate(0, 0, 1)}, entries[1:2]},
		{"page", audit.Filter{Limit: 1, Offset: 1}, entries[1:2]},
		{"none", audit.Filter{Who: "nobody"}, nil},
	} {
		got, err := l.List(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: entry %d = %+v, want %+v", c.name, i, got[i], c.want[i])
			}
		}
	}
}

func TestRecordFillsTimeAndRefusesAnonymous(t *testing.T) {
	w, _ := warehousetest.Open(t, chServer)
	l := audit.New(w)
	before := time.Now().UTC().Truncate(time.Second)
	if err := l.Record(t.Context(), audit.Entry{Who: "ana", Role: "viewer", Action: audit.ActionView, Target: "icid-9"}); err != nil {
		t.Fatal(err)
	}
	got, err := l.List(t.Context(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].At.Before(before) {
		t.Fatalf("List = %+v, want one entry at or after %v", got, before)
	}
	for _, e := range []audit.Entry{{Action: audit.ActionView}, {Who: "ana"}} {
		if err := l.Record(t.Context(), e); err == nil {
			t.Errorf("Record(%+v) = nil, want an error", e)
		}
	}
}

// A failed write is an error the console turns into 503: here the
// database is gone.
func TestRecordFailsWithoutTable(t *testing.T) {
	w, db := warehousetest.Open(t, chServer)
	if err := w.Conn().Exec(t.Context(), "DROP TABLE "+db+"."+audit.Table); err != nil {
		t.Fatal(err)
	}
	if err := audit.New(w).Record(t.Context(), audit.Entry{Who: "ana", Action: audit.ActionView}); err == nil {
		t.Fatal("Record without its table = nil, want an error")
	}
}

// Nothing in pnstream deletes from the access log: no statement in the
// source tree (Go or SQL, tests aside) deletes rows of access_log, drops or
// truncates it, drops its partitions or gives it a TTL.
func TestNoCodeDeletesFromAccessLog(t *testing.T) {
	root := filepath.Join("..", "..")
	forbidden := regexp.MustCompile(`(?is)(DELETE\s+FROM|DROP\s+TABLE|TRUNCATE|ALTER\s+TABLE)[^;"` + "`" + `]{0,200}access_log|access_log[^;"` + "`" + `]{0,200}(DELETE\s+WHERE|DROP\s+PARTITION|DETACH|TTL)`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, "_test.go") || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".sql") || strings.HasSuffix(path, ".sh")) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if m := forbidden.Find(b); m != nil {
			t.Errorf("%s: %q would delete from the access log", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
