package chaos

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/pnstream/pnstream/internal/localserver"
	"github.com/pnstream/pnstream/internal/platformsim"
	"github.com/pnstream/pnstream/internal/streams"
)

// fault is one fault injected during a run.
type fault struct {
	kind   string // "recorder SIGKILL", "ClickHouse stopped", ...
	detail string // what was in flight, how long
}

type faultLog []fault

func (l *faultLog) add(kind, format string, args ...any) {
	*l = append(*l, fault{kind: kind, detail: fmt.Sprintf(format, args...)})
}

// summary groups the faults by kind: "recorder SIGKILL ×5: …; …".
func (l faultLog) summary() []string {
	byKind := map[string][]string{}
	var kinds []string
	for _, f := range l {
		if _, ok := byKind[f.kind]; !ok {
			kinds = append(kinds, f.kind)
		}
		byKind[f.kind] = append(byKind[f.kind], f.detail)
	}
	sort.Strings(kinds)
	out := make([]string, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, fmt.Sprintf("%s ×%d: %s", k, len(byKind[k]), strings.Join(byKind[k], "; ")))
	}
	return out
}

// killRecorderMidBatch waits until the recorder holds fetched records it
// has not acknowledged (a batch being collected or inserted), then kills
// it with SIGKILL and starts it again.
func (r *rig) killRecorderMidBatch(waitReady bool) {
	r.t.Helper()
	var inFlight string
	r.waitFor("a batch in flight", 30*time.Second, func() bool {
		var parts []string
		for name, stream := range map[string]string{"fees": streams.Fees, "events": streams.Events} {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			info, err := r.consumerInfo(ctx, stream, "pn-recorder-"+name)
			cancel()
			if err == nil && info.NumAckPending > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", info.NumAckPending, name))
			}
		}
		inFlight = strings.Join(parts, " + ")
		return len(parts) > 0
	})
	r.kill(r.recorder)
	r.faults.add("recorder SIGKILL", "mid-batch (%s unacked)", inFlight)
	r.restartRecorder(waitReady)
}

// killRecorderMidUpload waits until a recording is being downloaded or
// uploaded (the recorder holds a spool file open), then kills the recorder
// with SIGKILL and starts it again.
func (r *rig) killRecorderMidUpload(waitReady bool) {
	r.t.Helper()
	var spooled int
	r.waitFor("a recording in flight", time.Minute, func() bool {
		spooled = r.openSpoolFiles()
		return spooled > 0
	})
	r.kill(r.recorder)
	r.faults.add("recorder SIGKILL", "mid-upload (%d recordings in flight)", spooled)
	r.restartRecorder(waitReady)
}

// openSpoolFiles counts the spool files the recorder has open (Linux: its
// /proc/<pid>/fd); they have no name in the spool directory.
func (r *rig) openSpoolFiles() int {
	pid := r.recorder.Pid()
	if pid == 0 {
		return 0
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(target, r.spool+string(os.PathSeparator)) {
			n++
		}
	}
	return n
}

func (r *rig) kill(p *localserver.Program) {
	r.t.Helper()
	if err := p.Kill(); err != nil {
		r.t.Fatal(err)
	}
}

// restartRecorder starts the recorder again after a short pause, as a
// supervisor would; waitReady waits until it answers ready (not while
// ClickHouse is down).
func (r *rig) restartRecorder(waitReady bool) {
	r.t.Helper()
	time.Sleep(500 * time.Millisecond) // the supervisor's restart delay: part of the scenario
	r.start(r.recorder)
	if waitReady {
		r.waitRecorderReady()
	}
}

// checkAlive fails the test when a process of the pipeline exited on its
// own.
func (r *rig) checkAlive() {
	r.t.Helper()
	for _, p := range append([]*localserver.Program{r.ingest, r.recorder, r.sim}, r.peers...) {
		if err := p.Err(); err != nil {
			r.t.Fatal(err)
		}
	}
}

// restartIngest stops ingest with SIGTERM (drain) or SIGKILL under load and
// starts it again.
func (r *rig) restartIngest(kill bool) {
	r.t.Helper()
	before := r.tap.stats().answers[http.StatusOK]
	r.waitFor("pushes through ingest", 30*time.Second, func() bool { return r.tap.stats().answers[http.StatusOK] > before })
	if kill {
		r.kill(r.ingest)
		r.faults.add("ingest restart", "SIGKILL under load")
	} else {
		if err := r.ingest.Stop(context.Background()); err != nil {
			r.t.Fatal(err)
		}
		r.faults.add("ingest restart", "SIGTERM under load (drained)")
	}
	r.start(r.ingest)
}

// killNATS kills a nats-server with SIGKILL, keeps it down for down and
// starts it again on its file store. role says what the node was doing.
func (r *rig) killNATS(n *natsNode, role string, down time.Duration) {
	r.t.Helper()
	r.kill(n.prog)
	time.Sleep(down) // the node's outage: part of the scenario
	r.start(n.prog)
	r.faults.add("nats-server SIGKILL", "%s (%s) down %s, restarted on its file store", n.name, role, down)
}

// simFault sets a fault of the simulator (PUT /sim/faults).
func (r *rig) simFault(spec string) {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodPut, "http://"+r.simAddr+platformsim.FaultsPath, bytes.NewReader([]byte(spec)))
	if err != nil {
		r.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		r.t.Fatalf("PUT %s %s: %s", platformsim.FaultsPath, spec, resp.Status)
	}
}
