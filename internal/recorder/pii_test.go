package recorder

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/internal/warehouse/warehousetest"
)

// These tests pin what the recorder's privacy step stores: rows and
// recording jobs under each PN_PII_MODE. They moved here from the
// warehouse, which stores records as given since the recorder applies the
// policy.

const piiTestKey = "a test key of thirty-two bytes.."

// publishPersonal publishes CDRs and their disconnect events whose fields,
// raw JSON and sessionIds carry the subscribers' numbers the way the
// platform sends them, and returns those numbers: each caller is unique,
// the forward destinations repeat. Every CDR is recorded, so each has a
// recording job too: the even ones come on the legacy FeeSubject (an
// ingest from before RecordedFeeSubject), whose jobs the recorder
// enqueues; the odd ones on RecordedFeeSubject, whose jobs the mirror
// makes from PN_FEES.
func publishPersonal(t *testing.T, js jetstream.JetStream, n int) (callers, destinations []string) {
	t.Helper()
	const x = "+8617000000001" // the tenant's privacy number: kept
	ctx := context.Background()
	for i := range n {
		caller, dst := fmt.Sprintf("+86139000%05d", i), fmt.Sprintf("+861500000%04d", i%7)
		icid := fmt.Sprintf("pii-%d", i)
		session := strings.TrimPrefix(caller, "+") + "_" + dst + "_4_" + icid
		fee := fmt.Sprintf(`{"direction":0,"spId":"sp","appKey":"ak","icid":%q,"bindNum":%q,"sessionId":%q,`+
			`"subscriptionId":"sub-%d","callerNum":%q,"calleeNum":%q,"fwdDisplayNum":%q,"fwdDstNum":%q,`+
			`"callInTime":"2024-01-24 03:33:10","fwdAnswerTime":"2024-01-24 03:33:28","callEndTime":"2024-01-24 03:33:57",`+
			`"recordFlag":1,"recordDomain":"ostor.example.com","recordObjectName":"%s.wav","userData":"for %s"}`,
			icid, x, session, i, caller, x, x, dst, icid, dst)
		event := fmt.Sprintf(`{"eventType":"disconnect","statusInfo":{"sessionId":%q,"caller":%q,"called":%q,"timestamp":"2024-01-24 03:33:57"}}`,
			session, caller, dst)
		if _, err := js.Publish(ctx, streams.FeeSubjectFor(i%2 == 1), []byte(fee)); err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, streams.EventSubject("disconnect"), []byte(event)); err != nil {
			t.Fatal(err)
		}
		callers, destinations = append(callers, caller), append(destinations, dst)
	}
	return callers, destinations
}

// recordUnderPolicy runs a recorder with policy and the recording jobs
// until the consumers of the given streams are drained.
func recordUnderPolicy(t *testing.T, js jetstream.JetStream, wh Store, policy pii.Policy, tables ...string) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.BatchWait, cfg.AckWait = 200*time.Millisecond, 3*time.Second
	stop := runRecorder(t, cfg, Deps{
		JetStream: js, Store: wh, PII: policy,
		Jobs:   archive.NewEnqueuer(streams.NewJetStreamPublisher(js.Conn(), js)),
		Logger: silentLogger(t), Registry: prometheus.NewRegistry(),
	})
	for _, table := range tables {
		stream := map[string]string{"fees": streams.Fees, "events": streams.Events}[table]
		waitDrained(t, js, stream, cfg.ConsumerPrefix+"-"+table, time.Minute)
	}
	stop()
}

// stringValues returns every value of every String column of every table
// of db, as "table.column: value".
func stringValues(t *testing.T, conn driver.Conn, db string) []string {
	t.Helper()
	cols := testenv.QueryStrings(t, conn, `SELECT concat(table, '.', name) FROM system.columns
		WHERE database = ? AND type IN ('String', 'Nullable(String)')
			AND table IN (SELECT name FROM system.tables WHERE database = ? AND engine NOT LIKE '%View')`, db, db)
	if len(cols) < 20 {
		t.Fatalf("found only %d String columns: %v", len(cols), cols)
	}
	var values []string
	for _, c := range cols {
		table, col, _ := strings.Cut(c, ".")
		for _, v := range testenv.QueryStrings(t, conn, fmt.Sprintf("SELECT toString(%s) FROM %s", col, table)) {
			values = append(values, c+": "+v)
		}
	}
	return values
}

// feeJobs returns the jobs the mirror makes of the recorded CDRs on
// PN_FEES (archive.JobFromFee, with the recorder's policy).
func feeJobs(t *testing.T, js jetstream.JetStream, policy pii.Policy) []archive.Job {
	t.Helper()
	ctx := context.Background()
	cons, err := js.OrderedConsumer(ctx, streams.Fees, jetstream.OrderedConsumerConfig{FilterSubjects: []string{streams.RecordedFeeSubject}})
	if err != nil {
		t.Fatal(err)
	}
	var jobs []archive.Job
	for {
		mb, err := cons.FetchNoWait(100)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for m := range mb.Messages() {
			got++
			j, ok, err := archive.JobFromFee(m.Data(), policy.FeeSessionID, archive.Retention)
			if err != nil || !ok {
				t.Fatalf("job of %s: %v, %v", m.Data(), ok, err)
			}
			jobs = append(jobs, j)
		}
		if err := mb.Error(); err != nil {
			t.Fatal(err)
		}
		if got == 0 {
			return jobs
		}
	}
}

