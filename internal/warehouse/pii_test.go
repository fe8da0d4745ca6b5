package warehouse

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/privatenumber"
)

// personalWorkload returns CDRs and events whose raw JSON and sessionIds
// carry the subscribers' numbers the way the platform sends them, and
// those numbers: each caller is unique, the forward destinations repeat.
func personalWorkload(t *testing.T) ([]privatenumber.FeeRecord, []privatenumber.CallEvent, []string) {
	t.Helper()
	wl := newWorkload(11)
	var numbers []string
	for i := range wl.fees {
		r := &wl.fees[i]
		r.FwdDstNum = fmt.Sprintf("+86150000000%02d", i%20)
		r.FwdDisplayNum = r.BindNum
		r.SessionID = strings.TrimPrefix(r.CallerNum, "+") + "_" + r.FwdDstNum + "_4_" + r.ICID
		raw, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r.Raw = raw
		numbers = append(numbers, r.CallerNum, r.FwdDstNum)
	}
	events := make([]privatenumber.CallEvent, 0, len(wl.fees))
	for i := range wl.fees {
		r := &wl.fees[i]
		e := disconnect(r.SessionID, r.CallEndTime.Time)
		e.Caller, e.Called = r.CallerNum, r.FwdDstNum
		e.Raw = fmt.Appendf(nil, `{"eventType":"disconnect","statusInfo":{"sessionId":%q,"caller":%q,"called":%q,"timestamp":%q}}`,
			r.SessionID, r.CallerNum, r.FwdDstNum, r.CallEndTime.Format("2006-01-02 15:04:05"))
		events = append(events, e)
	}
	return wl.fees, events, numbers
}

// stringValues returns every value of every String column of every table
// of w's database, as "table.column: value".
func stringValues(t *testing.T, w *Warehouse) []string {
	t.Helper()
	ctx := testContext(t)
	rows, err := w.conn.Query(ctx, `SELECT table, name FROM system.columns
		WHERE database = ? AND type IN ('String', 'Nullable(String)')
			AND table IN (SELECT name FROM system.tables WHERE database = ? AND engine NOT LIKE '%View')`, w.db, w.db)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, name string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.name); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	if len(cols) < 20 {
		t.Fatalf("found only %d String columns: %v", len(cols), cols)
	}
	var values []string
	for _, c := range cols {
		for _, v := range queryRows(t, w, fmt.Sprintf("SELECT toString(%s) FROM %s", c.name, w.table(c.table))) {
			values = append(values, c.table+"."+c.name+": "+v)
		}
	}
	return values
}

// TestPIIPoliciesLeaveNoFullNumber stores CDRs and events under the masked
// and the hmac policy and scans every String column of every table for
// the subscribers' numbers, with and without "+"; with hmac, the hashed
// numbers still join: per-number counts and CDR-to-event joins match.
func TestPIIPoliciesLeaveNoFullNumber(t *testing.T) {
	for _, mode := range []string{pii.ModeMasked, pii.ModeHMAC} {
		t.Run(mode, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Addr = chServer.Addr()
			cfg.Database = chServer.NewDatabase(t)
			cfg.PIIMode, cfg.PIIKey = mode, "a test key of thirty-two bytes.."
			w := openConfig(t, cfg)
			ctx := testContext(t)
			if err := w.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			fees, events, numbers := personalWorkload(t)
			if err := w.InsertFees(ctx, fees); err != nil {
				t.Fatal(err)
			}
			if err := w.InsertEvents(ctx, events); err != nil {
				t.Fatal(err)
			}
			values := stringValues(t, w)
			if len(values) < len(fees)*10 {
				t.Fatalf("scanned only %d values", len(values))
			}
			leaks := 0
			for _, v := range values {
				for _, n := range numbers {
					if strings.Contains(v, n) || strings.Contains(v, strings.TrimPrefix(n, "+")) {
						if leaks++; leaks <= 5 {
							t.Errorf("%s contains %s", v, n)
						}
					}
				}
			}
			if leaks > 0 {
				t.Fatalf("%d values carry a full phone number", leaks)
			}

			// Per-destination counts survive the policy (hashes are
			// distinct; masks may collide, so only hmac is checked), and
			// every CDR still joins its events by sessionId.
			if mode == pii.ModeHMAC {
				policy, err := cfg.PIIPolicy()
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]int{}
				for i := range fees {
					want[policy.Number(fees[i].FwdDstNum)]++
				}
				got := queryRows(t, w, "SELECT concat(fwd_dst_num, '|', toString(count())) FROM "+w.table("fee_records")+" FINAL GROUP BY fwd_dst_num")
				checkView(t, "calls per destination", got, render(want))
			}
			joined := queryRows(t, w, `SELECT toString(count()) FROM `+w.table("fee_records")+` FINAL
				ANY INNER JOIN (SELECT session_id, caller FROM `+w.table("call_events")+` FINAL) USING session_id
				WHERE caller = caller_num`)
			if len(joined) != 1 || joined[0] != fmt.Sprint(len(fees)) {
				t.Errorf("CDRs joining their events on session_id and caller: %v, want %d", joined, len(fees))
			}
		})
	}
}

// TestPIIPoliciesKeepSessionIdentities stores, under every mode, events of
// two calls whose seed-form sessionIds differ only in digits of the
// 10-digit id part (same type, same second), and two calls whose
// number-built sessionIds differ only in the caller's hidden digits: each
// call keeps its own row, and the seed's sessionId is found as the
// platform sent it.
func TestPIIPoliciesKeepSessionIdentities(t *testing.T) {
	at := time.Date(2019, 1, 24, 7, 3, 28, 0, time.UTC)
	sessions := []string{
		"1202_1051_4294967295_20190124070250@callenabler246.huaweicaas.com",
		"1202_1051_4294967296_20190124070250@callenabler246.huaweicaas.com",
		"1202_1051_5294967295_20190124070250@callenabler246.huaweicaas.com",
		"+8613442977762_+8615006212131_4_627e5c1f_963036_669_1_0",
		"+8613442977763_+8615006212131_4_627e5c1f_963036_669_1_0",
		"+8613442977762_+8615006212132_4_627e5c1f_963036_669_1_0",
	}
	for _, mode := range []string{pii.ModeRaw, pii.ModeMasked, pii.ModeHMAC} {
		t.Run(mode, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Addr = chServer.Addr()
			cfg.Database = chServer.NewDatabase(t)
			cfg.PIIMode, cfg.PIIKey = mode, "a test key of thirty-two bytes.."
			w := openConfig(t, cfg)
			ctx := testContext(t)
			if err := w.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			var events []privatenumber.CallEvent
			for _, s := range sessions {
				e := disconnect(s, at)
				e.Caller, e.Called = "+86138****0022", "+86138****7021"
				events = append(events, e)
			}
			if err := w.InsertEvents(ctx, events); err != nil {
				t.Fatal(err)
			}
			got := queryRows(t, w, "SELECT toString(count()) FROM "+w.table("call_events")+" FINAL")
			if len(got) != 1 || got[0] != fmt.Sprint(len(sessions)) {
				t.Errorf("%d calls stored as %v rows", len(sessions), got)
			}
			for _, s := range sessions[:3] {
				found := queryRows(t, w, "SELECT session_id FROM "+w.table("call_events")+" FINAL WHERE session_id = '"+s+"'")
				if len(found) != 1 {
					t.Errorf("lookup by the platform's sessionId %q: %v", s, found)
				}
			}
		})
	}
}
