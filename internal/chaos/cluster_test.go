package chaos

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/streams"
)

// TestClusterNodeLossLosesNothing runs the pipeline on a three-node
// JetStream cluster with R3 streams (nats-server processes with file
// storage). During the load the node leading PN_FEES is killed with
// SIGKILL and brought back; then the one leading PN_EVENTS is killed and
// stays down until the load ends. Every record is stored exactly once and
// every recording archived.
func TestClusterNodeLossLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault-injection suite takes minutes; run without -short (make test-chaos)")
	}
	started := time.Now()
	const callRate = 8
	r := newRig(t, setup{
		nodes:     3,
		sync:      os.Getenv(syncEnv),
		dupWindow: 10 * time.Second,
		callRate:  callRate,
		maxCalls:  callRate * 45,
		timeScale: 0.005,
		archive:   true,
	})
	r.startRecorder()
	r.startIngest()
	r.startSimulator()
	r.waitFor("the first rows", time.Minute, func() bool { return r.count("SELECT count() FROM fee_records") > 0 })

	var first *natsNode
	r.waitFor("a leader of PN_FEES", 30*time.Second, func() bool { first = r.leader(streams.Fees); return first != nil })
	r.killNATS(first, "leader of PN_FEES", 10*time.Second)
	r.waitFor("PN_EVENTS led by another node", 30*time.Second, func() bool {
		n := r.leader(streams.Events)
		return n != nil && n != first
	})
	second := r.leader(streams.Events)
	r.kill(second.prog)
	r.waitFor("the load to end", 2*time.Minute, func() bool { return r.simStats().Calls >= int64(r.cfg.maxCalls) })
	r.start(second.prog)
	r.faults.add("nats-server SIGKILL", "%s (leader of PN_EVENTS) down until the load ended", second.name)
	r.checkAlive()

	r.finish(started, 3*time.Minute)
}

// leader returns the node leading stream's Raft group, nil when unknown.
func (r *rig) leader(stream string) *natsNode {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := r.js.Stream(ctx, stream)
	if err != nil {
		return nil
	}
	info, err := s.Info(ctx)
	if err != nil || info.Cluster == nil {
		return nil
	}
	for _, n := range r.nodes {
		if n.name == info.Cluster.Leader {
			return n
		}
	}
	return nil
}
