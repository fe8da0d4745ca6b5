package warehouse

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/recording"
	"github.com/pnstream/pnstream/internal/testenv"
)

// analyticsViews are the views of migration 0005.
var analyticsViews = []string{
	"call_duration_histogram", "call_kpis_hourly", "call_outcomes", "calls_per_hour", "failure_reasons", "gaps",
	"recording_coverage", "recording_status", "top_failure_reasons", "usage_by_binding", "usage_by_number",
}

// workload is a known set of CDRs, disconnect events and recording outcomes,
// with the analytics expected of it computed here, in Go, independently of
// the views' SQL.
type workload struct {
	fees       []privatenumber.FeeRecord
	events     []privatenumber.CallEvent
	recordings []recording.Row
	// archiveStatus is each recorded call's latest archive outcome:
	// archived, failed or pending.
	archiveStatus map[string]string
	// orphanSessions have a disconnect event and no CDR.
	orphanSessions []string
}

// unansweredCodes are the ulFailReason codes the reference (section 7.2)
// files under normal hang-up, caller and callee: a call torn down with one
// of them and never answered is unanswered; any other code means failed.
var unansweredCodes = map[int]bool{
	0: true, 7501: true, 7502: true, 7516: true, 8033: true, 7503: true, 7504: true,
	8035: true, 8100: true, 8101: true, 8102: true, 8103: true, 8104: true, 8105: true,
}

// reasonText is the dictionary description the views must attach to the
// codes the workload uses; 9999 is not documented.
var reasonText = map[string]string{
	"ulFailReason/7501": "caller hung up before ringing",
	"ulFailReason/8101": "no answer",
	"ulFailReason/8102": "busy",
	"ulFailReason/8022": "binding missing or expired (AXE, B dialled X)",
	"ulFailReason/8025": "dialled X does not exist (AXE)",
	"ulFailReason/522":  "no free ports",
	"ulFailReason/9999": "undocumented",
	"ulFailReason/0":    "hung up normally after connect",
	"q850/17":           "user busy",
	"q850/19":           "no answer",
	"q850/41":           "temporary failure",
}

func newWorkload(seed uint64) *workload {
	rng := rand.New(rand.NewPCG(seed, seed))
	base := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	xs := []string{"+8617000000001", "+8617000000002", "+8617000000003", "+8617000000004"}
	failCodes := []int{7501, 8101, 8102, 8022, 8025, 522, 9999, 0}
	q850 := []int{0, 0, 17, 19, 41}
	statuses := []string{recording.Archived, recording.Failed, "pending", "retried"}
	w := &workload{archiveStatus: map[string]string{}}
	for i := range 300 {
		in := base.Add(time.Duration(rng.IntN(6*3600)) * time.Second)
		x := rng.IntN(len(xs))
		r := privatenumber.FeeRecord{
			ICID:       fmt.Sprintf("icid-%04d", i),
			SessionID:  fmt.Sprintf("session-%04d", i),
			BindNum:    xs[x],
			CallerNum:  "+86139" + fmt.Sprintf("%08d", i),
			CalleeNum:  xs[x],
			CallInTime: privatenumber.Time{Time: in},
		}
		if b := rng.IntN(7); b > 0 {
			r.SubscriptionID = fmt.Sprintf("sub-%d-%d", x, b%3)
		}
		if rng.IntN(100) < 60 {
			answer := in.Add(time.Duration(5+rng.IntN(20)) * time.Second)
			r.FwdAnswerTime = privatenumber.Time{Time: answer}
			r.CallEndTime = privatenumber.Time{Time: answer.Add(time.Duration(rng.IntN(2500)) * time.Second)}
			if rng.IntN(2) == 0 {
				r.RecordFlag = 1
			}
		} else {
			r.ULFailReason = privatenumber.Int(failCodes[rng.IntN(len(failCodes))])
			r.FwdUnaswRsn = privatenumber.Int(q850[rng.IntN(len(q850))])
			r.CallEndTime = privatenumber.Time{Time: in.Add(30 * time.Second)}
		}
		r.Raw = []byte(fmt.Sprintf(`{"icid":%q}`, r.ICID))
		w.fees = append(w.fees, r)
		w.events = append(w.events, disconnect(r.SessionID, r.CallEndTime.Time))
		if r.RecordFlag == 1 {
			w.addRecording(r, statuses[rng.IntN(len(statuses))], in)
		}
	}
	for i := range 3 {
		s := fmt.Sprintf("orphan-%d", i)
		w.orphanSessions = append(w.orphanSessions, s)
		w.events = append(w.events, disconnect(s, base.Add(time.Duration(i)*time.Hour)))
	}
	return w
}

