package chaos

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/platformsim"
	"github.com/pnstream/pnstream/internal/streams"
)

// outcome is what a run delivered, against what the simulator sent.
type outcome struct {
	sim                platformsim.Stats
	tap                tapStats
	feeRows, eventRows int // under FINAL
	// feeCopies and eventCopies are the messages in PN_FEES and PN_EVENTS
	// beyond one per identity: re-pushes that came after the duplicate
	// window, which the tables had to absorb.
	feeCopies, eventCopies    int
	lostFees, lostEvents      int // sent, not in the table
	lostAfterAck              int // answered 200, not in the table
	extraFees, extraEvents    int // in the table, never sent
	dupFees, dupEvents        int // identities with more than one row under FINAL
	recorded, objects         int
	archived                  int // recordings rows 'archived' with the object's SHA-256
	lostRecordings, badObject int
	dupObjects                int
	pending                   map[string]uint64 // consumer → pending + unacked
	dead, rejected            uint64
	spoolLeft                 int      // files left in the spool directory
	leaked                    []string // log lines holding a secret
}

func (o *outcome) lost() int {
	return o.lostFees + o.lostEvents + o.lostAfterAck + o.lostRecordings + o.badObject
}

func (o *outcome) duplicated() int { return o.dupFees + o.dupEvents + o.dupObjects }

// simStats reads the simulator's counters.
func (r *rig) simStats() platformsim.Stats {
	r.t.Helper()
	resp, err := http.Get("http://" + r.simAddr + platformsim.StatsPath)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st platformsim.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		r.t.Fatal(err)
	}
	return st
}

// settle waits until the simulator placed every call and delivered every
// push, and the pipeline has stored everything the tap saw: rows in
// ClickHouse, consumers drained, recordings archived. It returns whether
// it got there within timeout; verify then says what is missing.
func (r *rig) settle(timeout time.Duration) bool {
	return r.settleWhen(timeout, func() bool {
		ts := r.tap.stats()
		return r.count("SELECT count() FROM fee_records FINAL") == uint64(len(ts.sentFees)) &&
			r.count("SELECT count() FROM call_events FINAL") == uint64(len(ts.sentEvents))
	})
}

// settleWhen waits until the simulator is done, stored reports true and
// the consumers are drained, within timeout.
func (r *rig) settleWhen(timeout time.Duration, stored func() bool) bool {
	deadline := time.Now().Add(timeout)
	until := func(ok func() bool) bool {
		for !ok() {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(250 * time.Millisecond)
		}
		return true
	}
	return until(func() bool {
		st := r.simStats()
		return st.Calls >= int64(r.cfg.maxCalls) && st.Push.Pending == 0
	}) && until(stored) && until(func() bool {
		for _, n := range r.consumerBacklog() {
			if n > 0 {
				return false
			}
		}
		return true
	})
}

// consumers are the durable consumers that must end drained.
func (r *rig) consumers() map[string]string {
	c := map[string]string{"pn-recorder-fees": streams.Fees, "pn-recorder-events": streams.Events}
	if r.cfg.archive {
		c["pn-archive"] = streams.Recordings
		c["pn-archive-fees"] = streams.Fees
	}
	return c
}

// consumerBacklog returns each consumer's pending plus unacked messages;
// -1 when its info cannot be had (NATS restarting).
func (r *rig) consumerBacklog() map[string]int64 {
	out := map[string]int64{}
	for name, stream := range r.consumers() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		info, err := r.consumerInfo(ctx, stream, name)
		cancel()
		if err != nil {
			out[name] = -1
			continue
		}
		out[name] = int64(info.NumPending) + int64(info.NumAckPending)
	}
	return out
}

func (r *rig) consumerInfo(ctx context.Context, stream, name string) (*jetstream.ConsumerInfo, error) {
	c, err := r.js.Consumer(ctx, stream, name)
	if err != nil {
		return nil, err
	}
	return c.Info(ctx)
}

func (r *rig) streamMsgs(name string) uint64 {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := r.js.Stream(ctx, name)
	if err != nil {
		r.t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		r.t.Fatalf("stream %s: %v", name, err)
	}
	return info.State.Msgs
}

// count runs a count query; 0 when it fails (ClickHouse is down).
func (r *rig) count(query string) uint64 {
	var n uint64
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.ch.QueryRow(ctx, query).Scan(&n); err != nil {
		return 0
	}
	return n
}

// strings returns the first column of query.
func (r *rig) strings(query string) map[string]bool {
	r.t.Helper()
	rows, err := r.ch.Query(context.Background(), query)
	if err != nil {
		r.t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			r.t.Fatal(err)
		}
		out[s] = true
	}
	if err := rows.Err(); err != nil {
		r.t.Fatal(err)
	}
	return out
}

