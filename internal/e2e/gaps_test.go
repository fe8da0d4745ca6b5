package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/gaps"
	"github.com/pnstream/pnstream/internal/ingest"
)

func disconnectBody(session string, at time.Time) []byte {
	return fmt.Appendf(nil, `{"eventType":"disconnect","statusInfo":{"sessionId":%q,"timestamp":%q,"caller":"+8613800000001","called":"+8617000000001","stateCode":0,"stateDesc":"The user releases the call."}}`,
		session, at.Format(time.DateTime))
}

// TestGapDetectorFindsInjectedGaps drives the whole pipeline: three calls
// end (disconnect events through ingest); the CDR push of one is dropped;
// of the two recorded calls that arrive, one recording is archived and the
// other is unavailable on the platform (404), so its mirror attempts fail
// and are retried.
// The detector, with thresholds of zero, must report exactly the dropped
// CDR and the unavailable recording.
func TestGapDetectorFindsInjectedGaps(t *testing.T) {
	t.Parallel()
	p := start(t, nil)
	ctx := context.Background()
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/gone.wav" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "audio/wav")
		_, _ = w.Write([]byte("RIFF-audio"))
	}))
	t.Cleanup(src.Close)

	end := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	for _, s := range []string{"s-kept", "s-gone", "s-dropped"} {
		if st := p.push(ingest.PathEvents, disconnectBody(s, end)); st != 200 {
			t.Fatalf("event push answered %d", st)
		}
	}
	fee := func(icid, session, file string) string {
		return fmt.Sprintf(`{"direction":0,"icid":%q,"sessionId":%q,"callInTime":%q,"callEndTime":%q,"recordFlag":1,"recordObjectName":%q,"recordFileDownloadUrl":%q}`,
			icid, session, end.Add(-time.Minute).Format(time.DateTime), end.Format(time.DateTime), file, src.URL+"/"+file)
	}
	// The CDR of s-dropped is never pushed: the platform lost it.
	body := `{"eventType":"fee","feeLst":[` + fee("kept", "s-kept", "kept.wav") + "," + fee("gone", "s-gone", "gone.wav") + `]}`
	if st := p.push(ingest.PathFees, []byte(body)); st != 200 {
		t.Fatalf("fee push answered %d", st)
	}

	p.startMirror(src.URL)
	p.waitCount("SELECT count() FROM call_events FINAL", 3, 15*time.Second)
	// The mirror takes its jobs from PN_FEES beside the recorder: a
	// recording may be archived before its CDR's row is stored.
	p.waitCount("SELECT count() FROM fee_records FINAL", 2, 15*time.Second)
	p.waitCount("SELECT count() FROM recordings FINAL WHERE icid = 'kept' AND status = 'archived'", 1, 30*time.Second)
	// The mirror retries a download that fails (404) until the job's
	// deadline, 7 days on: until then the recording is pending, a gap once
	// the deadline is near.
	if n := p.count("SELECT count() FROM recordings FINAL WHERE icid = 'gone' AND status = 'archived'"); n != 0 {
		t.Fatalf("the unavailable recording is archived")
	}

	cfg := gaps.DefaultConfig()
	cfg.CDRDelay, cfg.RecordingMargin = 0, cfg.RecordingRetention // report at once
	d := gaps.New(cfg, p.wh, zaptest.NewLogger(t), prometheus.NewRegistry())
	found, err := d.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range found {
		got = append(got, g.Kind+" "+g.SessionID+" "+g.ICID)
	}
	want := []string{"missing_cdr s-dropped ", "unarchived_recording s-gone gone"}
	if !slices.Equal(got, want) {
		t.Errorf("gaps = %q, want exactly %q", got, want)
	}
	// With the default thresholds nothing is a gap yet: the CDR may still
	// be re-pushed, and the recording has days left.
	d = gaps.New(gaps.DefaultConfig(), p.wh, zaptest.NewLogger(t), prometheus.NewRegistry())
	if found, err := d.Check(ctx); err != nil || len(found) != 0 {
		t.Errorf("gaps under the default thresholds = %+v, %v; want none yet", found, err)
	}
}
