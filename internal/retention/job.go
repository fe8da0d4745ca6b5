package retention

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/audit"
)

// LeaseBucket is the JetStream key-value bucket that keeps one recorder at
// a time on the job, and the time of the last run; key LeaseKey.
const (
	LeaseBucket = "PN_RETENTION"
	LeaseKey    = "run"
)

// Audit identity of the job's records in the access log.
const (
	AuditWho    = "pnstream-recorder"
	AuditRole   = "system"
	AuditAction = "retention"
)

// Auditor records an access (audit.Log).
type Auditor interface {
	Record(ctx context.Context, e audit.Entry) error
}

var _ Auditor = (*audit.Log)(nil)

// lease is the value under LeaseKey: who runs or ran the job, since when,
// and when it finished (zero while it runs).
type lease struct {
	Holder   string    `json:"holder"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
}

// Job runs Retention on a schedule in every recorder; a compare-and-set on
// the lease lets one run at a time and only once per Interval across all
// of them. A recorder that dies mid-run leaves the lease to expire after
// Lease; every step being idempotent, the next run finishes the work.
type Job struct {
	cfg    Config
	ret    *Retention
	js     jetstream.JetStream
	audit  Auditor
	log    *zap.Logger
	holder string
}

// NewJob returns the scheduled job. It does no I/O; Run creates the lease
// bucket.
func NewJob(cfg Config, ret *Retention, js jetstream.JetStream, a Auditor, log *zap.Logger) *Job {
	host, _ := os.Hostname()
	return &Job{cfg: cfg, ret: ret, js: js, audit: a, log: log, holder: fmt.Sprintf("%s/%d", host, os.Getpid())}
}

// Run looks every Interval until ctx is done, and runs the policy when its
// turn comes. It returns nil at once when nothing expires (both days 0). A
// failed run is logged and tried again at the next look.
func (j *Job) Run(ctx context.Context) error {
	if !j.cfg.Enabled() {
		return nil
	}
	kv, err := j.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: LeaseBucket, History: 1,
		Description: "pnstream retention: one recorder at a time, and when it last ran"})
	if err != nil {
		return fmt.Errorf("retention lease bucket: %w", err)
	}
	// A look each Interval, but never rarer than the lease: a dead
	// holder's lease is taken over soon after it expires.
	t := time.NewTicker(min(j.cfg.Interval, j.cfg.Lease))
	defer t.Stop()
	for {
		if _, ran, err := j.Tick(ctx, kv); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			j.log.Warn("retention run failed; trying again at the next interval", zap.Error(err))
		} else if ran {
			j.log.Debug("retention run done")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick runs the policy once if it is this recorder's turn: no run within
// Interval, and no other holder's lease younger than Lease. ran reports
// whether it ran.
func (j *Job) Tick(ctx context.Context, kv jetstream.KeyValue) (rep Report, ran bool, err error) {
	now := j.ret.now().UTC()
	entry, err := kv.Get(ctx, LeaseKey)
	var rev uint64
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return rep, false, fmt.Errorf("retention lease: %w", err)
	default:
		rev = entry.Revision()
		var l lease
		if err := json.Unmarshal(entry.Value(), &l); err == nil && !turn(l, now, j.cfg) {
			return rep, false, nil
		}
	}
	mine, _ := json.Marshal(lease{Holder: j.holder, Started: now})
	if rev == 0 {
		rev, err = kv.Create(ctx, LeaseKey, mine)
	} else {
		rev, err = kv.Update(ctx, LeaseKey, mine, rev)
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) || strings.Contains(err.Error(), "wrong last sequence") {
			return rep, false, nil // another recorder took it first
		}
		return rep, false, fmt.Errorf("retention lease: %w", err)
	}
	rep, err = j.ret.Once(ctx)
	auditErr := j.record(ctx, rep, err)
	if err != nil || auditErr != nil {
		// The lease stays unfinished and expires after Lease, so that
		// the next run is not put off by a whole Interval.
		return rep, true, errors.Join(err, auditErr)
	}
	done, _ := json.Marshal(lease{Holder: j.holder, Started: now, Finished: rep.Finished})
	if _, err := kv.Update(ctx, LeaseKey, done, rev); err != nil {
		return rep, true, fmt.Errorf("retention lease: mark done: %w", err)
	}
	j.log.Info("retention", zap.String("summary", rep.Summary()))
	return rep, true, nil
}

// turn decides whether a recorder may run at now given the lease l: when
// the last run finished at least an Interval ago, or a run that never
// finished started at least a Lease ago.
func turn(l lease, now time.Time, cfg Config) bool {
	if l.Finished.IsZero() {
		return !now.Before(l.Started.Add(cfg.Lease))
	}
	return !now.Before(l.Finished.Add(cfg.Interval))
}

// record writes the run's audit record; a run that failed is recorded too,
// with what it did before the error.
func (j *Job) record(ctx context.Context, rep Report, runErr error) error {
	if j.audit == nil {
		return nil
	}
	detail := rep.Summary()
	if runErr != nil {
		detail += "; failed: " + runErr.Error()
	}
	err := j.audit.Record(ctx, audit.Entry{At: rep.Finished, Who: AuditWho, Role: AuditRole, Action: AuditAction,
		Target: "fee_records, call_events, recordings, archive", From: j.holder, Detail: detail})
	if err != nil {
		return fmt.Errorf("retention audit record: %w", err)
	}
	return nil
}

// Summary renders the report on one line, for the log and the audit record.
func (r Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rows before %s, recordings before %s:", day(r.RowsCutoff), day(r.RecordingsCutoff))
	for _, t := range r.Tables {
		fmt.Fprintf(&b, " %s %d dropped (%d partitions) %d deleted %d kept under hold;", t.Table, t.DroppedRows, len(t.DroppedPartitions), t.DeletedRows, t.KeptRows)
	}
	fmt.Fprintf(&b, " objects %d removed %d absent %d held %d locked; %s",
		r.RecordingsRemoved, r.RecordingsAbsent, r.RecordingsHeld, r.RecordingsLocked, r.Finished.Sub(r.Started).Round(time.Millisecond))
	return b.String()
}

func day(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.DateOnly)
}
