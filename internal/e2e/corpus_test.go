package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/ingest"
)

// corpusPush is one sample of testdata/corpus: a body in the shape the
// platform sends (or public receivers recorded), the path it arrives on and
// the rows it must become.
type corpusPush struct {
	file string
	path string
	rows []corpusRow
}

// corpusRow is one row a sample must produce: the row of table matching
// where, with each column (as ClickHouse's toString shows it; NULL for
// NULL) equal to its want. anomalies is compared as a set.
type corpusRow struct {
	table     string
	where     string
	want      map[string]string
	anomalies []string
}

// corpus is every sample shape in the platform reference: the seed pushes,
// the 2019 duplicate pair, the 2022 real CDR with voiceCheckType and the
// "+"-number sessionId form, a 2018 click-to-call CDR without callInTime,
// an AXE CDR with the optional and odd fields, and an X-number status push
// on the call-status URL.
var corpus = []corpusPush{
	{file: "seed-fee.json", path: ingest.PathFees, rows: []corpusRow{{
		table: "fee_records", where: "icid = 'ba171f34e6953fcd751edc77127748f4.3757289590.338833305.5'",
		want: map[string]string{
			"direction": "0", "session_id": "1201_11275_4294967295_20190124033310@callenabler246.huaweicaas.com",
			"call_in_time": "2019-01-24 03:33:10", "call_in_time_derived": "0", "fwd_answer_time": "2019-01-24 03:33:28",
			"fail_time": "NULL", "record_flag": "1", "service_type": "005", "extend_num": "02",
			"call_duration": "NULL", "area_code": "",
		},
	}}},
	{file: "seed-event.json", path: ingest.PathEvents, rows: []corpusRow{{
		table: "call_events", where: "session_id = '1202_1051_4294967295_20190124070250@callenabler246.huaweicaas.com'",
		want: map[string]string{
			"event_type": "disconnect", "event_time": "2019-01-24 07:03:28", "state_code": "0",
			"state_desc": "The user releases the call.", "call_rel_direction": "NULL",
		},
	}}},
	{file: "public-2019-duplicate-pair.json", path: ingest.PathNotifications, rows: []corpusRow{{
		table: "fee_records", where: "icid = 'ba171f34e6953fcd751edc77127748f4.3757223714.337238282.9'",
		want: map[string]string{
			"direction": "1", "call_in_time": "2019-01-23 09:15:14", "call_end_time": "2019-01-23 09:16:41",
			"record_object_name": "19012309153712050118304.wav", "service_type": "004", "extend_num": "",
		},
	}}},
	{file: "public-2022-voicechecktype.json", path: ingest.PathFees, rows: []corpusRow{{
		table: "fee_records", where: "icid = 'c08dd88381a6deaa14e1c26e89e19b16.3861408249.24986516.29'",
		want: map[string]string{
			"session_id":   "+8613442977762_+8615006212131_4_627e5c1f_963036_669_1_0",
			"call_in_time": "2022-05-13 05:24:57", "record_domain": "ostorQH2.huawei.com", "host_name": "qhats01.huaweicaas.com",
		},
	}}},
	{file: "event-plus-session-disconnect.json", path: ingest.PathNotifications, rows: []corpusRow{{
		table: "call_events", where: "session_id = '+8613442977762_+8615006212131_4_627e5c1f_963036_669_1_0'",
		want: map[string]string{
			"event_type": "disconnect", "event_time": "2022-05-13 05:25:41", "subscription_id": "c1564552-844a-4048-9ac7-d4f5944543fc",
			"state_code": "0", "call_rel_direction": "1",
		},
	}}},
	{file: "click-to-call-2018-no-callintime.json", path: ingest.PathFees, rows: []corpusRow{{
		table: "fee_records", where: "icid = 'CAE-20181018135430-00000001'",
		want: map[string]string{
			// The earliest documented time the record carries (its
			// callOut* times are not AXE fields, and raw keeps them).
			"call_in_time": "2018-10-18 05:54:51", "call_in_time_derived": "1",
			"fwd_start_time": "2018-10-18 05:54:51", "fail_time": "2018-10-18 05:54:53",
			"ul_fail_reason": "518", "sip_status_code": "480", "subscription_id": "", "service_type": "002",
		},
		anomalies: []string{"callInTime:missing"},
	}}},
	{file: "axe-optional-and-odd-fields.json", path: ingest.PathFees, rows: []corpusRow{{
		table: "fee_records", where: "icid = 'corpus-odd-fields-0001'",
		want: map[string]string{
			"direction": "3", "mpty_id": "12345", "service_type": "4", "extend_num": "7",
			"call_duration": "90", "area_code": "0755", "call_in_time_derived": "0",
		},
		anomalies: []string{"direction:range", "extendNum:type", "mptyId:type", "serviceType:type"},
	}}},
	{file: "numstatus.json", path: ingest.PathEvents, rows: []corpusRow{
		{table: "number_status", where: "number = '+8617000000001'", want: map[string]string{"status": "9", "cause": "2"}},
		{table: "number_status", where: "number = '+8617000000002'", want: map[string]string{"status": "5", "cause": ""}},
		{table: "number_status", where: "number = '+8617000000003'", want: map[string]string{"status": "10", "cause": "3"},
			anomalies: []string{"numInfo.status:type", "numInfo.cause:type"}},
	}},
}

