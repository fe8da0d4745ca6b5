package warehouse

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/pnstream/pnstream/internal/retry"
)

func TestDefaultConfigIsValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := Config{
		Addr:        "127.0.0.1:9000, nohost, :9000, h:99999",
		Database:    "pn; DROP TABLE x",
		DialTimeout: -time.Second,
	}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad config")
	}
	for _, want := range []string{`"nohost"`, `":9000": host required`, `"h:99999": port`, "database", "user: required", "dial timeout", "read timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
	if (Config{}).Validate() == nil {
		t.Error("Validate accepted the zero Config")
	}
}

func TestConfigRedactsPassword(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Password = "s3cr3t-pw"
	for _, s := range []string{cfg.String(), fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, &cfg)} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("password leaks: %s", s)
		}
		if !strings.Contains(s, "REDACTED") {
			t.Errorf("redaction not shown: %s", s)
		}
	}
	cfg.Password = ""
	if strings.Contains(cfg.String(), "REDACTED") {
		t.Errorf("empty password shown as set: %s", cfg)
	}
}

func TestRegisterFlags(t *testing.T) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	var help bytes.Buffer
	fs.SetOutput(&help)
	fs.PrintDefaults()
	for _, name := range []string{"clickhouse-addr", "clickhouse-database", "clickhouse-user", "clickhouse-password", "clickhouse-dial-timeout", "clickhouse-read-timeout"} {
		if fs.Lookup(name) == nil {
			t.Errorf("flag %s not registered", name)
		}
	}
	if !strings.Contains(help.String(), `(default "pn")`) || !strings.Contains(help.String(), DefaultAddr) {
		t.Errorf("--help does not show the defaults:\n%s", help.String())
	}

	err := fs.Parse([]string{"-clickhouse-addr", "ch:9440", "-clickhouse-database", "pn2", "-clickhouse-password", "hunter2", "-clickhouse-read-timeout", "1m"})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Addr, want.Database, want.Password, want.ReadTimeout = "ch:9440", "pn2", "hunter2", time.Minute
	if cfg != want {
		t.Errorf("after Parse: %#v\nwant %#v", cfg, want)
	}
	var dump strings.Builder
	fs.VisitAll(func(f *flag.Flag) { fmt.Fprintf(&dump, "%s=%s %s;", f.Name, f.Value, f.DefValue) })
	if strings.Contains(dump.String(), "hunter2") {
		t.Errorf("flag values show the password: %s", dump.String())
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"cannot parse datetime", &clickhouse.Exception{Code: 41, Message: "Cannot parse datetime"}, true},
		{"type mismatch, wrapped", fmt.Errorf("send: %w", &clickhouse.Exception{Code: 53}), true},
		{"value out of range", &clickhouse.Exception{Code: 321}, true},
		{"too large string", &clickhouse.Exception{Code: 131}, true},
		{"too many parts", &clickhouse.Exception{Code: 252}, false},
		{"too many simultaneous queries", &clickhouse.Exception{Code: 202}, false},
		{"memory limit", &clickhouse.Exception{Code: 241}, false},
		{"unknown table", &clickhouse.Exception{Code: 60}, false},
		{"unknown database", &clickhouse.Exception{Code: 81}, false},
		{"read only", &clickhouse.Exception{Code: 242}, false},
		{"plain error", errors.New("EOF"), false},
		{"already permanent", retry.Permanent(errors.New("x")), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := classify(tc.err)
			if got := retry.IsPermanent(err); got != tc.want {
				t.Errorf("IsPermanent(classify(%v)) = %v, want %v", tc.err, got, tc.want)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("classify lost the original error: %v", err)
			}
		})
	}
}

func TestBadRows(t *testing.T) {
	err := fmt.Errorf("insert: %w", retry.Permanent(errors.Join(
		&RowError{Index: 3, ID: "a", Err: errors.New("x")},
		&RowError{Index: 7, ID: "b", Err: errors.New("y")},
	)))
	if got := BadRows(err); !slices.Equal(got, []int{3, 7}) {
		t.Errorf("BadRows = %v, want [3 7]", got)
	}
	if !retry.IsPermanent(&RowError{}) {
		t.Error("a RowError is not permanent")
	}
	if got := BadRows(errors.New("EOF")); got != nil {
		t.Errorf("BadRows(transient) = %v, want nil", got)
	}
}

func TestPartitionChunks(t *testing.T) {
	for _, tc := range []struct {
		parts []int
		limit int
		want  []chunk
	}{
		{nil, 2, nil},
		{[]int{1, 1, 1}, 2, []chunk{{0, 3}}},
		{[]int{1, 2, 1, 2, 3, 3, 1}, 2, []chunk{{0, 4}, {4, 7}}},
		{[]int{1, 2, 3, 4, 5}, 2, []chunk{{0, 2}, {2, 4}, {4, 5}}},
		{[]int{5, 4, 3, 2, 1}, 100, []chunk{{0, 5}}},
	} {
		got := partitionChunks(len(tc.parts), func(i int) int { return tc.parts[i] }, tc.limit)
		if !slices.Equal(got, tc.want) {
			t.Errorf("partitionChunks(%v, %d) = %v, want %v", tc.parts, tc.limit, got, tc.want)
		}
	}
	// A replay of 20 years of CDRs, one a month.
	months := make([]int, 240)
	for i := range months {
		months[i] = yyyymm(time.Date(2005, time.Month(i+1), 1, 0, 0, 0, 0, time.UTC))
	}
	got := partitionChunks(len(months), func(i int) int { return months[i] }, maxPartitionsPerInsert)
	if want := []chunk{{0, 100}, {100, 200}, {200, 240}}; !slices.Equal(got, want) {
		t.Errorf("240 months: %v, want %v", got, want)
	}
}

func TestValidateCluster(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Cluster = "pn_cluster"
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate(cluster %q) = %v", cfg.Cluster, err)
	}
	if !strings.Contains(cfg.String(), "Cluster:pn_cluster") {
		t.Errorf("String does not show the cluster: %s", cfg)
	}
	for _, bad := range []string{"pn-cluster", "c; DROP DATABASE pn", "1c"} {
		cfg.Cluster = bad
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "clickhouse cluster") {
			t.Errorf("Validate(cluster %q) = %v, want a cluster error", bad, err)
		}
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg = DefaultConfig()
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"-clickhouse-cluster", "c1"}); err != nil || cfg.Cluster != "c1" {
		t.Errorf("-clickhouse-cluster c1: Cluster = %q, %v", cfg.Cluster, err)
	}
}