// verify compares what was sent with what was stored.
func (r *rig) verify() *outcome {
	r.t.Helper()
	o := &outcome{sim: r.simStats(), tap: r.tap.stats(), pending: map[string]uint64{}}
	fees := r.strings("SELECT icid FROM fee_records FINAL")
	events := r.strings(`SELECT concat('event:', session_id, ':', event_type, ':', toString(event_time, 'UTC'))
		FROM call_events FINAL`)
	o.feeRows = int(r.count("SELECT count() FROM fee_records FINAL"))
	o.eventRows = int(r.count("SELECT count() FROM call_events FINAL"))
	o.feeCopies = int(r.streamMsgs(streams.Fees)) - len(o.tap.sentFees)
	o.eventCopies = int(r.streamMsgs(streams.Events)) - len(o.tap.sentEvents)
	o.dupFees, o.dupEvents = o.feeRows-len(fees), o.eventRows-len(events)
	o.lostFees, o.extraFees = diff(o.tap.sentFees, fees)
	o.lostEvents, o.extraEvents = diff(o.tap.sentEvents, events)
	lostAcked, _ := diff(o.tap.ackedFees, fees)
	lostAckedEvents, _ := diff(o.tap.ackedEvents, events)
	o.lostAfterAck = lostAcked + lostAckedEvents
	for name, n := range r.consumerBacklog() {
		o.pending[name] = uint64(max(n, 0))
	}
	o.dead, o.rejected = r.streamMsgs(streams.Dead), r.streamMsgs(streams.Rejected)
	if r.cfg.archive {
		r.verifyRecordings(o)
	}
	o.leaked = r.scanLogs()
	for _, spool := range r.spools() {
		if entries, err := os.ReadDir(spool); err == nil {
			o.spoolLeft += len(entries)
		}
	}
	return o
}

// diff returns how many of want are missing from got, and how many of got
// are not in want.
func diff(want, got map[string]bool) (missing, extra int) {
	for k := range want {
		if !got[k] {
			missing++
		}
	}
	for k := range got {
		if !want[k] {
			extra++
		}
	}
	return missing, extra
}