// recordingJobs returns the jobs on PN_RECORDINGS, checking that no body
// holds one of numbers, with or without "+".
func recordingJobs(t *testing.T, js jetstream.JetStream, numbers []string) []archive.Job {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, streams.Recordings)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []archive.Job
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range numbers {
			if strings.Contains(string(m.Data), strings.TrimPrefix(n, "+")) {
				t.Errorf("job holds %s: %s", n, m.Data)
			}
		}
		j, err := archive.DecodeJob(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	return jobs
}

// TestPIIPoliciesLeaveNoFullNumber records CDRs and events under the
// masked and the hmac policy and scans every String column of every table
// and every recording job for the subscribers' numbers, with and without
// "+"; each job carries its CDR row's sessionId; with hmac, the hashed
// numbers still join: per-number counts and CDR-to-event joins match.
func TestPIIPoliciesLeaveNoFullNumber(t *testing.T) {
	t.Parallel()
	const n = 40
	for _, mode := range []string{pii.ModeMasked, pii.ModeHMAC} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			policy, err := pii.Config{Mode: mode, Key: piiTestKey}.Policy()
			if err != nil {
				t.Fatal(err)
			}
			js := provisionedJetStream(t)
			wh, db := warehousetest.Open(t, chServer)
			callers, destinations := publishPersonal(t, js, n)
			recordUnderPolicy(t, js, wh, policy, "fees", "events")
			conn := chServer.Open(t, db)

			numbers := slices.Concat(callers, destinations)
			values := stringValues(t, conn, db)
			if len(values) < n*10 {
				t.Fatalf("scanned only %d values", len(values))
			}
			leaks := 0
			for _, v := range values {
				for _, num := range numbers {
					if strings.Contains(v, num) || strings.Contains(v, strings.TrimPrefix(num, "+")) {
						if leaks++; leaks <= 5 {
							t.Errorf("%s contains %s", v, num)
						}
					}
				}
			}
			if leaks > 0 {
				t.Fatalf("%d values carry a full phone number", leaks)
			}

			jobs := recordingJobs(t, js, numbers)
			if len(jobs) != n/2 {
				t.Fatalf("%d recording jobs enqueued, want %d (the CDRs on %s)", len(jobs), n/2, streams.FeeSubject)
			}
			jobs = append(jobs, feeJobs(t, js, policy)...)
			if len(jobs) != n {
				t.Fatalf("%d recording jobs in all, want %d", len(jobs), n)
			}
			for _, j := range jobs {
				row := testenv.QueryStrings(t, conn, "SELECT session_id FROM fee_records FINAL WHERE icid = ?", j.ICID)
				if len(row) != 1 || row[0] != j.SessionID || j.RecordDomain != "ostor.example.com" || j.RecordObjectName != j.ICID+".wav" {
					t.Errorf("job %+v, CDR row's sessionId %v", j, row)
				}
			}

			// Per-destination counts survive the policy (hashes are
			// distinct; masks may collide, so only hmac is checked), and
			// every CDR still joins its events by sessionId.
			if mode == pii.ModeHMAC {
				var want []string
				counts := map[string]int{}
				for _, d := range destinations {
					counts[policy.Number(d)]++
				}
				for d, c := range counts {
					want = append(want, fmt.Sprintf("%s|%d", d, c))
				}
				got := testenv.QueryStrings(t, conn, "SELECT concat(fwd_dst_num, '|', toString(count())) FROM fee_records FINAL GROUP BY fwd_dst_num")
				slices.Sort(want)
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("calls per destination %v, want %v", got, want)
				}
			}
			joined := testenv.QueryStrings(t, conn, `SELECT toString(count()) FROM fee_records FINAL
				ANY INNER JOIN (SELECT session_id, caller FROM call_events FINAL) USING session_id
				WHERE caller = caller_num`)
			if len(joined) != 1 || joined[0] != fmt.Sprint(n) {
				t.Errorf("CDRs joining their events on session_id and caller: %v, want %d", joined, n)
			}
		})
	}
}

// TestPIIPoliciesKeepSessionIdentities records, under every mode, events
// of two calls whose seed-form sessionIds differ only in digits of the
// 10-digit id part (same type, same second), and two calls whose
// number-built sessionIds differ only in the caller's hidden digits: each
// call keeps its own row, and the seed's sessionId is found as the
// platform sent it.
func TestPIIPoliciesKeepSessionIdentities(t *testing.T) {
	t.Parallel()
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
			t.Parallel()
			policy, err := pii.Config{Mode: mode, Key: piiTestKey}.Policy()
			if err != nil {
				t.Fatal(err)
			}
			js := provisionedJetStream(t)
			wh, db := warehousetest.Open(t, chServer)
			for _, s := range sessions {
				body := fmt.Sprintf(`{"eventType":"disconnect","statusInfo":{"sessionId":%q,"caller":"+86138****0022","called":"+86138****7021","timestamp":"2019-01-24 07:03:28"}}`, s)
				if _, err := js.Publish(context.Background(), streams.EventSubject("disconnect"), []byte(body)); err != nil {
					t.Fatal(err)
				}
			}
			recordUnderPolicy(t, js, wh, policy, "events")
			conn := chServer.Open(t, db)
			got := testenv.QueryStrings(t, conn, "SELECT toString(count()) FROM call_events FINAL")
			if len(got) != 1 || got[0] != fmt.Sprint(len(sessions)) {
				t.Errorf("%d calls stored as %v rows", len(sessions), got)
			}
			for _, s := range sessions[:3] {
				if found := testenv.QueryStrings(t, conn, "SELECT session_id FROM call_events FINAL WHERE session_id = ?", s); len(found) != 1 {
					t.Errorf("lookup by the platform's sessionId %q: %v", s, found)
				}
			}
		})
	}
}
