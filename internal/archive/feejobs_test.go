package archive_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/testenv"
)

// Recorded CDRs as ingest stores them, on pn.fees.recorded in PN_FEES, are
// archived without a job in PN_RECORDINGS, under the sessionId the
// recorder stores under the PII policy (row and object metadata join the
// CDR's row); a CDR of an unrecorded call there is acked and left alone;
// jobs in PN_RECORDINGS (the legacy path, backfills) are still taken.
func TestRecordedCDRsOnPNFeesAreArchived(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	policy, err := pii.Config{Mode: pii.ModeMasked}.Policy()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	type want struct {
		fee  privatenumber.FeeRecord
		sum  string
		size int64
	}
	var all []want
	for i := range 4 {
		icid := fmt.Sprintf("cdr-%d", i)
		fee, sum, size := r.recording(icid, time.Duration(3+i)*time.Second, i%2 == 0)
		fee.CallerNum, fee.FwdDstNum = fmt.Sprintf("+86139000000%02d", i), "+8615000000001"
		fee.SessionID = fee.CallerNum + "_" + fee.FwdDstNum + "_4_" + icid
		if i == 3 {
			r.enqueue(fee) // a job of the legacy path, as given
		} else {
			data, err := json.Marshal(fee)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.js.Publish(ctx, streams.RecordedFeeSubject, data, jetstream.WithMsgID(fee.MsgID())); err != nil {
				t.Fatal(err)
			}
			fee.SessionID = policy.FeeSessionID(&fee)
			if fee.SessionID == fee.CallerNum+"_"+fee.FwdDstNum+"_4_"+icid {
				t.Fatalf("the policy keeps sessionId %s: the test needs one it changes", fee.SessionID)
			}
		}
		all = append(all, want{fee, sum, size})
	}
	unrecorded := `{"icid":"not-recorded","sessionId":"s","recordFlag":0,"callInTime":"2024-01-24 03:33:10"}`
	if _, err := r.js.Publish(ctx, streams.RecordedFeeSubject, []byte(unrecorded)); err != nil {
		t.Fatal(err)
	}

	bucket, err := archive.NewBucket(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := archive.NewMirror(r.cfg, archive.Deps{
		JetStream: r.js, Resolver: r.client, Bucket: bucket, Rows: r.wh, PII: policy,
		Logger: zaptest.NewLogger(t), Registry: prometheus.NewRegistry(),
	})
	testenv.Go(t, m.Run)

	for _, w := range all {
		r.checkArchived(w.fee, w.sum, w.size)
		if n := r.count(fmt.Sprintf("SELECT count() FROM recordings FINAL WHERE icid = '%s' AND session_id = '%s'", w.fee.ICID, w.fee.SessionID)); n != 1 {
			t.Errorf("recordings row of %s with sessionId %s: %d", w.fee.ICID, w.fee.SessionID, n)
		}
	}
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		c, err := r.js.Consumer(ctx, streams.Fees, r.cfg.Consumer+"-fees")
		if err != nil {
			return false, err.Error()
		}
		info, err := c.Info(ctx)
		if err != nil {
			return false, err.Error()
		}
		return info.AckFloor.Stream == 4 && info.NumAckPending == 0 && info.NumPending == 0,
			fmt.Sprintf("PN_FEES consumer: ack floor %d, %d unacked, %d pending", info.AckFloor.Stream, info.NumAckPending, info.NumPending)
	})
	if n := r.count("SELECT count() FROM recordings WHERE icid = 'not-recorded'"); n != 0 {
		t.Errorf("%d recordings rows of an unrecorded call", n)
	}
	if n := r.objectCount(); n != len(all) {
		t.Errorf("%d objects, want %d", n, len(all))
	}
}
