package archive_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/testenv"
)

// secretToken stands for the signature of a signed download URL: a bearer
// secret that must reach no error, log line, row or dead letter.
const secretToken = "SIGNATURE-9d41c7e2"

// downloadFailures serves the ways a signed download fails: 404, a
// download slower than the timeout, a redirect to a host not allowed. It
// returns the URLs, each with the token in its query string, by case.
func downloadFailures(t *testing.T) map[string]string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/slow.wav":
			select { // longer than the download timeout; released at the end
			case <-release:
			case <-r.Context().Done():
			}
		case "/redirect.wav":
			http.Redirect(w, r, "http://10.1.2.3/a.wav?Signature="+secretToken+"-2", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	q := "?Expires=1700000000&Signature=" + secretToken + "&AccessKeyId=AK"
	return map[string]string{
		"404":          srv.URL + "/gone.wav" + q,
		"timeout":      srv.URL + "/slow.wav" + q,
		"redirect":     srv.URL + "/redirect.wav" + q,
		"refused":      "http://127.0.0.1:1/a.wav" + q, // nothing listens on port 1
		"host refused": "https://denied.example.com/a.wav" + q,
		"credentials":  "https://user:" + secretToken + "@127.0.0.1/a.wav",
	}
}

func checkNoToken(t *testing.T, where, text string) {
	t.Helper()
	if strings.Contains(text, secretToken) {
		t.Errorf("%s carries the signed URL's secret: %s", where, text)
	}
}

// Fetch's errors never carry the signed URL whole.
func TestFetchErrorsCarryNoSignedURL(t *testing.T) {
	policy := archive.HostPolicy{Hosts: []string{"127.0.0.1", "denied.example.org"}, AllowPrivate: true}
	f := archive.NewFetcher(policy, 1<<20, 300*time.Millisecond)
	for name, u := range downloadFailures(t) {
		d, err := f.Fetch(context.Background(), u, t.TempDir())
		if err == nil {
			_ = d.Close()
			t.Errorf("%s: no error", name)
			continue
		}
		checkNoToken(t, name+": error", err.Error())
		checkNoToken(t, name+": error (%+v)", fmt.Sprintf("%+v", err))
	}
}

// A job whose signed download fails, however it fails, leaves the URL's
// secret in none of the log lines, the pn.recordings row and the PN_DEAD
// message (headers and body).
func TestFailedDownloadsLeakNoSignedURL(t *testing.T) {
	t.Parallel()
	r := newRig(t, func(c *archive.Config) { c.DownloadTimeout = 300 * time.Millisecond })
	cases := downloadFailures(t)
	now := time.Now().UTC()
	var icids []string
	for name, u := range cases {
		icid := "leak-" + strings.ReplaceAll(name, " ", "-")
		icids = append(icids, icid)
		fee := privatenumber.FeeRecord{ICID: icid, SessionID: "s-" + icid, RecordFlag: 1, RecordFileDownloadURL: u}
		// The deadline comes within seconds: retried failures end too.
		fee.CallEndTime = privatenumber.Time{Time: now.Add(-archive.Retention + 3*time.Second)}
		fee.CallInTime = privatenumber.Time{Time: fee.CallEndTime.Add(-10 * time.Second)}
		r.enqueue(fee)
	}

	core, logs := observer.New(zapcore.DebugLevel)
	bucket, err := archive.NewBucket(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	logger := zap.New(zapcore.NewTee(core, zaptest.NewLogger(t).Core()))
	m := archive.NewMirror(r.cfg, archive.Deps{
		JetStream: r.js, Resolver: r.client, Bucket: bucket, Rows: r.wh,
		Logger: logger, Registry: prometheus.NewRegistry(),
	})
	testenv.Go(t, m.Run)

	for _, icid := range icids {
		got := r.waitRow(icid, 30*time.Second)
		if got.status != "failed" || got.errText == "" {
			t.Errorf("%s: row %+v, want failed with a reason", icid, got)
		}
		checkNoToken(t, icid+": pn.recordings row", fmt.Sprintf("%+v", got))
	}
	r.waitDeadLetters(len(cases))
	for _, d := range r.deadLetters() {
		checkNoToken(t, "dead letter body", string(d.Data))
		if !strings.Contains(string(d.Data), "REDACTED") {
			t.Errorf("dead letter body %s: want the URL redacted, not dropped", d.Data)
		}
		for k, vs := range d.Header {
			checkNoToken(t, "dead letter header "+k, strings.Join(vs, " "))
		}
	}
	entries := logs.All()
	if len(entries) < len(cases) {
		t.Fatalf("only %d log entries: the failures were not logged", len(entries))
	}
	for _, e := range entries {
		enc := zapcore.NewMapObjectEncoder()
		for _, f := range e.Context {
			f.AddTo(enc)
		}
		checkNoToken(t, "log entry", fmt.Sprintf("%s %v", e.Message, enc.Fields))
	}
}