// addRecording adds the archive's rows for a recorded call: none when
// pending, and a failed attempt superseded by an archived one when retried.
func (w *workload) addRecording(r privatenumber.FeeRecord, status string, at time.Time) {
	row := func(st string, mirrored time.Time) recording.Row {
		rec := recording.Row{ICID: r.ICID, SessionID: r.SessionID, Bucket: "pn-recordings", ObjectKey: "recordings/" + r.ICID + ".wav", MirroredAt: mirrored, Status: st}
		if st == recording.Failed {
			rec.Error = "download: 404"
		}
		return rec
	}
	switch status {
	case "pending":
	case "retried":
		w.recordings = append(w.recordings, row(recording.Failed, at.Add(time.Hour)), row(recording.Archived, at.Add(2*time.Hour)))
		status = recording.Archived
	default:
		w.recordings = append(w.recordings, row(status, at.Add(time.Hour)))
	}
	w.archiveStatus[r.ICID] = status
}

func disconnect(session string, at time.Time) privatenumber.CallEvent {
	code := privatenumber.Int(0)
	return privatenumber.CallEvent{
		EventType: "disconnect", SessionID: session, Timestamp: privatenumber.Time{Time: at},
		StateCode: &code, Raw: []byte(`{}`),
	}
}

// outcome classifies a CDR the way the reference describes it.
func outcome(r *privatenumber.FeeRecord) string {
	switch {
	case !r.FwdAnswerTime.IsZero():
		return "answered"
	case unansweredCodes[int(r.ULFailReason)]:
		return "unanswered"
	default:
		return "failed"
	}
}

func duration(r *privatenumber.FeeRecord) int64 {
	if r.FwdAnswerTime.IsZero() {
		return 0
	}
	return int64(r.CallEndTime.Sub(r.FwdAnswerTime.Time) / time.Second)
}

// loaded returns a migrated Warehouse holding the workload, every CDR and
// event inserted twice as a replay would, so that the views must
// deduplicate.
func loaded(t *testing.T, wl *workload) *Warehouse {
	t.Helper()
	w := migrated(t)
	ctx := testContext(t)
	for range 2 {
		if err := w.InsertFees(ctx, wl.fees); err != nil {
			t.Fatal(err)
		}
		if err := w.InsertEvents(ctx, wl.events); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.InsertRecordings(ctx, wl.recordings); err != nil {
		t.Fatal(err)
	}
	return w
}

// queryRows runs query, whose one column is a String (each row's columns
// rendered and joined by "|"), so that expectations can be written as
// strings.
func queryRows(t *testing.T, w *Warehouse, query string) []string {
	t.Helper()
	return testenv.QueryStrings(t, w.conn, query)
}

func checkView(t *testing.T, view string, got, want []string) {
	t.Helper()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", view, got, want)
	}
}

