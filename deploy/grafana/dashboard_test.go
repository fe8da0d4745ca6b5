// Package grafana_test runs the SQL of every panel of the Grafana
// dashboards in this folder against a real ClickHouse holding a known
// workload, with the data source plugin's macros expanded as the plugin
// expands them, and checks that each returns rows of the expected shape.
package grafana_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/internal/warehouse"
)

var chServer *testenv.ClickHouseServer

func TestMain(m *testing.M) {
	var err error
	chServer, err = testenv.StartClickHouse(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := chServer.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

type dashboard struct {
	Panels []struct {
		ID      int    `json:"id"`
		Title   string `json:"title"`
		Targets []struct {
			Format int    `json:"format"`
			RawSQL string `json:"rawSql"`
		} `json:"targets"`
	} `json:"panels"`
}

// expandMacros replaces the grafana-clickhouse-datasource macros the
// dashboards use with the SQL the plugin generates for the time range
// [from, to], and the dashboard variable ${database}. A macro it does not
// know fails the test: it would reach ClickHouse unexpanded.
func expandMacros(t *testing.T, sql, database string, from, to time.Time) string {
	t.Helper()
	dt := func(tm time.Time) string { return fmt.Sprintf("toDateTime(%d)", tm.Unix()) }
	d := func(tm time.Time) string { return fmt.Sprintf("toDate('%s')", tm.UTC().Format(time.DateOnly)) }
	sql = strings.ReplaceAll(sql, "${database}", database)
	withArg := regexp.MustCompile(`\$__(timeFilter|dateFilter)\(\s*([^)]+?)\s*\)`)
	sql = withArg.ReplaceAllStringFunc(sql, func(m string) string {
		p := withArg.FindStringSubmatch(m)
		if p[1] == "timeFilter" {
			return fmt.Sprintf("%s >= %s AND %s <= %s", p[2], dt(from), p[2], dt(to))
		}
		return fmt.Sprintf("%s >= %s AND %s <= %s", p[2], d(from), p[2], d(to))
	})
	sql = strings.NewReplacer("$__fromTime", dt(from), "$__toTime", dt(to)).Replace(sql)
	if strings.Contains(sql, "$__") || strings.Contains(sql, "${") {
		t.Fatalf("unexpanded macro or variable in %s", sql)
	}
	return sql
}

// wantColumns is the shape of each panel's result: its column names; the
// first is the time column of a time series (format 0).
var wantColumns = map[string][]string{
	"Calls per hour by outcome":     {"time", "answered", "unanswered", "failed"},
	"Answer-seizure ratio":          {"asr"},
	"Average call duration":         {"avg_duration"},
	"Open gaps":                     {"kind", "gaps"},
	"Answer-seizure ratio per hour": {"time", "asr"},
	"Average duration per hour":     {"time", "avg_duration_seconds"},
	"Call duration histogram":       {"bucket", "calls"},
	"Top failure reasons":           {"kind", "code", "description", "category", "calls"},
	"Usage per privacy number X":    {"bind_num", "calls", "answered", "minutes", "last_call"},
	"Usage per binding":             {"subscription_id", "bind_num", "calls", "answered", "minutes", "last_call"},
	"Recording coverage per day":    {"time", "archived", "failed", "pending"},
	"X numbers not usable":          {"number", "status", "cause", "meaning", "since"},
	"Field anomalies":               {"table", "field", "kind", "records", "last_seen"},
}

func TestDashboardPanelsQueryTheViews(t *testing.T) {
	b, err := os.ReadFile("pnstream.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash dashboard
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	w, db := loadWorkload(t)
	defer w.Close()
	conn := chServer.Open(t, db)
	from, to := base.Add(-24*time.Hour), base.Add(24*time.Hour)

	var seen []string
	for _, p := range dash.Panels {
		want, ok := wantColumns[p.Title]
		if !ok {
			t.Errorf("panel %q: no expected shape in this test", p.Title)
			continue
		}
		seen = append(seen, p.Title)
		if len(p.Targets) != 1 {
			t.Errorf("panel %q has %d queries, want 1", p.Title, len(p.Targets))
			continue
		}
		sql := expandMacros(t, p.Targets[0].RawSQL, db, from, to)
		rows, err := conn.Query(context.Background(), sql)
		if err != nil {
			t.Errorf("panel %q: %v\n%s", p.Title, err, sql)
			continue
		}
		var cols []string
		for _, c := range rows.ColumnTypes() {
			cols = append(cols, c.Name())
		}
		if !slices.Equal(cols, want) {
			t.Errorf("panel %q: columns %v, want %v", p.Title, cols, want)
		}
		if p.Targets[0].Format == 0 {
			if typ := rows.ColumnTypes()[0].DatabaseTypeName(); !strings.HasPrefix(typ, "DateTime") {
				t.Errorf("time series panel %q: first column is %s, want DateTime", p.Title, typ)
			}
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Errorf("panel %q: %v", p.Title, err)
		}
		rows.Close()
		if n == 0 {
			t.Errorf("panel %q returned no rows over a known workload", p.Title)
		}
	}
	if len(seen) != len(wantColumns) {
		t.Errorf("dashboard has panels %v, want %d panels", seen, len(wantColumns))
	}
}

var base = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

// loadWorkload stores six hours of calls of every outcome, some with an
// anomaly, recordings archived, failed and pending, a disconnect without
// CDR, and X numbers usable and not.
func loadWorkload(t *testing.T) (*warehouse.Warehouse, string) {
	t.Helper()
	cfg := warehouse.DefaultConfig()
	cfg.Addr, cfg.Database = chServer.Addr(), chServer.NewDatabase(t)
	// The rows are what the recorder stores by default: numbers masked.
	masked, err := pii.New(pii.ModeMasked, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	w, err := warehouse.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	codes := []int{0, 8101, 8102, 8022, 522}
	var fees []privatenumber.FeeRecord
	var recs []recording.Row
	for i := range 60 {
		in := base.Add(time.Duration(i*6) * time.Minute)
		r := privatenumber.FeeRecord{
			ICID: fmt.Sprintf("g-%d", i), SessionID: fmt.Sprintf("gs-%d", i), BindNum: fmt.Sprintf("+861700000000%d", i%3),
			SubscriptionID: fmt.Sprintf("sub-%d", i%4), CallerNum: fmt.Sprintf("+86139000000%02d", i),
			CallInTime: privatenumber.Time{Time: in}, Raw: []byte(`{}`),
		}
		if i%2 == 0 {
			r.FwdAnswerTime = privatenumber.Time{Time: in.Add(10 * time.Second)}
			r.CallEndTime = privatenumber.Time{Time: in.Add(time.Duration(10+i*20) * time.Second)}
			r.RecordFlag = 1
			switch i % 3 {
			case 0:
				recs = append(recs, recording.Row{ICID: r.ICID, SessionID: r.SessionID, Status: recording.Archived, MirroredAt: in.Add(time.Hour)})
			case 1:
				recs = append(recs, recording.Row{ICID: r.ICID, SessionID: r.SessionID, Status: recording.Failed, Error: "404", MirroredAt: in.Add(time.Hour)})
			}
		} else {
			r.ULFailReason = privatenumber.Int(codes[i%len(codes)])
			r.FwdUnaswRsn = 17
		}
		if i%10 == 0 {
			r.Anomalies = []privatenumber.Anomaly{{Field: "serviceType", Kind: privatenumber.AnomalyType}}
		}
		fees = append(fees, masked.Fee(r))
	}
	orphan := masked.Event(privatenumber.CallEvent{EventType: "disconnect", SessionID: "orphan", Timestamp: privatenumber.Time{Time: base}, Raw: []byte(`{}`)})
	if err := w.InsertFees(ctx, fees); err != nil {
		t.Fatal(err)
	}
	if err := w.InsertEvents(ctx, []privatenumber.CallEvent{orphan}); err != nil {
		t.Fatal(err)
	}
	if err := w.InsertRecordings(ctx, recs); err != nil {
		t.Fatal(err)
	}
	numbers := []privatenumber.NumberStatus{
		{Number: "+8617000000000", Status: "9", Cause: "2", Raw: []byte(`{}`), StreamSeq: 1},
		{Number: "+8617000000001", Status: "5", Raw: []byte(`{}`), StreamSeq: 2},
	}
	if err := w.InsertNumberStatus(ctx, numbers); err != nil {
		t.Fatal(err)
	}
	return w, cfg.Database
}