// verifyRecordings checks that every recorded call has one object, whose
// bytes hash to the SHA-256 of the simulator's audio, and an archived
// pn.recordings row with that hash.
func (r *rig) verifyRecordings(o *outcome) {
	t := r.t
	ctx := context.Background()
	client, err := axeapi.NewClient(axeapi.ClientConfig{BaseURL: "http://" + r.simAddr, AppKey: appKey, AppSecret: r.appSecret})
	if err != nil {
		t.Fatal(err)
	}
	s3c := s3.Client(t)
	rows, err := r.ch.Query(ctx, `SELECT f.icid, f.record_domain, f.record_object_name, f.record_file_download_url,
		rec.status, rec.object_key, rec.sha256, rec.size_bytes
		FROM (SELECT * FROM fee_records FINAL WHERE record_flag = 1) AS f
		ANY LEFT JOIN (SELECT icid, status, object_key, sha256, size_bytes FROM recordings FINAL) AS rec USING icid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var icid, domain, name, direct, status, key, sum string
		var size uint64
		if err := rows.Scan(&icid, &domain, &name, &direct, &status, &key, &sum, &size); err != nil {
			t.Fatal(err)
		}
		o.recorded++
		if status != "archived" {
			o.lostRecordings++
			t.Errorf("recording of %s: status %q, want archived", icid, status)
			continue
		}
		src := direct
		if domain != "" {
			u, err := client.RecordingURL(ctx, domain, name)
			if err != nil {
				t.Fatalf("source of %s: %v", icid, err)
			}
			src = u.String()
		}
		srcSum, srcSize := sha256Of(t, func() (io.ReadCloser, error) {
			resp, err := http.Get(src)
			if err != nil {
				return nil, err
			}
			return resp.Body, nil
		})
		objSum, objSize := sha256Of(t, func() (io.ReadCloser, error) {
			return s3c.GetObject(ctx, r.bucket, key, minio.GetObjectOptions{})
		})
		if sum != srcSum || objSum != srcSum || size != uint64(srcSize) || objSize != srcSize {
			o.badObject++
			t.Errorf("%s: row %d bytes %s, object %d bytes %s, source %d bytes %s", icid, size, sum, objSize, objSum, srcSize, srcSum)
			continue
		}
		o.archived++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for obj := range s3c.ListObjects(ctx, r.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		o.objects++
	}
	o.dupObjects = max(o.objects-o.recorded, 0)
	if n := r.streamMsgs(streams.Recordings); n != 0 {
		o.pending["PN_RECORDINGS jobs"] = n
	}
}

func sha256Of(t interface {
	Helper()
	Fatalf(string, ...any)
}, open func() (io.ReadCloser, error)) (string, int64) {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// scanLogs returns the log lines of every process of the run that hold one
// of the run's secrets: the app secret and the S3 secret key.
func (r *rig) scanLogs() []string {
	r.t.Helper()
	secrets := []string{r.appSecret}
	if r.cfg.archive {
		secrets = append(secrets, s3.SecretKey())
	}
	files, err := filepath.Glob(filepath.Join(r.dir, "logs", "*.log"))
	if err != nil || len(files) == 0 {
		r.t.Fatalf("no logs to scan: %v", err)
	}
	var leaked []string
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			r.t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for line := 1; sc.Scan(); line++ {
			for _, s := range secrets {
				if strings.Contains(sc.Text(), s) {
					leaked = append(leaked, fmt.Sprintf("%s:%d", filepath.Base(name), line))
				}
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			r.t.Fatalf("scan %s: %v", name, err)
		}
	}
	return leaked
}

// table formats the outcome and the faults for the test log.
func (o *outcome) table(r *rig, took time.Duration) string {
	faults := r.faults
	var b strings.Builder
	sync := r.cfg.sync
	if sync == "" {
		sync = "default (2m)"
	}
	fmt.Fprintf(&b, "\n%d nats-server node(s), %d recorder replica(s), sync_interval %s, duplicate window %s, simulator seed %d, time scale %g, re-push headers %s\n",
		len(r.nodes), 1+len(r.peers), sync, r.cfg.dupWindow, r.seed, r.cfg.timeScale, repushHeaders())
	fmt.Fprintf(&b, "faults injected (%d):\n", len(faults))
	for _, line := range faults.summary() {
		fmt.Fprintf(&b, "  %s\n", line)
	}
	fmt.Fprintf(&b, "simulator: %d calls, %d event pushes, %d fee pushes, %d attempts, %d re-pushes, %d given up\n",
		o.sim.Calls, o.sim.Push.Events, o.sim.Push.FeePushes, o.sim.Push.Attempts, o.sim.Push.Retried, o.sim.Push.GivenUp)
	var statuses []string
	for code, n := range o.tap.answers {
		statuses = append(statuses, fmt.Sprintf("%d×%d", code, n))
	}
	sort.Strings(statuses)
	fmt.Fprintf(&b, "ingest answers (0 = none): %s\n", strings.Join(statuses, " "))
	fmt.Fprintf(&b, "%-12s %8s %8s %12s %6s %10s\n", "", "sent", "stored", "late copies", "lost", "duplicated")
	fmt.Fprintf(&b, "%-12s %8d %8d %12d %6d %10d\n", "fee records", len(o.tap.sentFees), o.feeRows, o.feeCopies, o.lostFees, o.dupFees)
	fmt.Fprintf(&b, "%-12s %8d %8d %12d %6d %10d\n", "call events", len(o.tap.sentEvents), o.eventRows, o.eventCopies, o.lostEvents, o.dupEvents)
	if o.recorded > 0 || o.objects > 0 {
		fmt.Fprintf(&b, "%-12s %8d %8d %12s %6d %10d\n", "recordings", o.recorded, o.archived, fmt.Sprintf("%d objects", o.objects), o.lostRecordings+o.badObject, o.dupObjects)
	}
	b.WriteString("(late copies: messages past the JetStream duplicate window, absorbed by the tables; stored = rows under FINAL)\n")
	fmt.Fprintf(&b, "answered 200 but not stored: %d; stored but never sent: %d\n", o.lostAfterAck, o.extraFees+o.extraEvents)
	fmt.Fprintf(&b, "left pending: %v; PN_DEAD: %d; PN_REJECTED: %d; spool files left: %d; log lines with a secret: %d\n",
		o.pending, o.dead, o.rejected, o.spoolLeft, len(o.leaked))
	fmt.Fprintf(&b, "TOTAL lost = %d, duplicated = %d, took %s\n", o.lost(), o.duplicated(), took.Round(time.Second))
	return b.String()
}

// finish waits for the run to settle, at most timeout, then verifies it,
// logs its table and fails the test for every broken guarantee.
func (r *rig) finish(started time.Time, timeout time.Duration) {
	r.t.Helper()
	settled := r.settle(timeout)
	o := r.verify()
	r.t.Log(o.table(r, time.Since(started)))
	if !settled {
		r.t.Errorf("the pipeline did not settle within %s", timeout)
	}
	o.check(r)
}

// check fails the test for every broken guarantee.
func (o *outcome) check(r *rig) {
	t := r.t
	t.Helper()
	if o.sim.Push.GivenUp != 0 || o.sim.Push.Pending != 0 {
		t.Errorf("the simulator gave up %d pushes, %d pending: the outages outlasted its re-push schedule", o.sim.Push.GivenUp, o.sim.Push.Pending)
	}
	if int64(len(o.tap.sentFees)) != o.sim.Calls {
		t.Errorf("the tap saw %d CDRs of %d calls", len(o.tap.sentFees), o.sim.Calls)
	}
	if o.lost() != 0 || o.duplicated() != 0 || o.extraFees+o.extraEvents != 0 {
		t.Errorf("lost %d, duplicated %d, stored but never sent %d", o.lost(), o.duplicated(), o.extraFees+o.extraEvents)
	}
	for name, n := range o.pending {
		if n != 0 {
			t.Errorf("%s: %d messages left pending", name, n)
		}
	}
	if o.dead != 0 || o.rejected != 0 {
		t.Errorf("PN_DEAD holds %d, PN_REJECTED %d; want both empty", o.dead, o.rejected)
	}
	if o.spoolLeft != 0 {
		t.Errorf("%d files left in the spool directory by the killed recorders", o.spoolLeft)
	}
	if len(o.leaked) > 0 {
		t.Errorf("secrets in the logs at %v", o.leaked)
	}
}