func TestAnalyticsViews(t *testing.T) {
	wl := newWorkload(7)
	w := loaded(t, wl)
	v := func(name string) string { return w.table(name) }
	hour := func(r *privatenumber.FeeRecord) string {
		return r.CallInTime.Truncate(time.Hour).Format(time.DateTime)
	}

	t.Run("calls_per_hour", func(t *testing.T) {
		want := map[string]int{}
		for i := range wl.fees {
			want[hour(&wl.fees[i])+"|"+outcome(&wl.fees[i])]++
		}
		got := queryRows(t, w, "SELECT concat(toString(hour), '|', outcome, '|', toString(calls)) FROM "+v("calls_per_hour"))
		checkView(t, "calls_per_hour", got, render(want))
	})

	t.Run("call_kpis_hourly", func(t *testing.T) {
		type kpi struct{ seizures, answered, seconds int64 }
		per := map[string]*kpi{}
		for i := range wl.fees {
			r := &wl.fees[i]
			k := per[hour(r)]
			if k == nil {
				k = &kpi{}
				per[hour(r)] = k
			}
			k.seizures++
			if outcome(r) == "answered" {
				k.answered++
				k.seconds += duration(r)
			}
		}
		var want []string
		for h, k := range per {
			avg := 0.0
			if k.answered > 0 {
				avg = float64(k.seconds) / float64(k.answered)
			}
			want = append(want, fmt.Sprintf("%s|%d|%d|%s|%s", h, k.seizures, k.answered,
				roundFloat(float64(k.answered)/float64(k.seizures), 4), roundFloat(avg, 2)))
		}
		got := queryRows(t, w, `SELECT concat(toString(hour), '|', toString(seizures), '|', toString(answered), '|',
			toString(round(asr, 4)), '|', toString(round(avg_duration_seconds, 2))) FROM `+v("call_kpis_hourly"))
		checkView(t, "call_kpis_hourly", got, want)
	})

	t.Run("call_duration_histogram", func(t *testing.T) {
		edges := []int64{0, 10, 30, 60, 120, 300, 600, 1800}
		want := map[string]int{}
		for i := range wl.fees {
			if outcome(&wl.fees[i]) != "answered" {
				continue
			}
			d := duration(&wl.fees[i])
			b := edges[0]
			for _, e := range edges {
				if d >= e {
					b = e
				}
			}
			want[fmt.Sprint(b)]++
		}
		got := queryRows(t, w, "SELECT concat(toString(bucket_seconds), '|', toString(calls)) FROM "+v("call_duration_histogram"))
		checkView(t, "call_duration_histogram", got, render(want))
	})

	t.Run("top_failure_reasons", func(t *testing.T) {
		want := map[string]int{}
		for i := range wl.fees {
			r := &wl.fees[i]
			if outcome(r) != "answered" {
				k := fmt.Sprintf("ulFailReason/%d", r.ULFailReason)
				want[k+"|"+reasonText[k]]++
			}
			if r.FwdUnaswRsn != 0 {
				k := fmt.Sprintf("q850/%d", r.FwdUnaswRsn)
				want[k+"|"+reasonText[k]]++
			}
		}
		got := queryRows(t, w, "SELECT concat(kind, '/', toString(code), '|', description, '|', toString(calls)) FROM "+v("top_failure_reasons"))
		checkView(t, "top_failure_reasons", got, render(want))
		// The view is ordered by calls, most first.
		counts := queryRows(t, w, "SELECT toString(calls) FROM "+v("top_failure_reasons"))
		if !slices.IsSortedFunc(counts, func(a, b string) int { return atoi(b) - atoi(a) }) {
			t.Errorf("top_failure_reasons not ordered by calls descending: %v", counts)
		}
	})

	t.Run("usage", func(t *testing.T) {
		byX, byBinding := map[string][3]int64{}, map[string][3]int64{}
		add := func(m map[string][3]int64, k string, r *privatenumber.FeeRecord) {
			u := m[k]
			u[0]++
			if outcome(r) == "answered" {
				u[1]++
			}
			u[2] += duration(r)
			m[k] = u
		}
		for i := range wl.fees {
			r := &wl.fees[i]
			add(byX, r.BindNum, r)
			add(byBinding, r.SubscriptionID+"|"+r.BindNum, r)
		}
		got := queryRows(t, w, "SELECT concat(bind_num, '|', toString(calls), '|', toString(answered), '|', toString(total_duration_seconds)) FROM "+v("usage_by_number"))
		checkView(t, "usage_by_number", got, renderUsage(byX))
		got = queryRows(t, w, "SELECT concat(subscription_id, '|', bind_num, '|', toString(calls), '|', toString(answered), '|', toString(total_duration_seconds)) FROM "+v("usage_by_binding"))
		checkView(t, "usage_by_binding", got, renderUsage(byBinding))
	})

	t.Run("recording_coverage", func(t *testing.T) {
		type cov struct{ recorded, archived, failed, pending int }
		per := map[string]*cov{}
		for i := range wl.fees {
			r := &wl.fees[i]
			st, ok := wl.archiveStatus[r.ICID]
			if !ok {
				continue
			}
			day := r.CallInTime.Format(time.DateOnly)
			c := per[day]
			if c == nil {
				c = &cov{}
				per[day] = c
			}
			c.recorded++
			switch st {
			case recording.Archived:
				c.archived++
			case recording.Failed:
				c.failed++
			default:
				c.pending++
			}
		}
		var want []string
		for d, c := range per {
			want = append(want, fmt.Sprintf("%s|%d|%d|%d|%d", d, c.recorded, c.archived, c.failed, c.pending))
		}
		got := queryRows(t, w, `SELECT concat(toString(day), '|', toString(recorded), '|', toString(archived), '|',
			toString(failed), '|', toString(pending)) FROM `+v("recording_coverage"))
		checkView(t, "recording_coverage", got, want)
	})

	t.Run("gaps", func(t *testing.T) {
		var want []string
		for _, s := range wl.orphanSessions {
			want = append(want, "missing_cdr|"+s+"|")
		}
		for i := range wl.fees {
			r := &wl.fees[i]
			if st, ok := wl.archiveStatus[r.ICID]; ok && st != recording.Archived {
				want = append(want, "unarchived_recording|"+r.SessionID+"|"+r.ICID)
			}
		}
		got := queryRows(t, w, "SELECT concat(kind, '|', session_id, '|', icid) FROM "+v("gaps"))
		checkView(t, "gaps", got, want)
	})
}