// TestGoldenCorpusBecomesRows pushes every sample of the corpus through
// ingest and the recorder and asserts the rows: typed columns, derived
// times, anomalies, and raw exactly as received.
func TestGoldenCorpusBecomesRows(t *testing.T) {
	t.Parallel()
	p := start(t, nil)
	perTable := map[string]uint64{}
	for _, c := range corpus {
		body, err := os.ReadFile(filepath.Join("testdata", "corpus", c.file))
		if err != nil {
			t.Fatal(err)
		}
		if s := p.push(c.path, body); s != 200 {
			t.Fatalf("%s on %s: %d", c.file, c.path, s)
		}
		for _, r := range c.rows {
			perTable[r.table]++
		}
	}
	for table, n := range perTable {
		p.waitCount("SELECT count() FROM "+table+" FINAL", n, 20*time.Second)
	}

	for _, c := range corpus {
		raws := recordsOf(t, c.file)
		for i, r := range c.rows {
			cols := slices.Sorted(func(yield func(string) bool) {
				for k := range r.want {
					if !yield(k) {
						return
					}
				}
			})
			exprs := make([]string, 0, len(cols)+2)
			for _, col := range cols {
				exprs = append(exprs, "ifNull(toString("+col+"), 'NULL')")
			}
			exprs = append(exprs, "arrayStringConcat(anomalies, ' ')", "raw")
			got := make([]string, len(exprs))
			dest := make([]any, len(exprs))
			for j := range got {
				dest[j] = &got[j]
			}
			q := "SELECT " + strings.Join(exprs, ", ") + " FROM " + r.table + " FINAL WHERE " + r.where
			if err := p.conn().QueryRow(context.Background(), q).Scan(dest...); err != nil {
				t.Errorf("%s: %s: %v", c.file, q, err)
				continue
			}
			for j, col := range cols {
				if got[j] != r.want[col] {
					t.Errorf("%s: %s.%s = %q, want %q", c.file, r.table, col, got[j], r.want[col])
				}
			}
			anomalies := strings.Fields(got[len(cols)])
			slices.Sort(anomalies)
			want := slices.Sorted(slices.Values(r.anomalies))
			if !slices.Equal(anomalies, want) {
				t.Errorf("%s: %s anomalies = %v, want %v", c.file, r.table, anomalies, want)
			}
			if i < len(raws) && got[len(cols)+1] != raws[i] {
				t.Errorf("%s: %s raw = %s, want the record exactly as received: %s", c.file, r.table, got[len(cols)+1], raws[i])
			}
		}
	}
}

// recordsOf returns the records of a sample exactly as in the file: the
// fee records of feeLst, the items of numInfo, or the whole body of a call
// event.
func recordsOf(t *testing.T, file string) []string {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "corpus", file))
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		FeeLst  []json.RawMessage `json:"feeLst"`
		NumInfo []json.RawMessage `json:"numInfo"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range append(b.FeeLst, b.NumInfo...) {
		out = append(out, string(r))
	}
	if out == nil {
		out = []string{string(body)}
	}
	return out
}
