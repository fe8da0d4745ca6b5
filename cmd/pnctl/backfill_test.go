package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// backfill-recordings builds, from the CDRs as the recorder stored them
// under a PII policy, the jobs the recorder built from the pushes: each
// job's sessionId is its fee_records row's, the seed's is as sent, and no
// job carries a subscriber's number. pnctl needs no PII setting for it:
// the stored records carry the policy's results.
func TestBackfillKeepsTheRecordersPolicy(t *testing.T) {
	chServer.Require(t)
	for _, mode := range []string{pii.ModeMasked, pii.ModeHMAC} {
		t.Run(mode, func(t *testing.T) {
			const key = "a test key of thirty-two bytes.."
			cfg := warehouse.DefaultConfig()
			cfg.Addr, cfg.Database = chServer.Addr(), chServer.NewDatabase(t)
			w, err := warehouse.Open(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = w.Close() })
			if err := w.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			policy, err := pii.New(mode, []byte(key))
			if err != nil {
				t.Fatal(err)
			}

			ns := testenv.NATS(t)
			cc := streams.DefaultConnConfig()
			cc.URL = ns.URL()
			nc, js, err := streams.Connect(cc, "pnctl-test", zaptest.NewLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nc.Close)
			sc := streams.DefaultConfig()
			sc.MaxBytes, sc.RejectedMaxBytes, sc.DeadMaxBytes = 64<<20, 16<<20, 16<<20
			sc.NumbersMaxBytes = 16 << 20
			if err := streams.Provision(t.Context(), js, sc); err != nil {
				t.Fatal(err)
			}

			const a, b, x = "+8613442977762", "+8615987654321", "+8615006212131"
			sessions := map[string]string{
				"numbers": a + "_" + x + "_4_627e5c1f_963036_669_1_0",
				"bare":    "8613442977762_8615006212131_4_627e5c1f_963036_669_1_0",
				"seed":    "1202_1051_4294967295_20190124070250@callenabler246.huaweicaas.com",
			}
			end := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
			var fees []privatenumber.FeeRecord
			for name, s := range sessions {
				r := privatenumber.FeeRecord{ICID: "icid-" + name, SessionID: s, BindNum: x, CallerNum: a, CalleeNum: x,
					FwdDisplayNum: x, FwdDstNum: b, RecordFlag: 1, RecordDomain: "rec.example.com", RecordObjectName: name + ".wav",
					CallInTime: privatenumber.Time{Time: end.Add(-time.Minute)}, CallEndTime: privatenumber.Time{Time: end}}
				if r.Raw, err = json.Marshal(r); err != nil {
					t.Fatal(err)
				}
				fees = append(fees, r)
			}
			// What the recorder stores and publishes for the same pushes:
			// the records with the policy applied, and their jobs.
			stored := make([]privatenumber.FeeRecord, len(fees))
			want := map[string]string{}
			for i := range fees {
				stored[i] = policy.Fee(fees[i])
				job := archive.NewJob(&stored[i], archive.Retention)
				if job.SessionID != policy.FeeSessionID(&fees[i]) {
					t.Fatalf("%s: job sessionId %q, want the policy's %q", job.ICID, job.SessionID, policy.FeeSessionID(&fees[i]))
				}
				want[job.ICID] = job.SessionID
			}
			if err := w.InsertFees(t.Context(), stored); err != nil {
				t.Fatal(err)
			}

			var out bytes.Buffer
			args := []string{"backfill-recordings", "--clickhouse-addr", cfg.Addr, "--clickhouse-database", cfg.Database,
				"--nats-url", ns.URL()}
			if err := run(context.Background(), args, &out); err != nil {
				t.Fatalf("backfill-recordings: %v\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), "enqueued 3 of 3") {
				t.Errorf("output:\n%s", out.String())
			}

			stream, err := js.Stream(t.Context(), streams.Recordings)
			if err != nil {
				t.Fatal(err)
			}
			rows := chServer.Open(t, cfg.Database)
			for seq := uint64(1); seq <= 3; seq++ {
				m, err := stream.GetMsg(t.Context(), seq)
				if err != nil {
					t.Fatal(err)
				}
				job, err := archive.DecodeJob(m.Data)
				if err != nil {
					t.Fatal(err)
				}
				var row string
				if err := rows.QueryRow(t.Context(), "SELECT session_id FROM fee_records FINAL WHERE icid = ?", job.ICID).Scan(&row); err != nil {
					t.Fatal(err)
				}
				if job.SessionID != row || job.SessionID != want[job.ICID] {
					t.Errorf("%s: backfilled job sessionId %q, row %q, recorder's job %q", job.ICID, job.SessionID, row, want[job.ICID])
				}
				for _, n := range []string{"13442977762", "15006212131", "15987654321"} {
					if strings.Contains(string(m.Data), n) {
						t.Errorf("job %s holds a number: %s", job.ICID, m.Data)
					}
				}
			}
			if want["icid-seed"] != sessions["seed"] {
				t.Errorf("seed sessionId stored as %q", want["icid-seed"])
			}
		})
	}
}