func render(m map[string]int) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, fmt.Sprintf("%s|%d", k, m[k]))
	}
	return out
}

func renderUsage(m map[string][3]int64) []string {
	var out []string
	for k, u := range m {
		out = append(out, fmt.Sprintf("%s|%d|%d|%d", k, u[0], u[1], u[2]))
	}
	return out
}

// roundFloat renders x rounded to places decimals the way ClickHouse's
// toString(round(x, places)) prints a Float64: shortest form, no trailing
// zeros.
func roundFloat(x float64, places int) string {
	p := math.Pow(10, float64(places))
	return strconv.FormatFloat(math.Round(x*p)/p, 'f', -1, 64)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s) // the view's counts; a non-number sorts as 0 and fails the order check
	return n
}

// The typed readers of the report return what the views hold.
func TestReportQueries(t *testing.T) {
	wl := newWorkload(5)
	w := loaded(t, wl)
	ctx := testContext(t)
	from, to := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	hours, err := w.CallsPerHour(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var answered, all uint64
	for _, h := range hours {
		answered += h.Answered
		all += h.Seizures()
	}
	wantAnswered := 0
	for i := range wl.fees {
		if outcome(&wl.fees[i]) == "answered" {
			wantAnswered++
		}
	}
	if all != uint64(len(wl.fees)) || answered != uint64(wantAnswered) || len(hours) != 6 {
		t.Errorf("CallsPerHour: %d hours, %d calls, %d answered; want 6, %d, %d", len(hours), all, answered, len(wl.fees), wantAnswered)
	}
	reasons, err := w.TopFailureReasons(ctx, 3)
	if err != nil || len(reasons) != 3 || reasons[0].Calls < reasons[2].Calls || reasons[0].Description == "" {
		t.Errorf("TopFailureReasons(3) = %+v, %v", reasons, err)
	}
	cov, err := w.RecordingCoverage(ctx, from, to)
	if err != nil || len(cov) != 1 || cov[0].Recorded != uint64(len(wl.archiveStatus)) || !cov[0].Day.Equal(from) {
		t.Errorf("RecordingCoverage = %+v, %v; want one day of %d recorded calls", cov, err, len(wl.archiveStatus))
	}
}
