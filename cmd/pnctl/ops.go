package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/daemon"
	"github.com/pnstream/pnstream/internal/gaps"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/redact"
	"github.com/pnstream/pnstream/internal/streams"
	"github.com/pnstream/pnstream/internal/warehouse"
)

// errFound is returned by a check that ran and found problems, so that
// pnctl exits non-zero for scripts and cron jobs.
var errFound = errors.New("problems found")

// newWarehouseFlags returns the flag set of a pnctl command that reads the
// warehouse, with the ClickHouse flags registered on the returned
// configuration.
func newWarehouseFlags(name string) (*flag.FlagSet, *warehouse.Config) {
	fs := flag.NewFlagSet("pnctl "+name, flag.ContinueOnError)
	cfg := warehouse.DefaultConfig()
	cfg.RegisterFlags(fs)
	return fs, &cfg
}

// openWarehouse opens the warehouse of cfg; the caller closes it.
func openWarehouse(ctx context.Context, cfg warehouse.Config) (*warehouse.Warehouse, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return warehouse.Open(ctx, cfg)
}

// runReplay re-drives the dead letters of PN_DEAD to their subjects.
func runReplay(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("pnctl replay", flag.ContinueOnError)
	nc := streams.DefaultConnConfig()
	nc.RegisterFlags(fs)
	source := fs.String("source", "", "replay only the dead letters of this source (fees, events); empty replays all")
	dryRun := fs.Bool("dry-run", false, "list what would be replayed and change nothing")
	if err := daemon.Parse(fs, args); err != nil {
		return err
	}
	if err := nc.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	conn, js, err := streams.Connect(nc, "pnctl-replay", zap.NewNop())
	if err != nil {
		return err
	}
	defer conn.Close()
	p := newProgress(out, "replay")
	done, err := streams.Replay(ctx, js, streams.ReplayOptions{Source: *source, DryRun: *dryRun, Progress: p.update})
	verb := "replayed"
	if *dryRun {
		verb = "would replay"
	}
	for _, r := range done {
		fmt.Fprintf(out, "%s %s #%d -> %s (%s) reason: %s\n", verb, streams.Dead, r.DeadSeq, r.Subject, r.MsgID, redact.String(r.Reason))
	}
	fmt.Fprintf(out, "%s %d dead letters\n", verb, len(done))
	return err
}

// runBackfill enqueues again the recording jobs of recorded calls whose
// audio is not archived and that the platform still keeps.
func runBackfill(ctx context.Context, args []string, out io.Writer) error {
	fs, wcfg := newWarehouseFlags("backfill-recordings")
	nc := streams.DefaultConnConfig()
	nc.RegisterFlags(fs)
	dryRun := fs.Bool("dry-run", false, "list what would be enqueued and change nothing")
	if err := daemon.Parse(fs, args); err != nil {
		return err
	}
	if err := nc.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	wh, err := openWarehouse(ctx, *wcfg)
	if err != nil {
		return err
	}
	defer wh.Close()
	now := time.Now().UTC()
	raws, err := wh.UnarchivedFees(ctx, now.Add(-archive.Retention-24*time.Hour)) // a day early: the deadline counts from the call's end
	if err != nil {
		return err
	}
	records := make([]privatenumber.FeeRecord, 0, len(raws))
	for _, raw := range raws {
		r, err := privatenumber.DecodeFeeRecord(raw)
		if err != nil {
			return fmt.Errorf("stored fee record: %w", err)
		}
		records = append(records, r)
	}
	if *dryRun {
		for i := range records {
			if j := archive.NewJob(&records[i], archive.Retention); now.Before(j.Deadline) {
				fmt.Fprintf(out, "would enqueue %s (deadline %s)\n", j.ICID, j.Deadline.Format(time.RFC3339))
			}
		}
		return nil
	}
	conn, js, err := streams.Connect(nc, "pnctl-backfill", zap.NewNop())
	if err != nil {
		return err
	}
	defer conn.Close()
	run := strconv.FormatInt(now.Unix(), 10)
	jobs, err := archive.NewEnqueuer(streams.NewJetStreamPublisher(conn, js)).Backfill(ctx, run, records, now)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		fmt.Fprintf(out, "enqueued %s (deadline %s)\n", j.ICID, j.Deadline.Format(time.RFC3339))
	}
	fmt.Fprintf(out, "enqueued %d of %d unarchived recordings (the rest are past the platform's retention)\n", len(jobs), len(records))
	return nil
}

// runAuditArchive checks every archived recording against its object.
func runAuditArchive(ctx context.Context, args []string, out io.Writer) error {
	fs, wcfg := newWarehouseFlags("audit-archive")
	acfg := archive.DefaultConfig()
	acfg.RegisterFlags(fs)
	if err := daemon.Parse(fs, args); err != nil {
		return err
	}
	if !acfg.Enabled() {
		return errors.New("config: PN_S3_ENDPOINT is not set")
	}
	bucket, err := archive.NewBucket(acfg)
	if err != nil {
		return err
	}
	wh, err := openWarehouse(ctx, *wcfg)
	if err != nil {
		return err
	}
	defer wh.Close()
	rows, err := wh.ArchivedRecordings(ctx)
	if err != nil {
		return err
	}
	found, err := bucket.Audit(ctx, rows, newProgress(out, "audit").update)
	for _, m := range found {
		fmt.Fprintf(out, "MISMATCH %s %s/%s %s: %s\n", m.ICID, m.Bucket, m.Key, m.Problem, m.Detail)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "audited %d recordings: %d mismatches\n", len(rows), len(found))
	if len(found) > 0 {
		return fmt.Errorf("audit-archive: %d mismatches: %w", len(found), errFound)
	}
	return nil
}

// runGaps prints the gap report and fails when there is a gap.
func runGaps(ctx context.Context, args []string, out io.Writer) error {
	fs, wcfg := newWarehouseFlags("gaps")
	gcfg := gaps.DefaultConfig()
	gcfg.RegisterFlags(fs)
	if err := daemon.Parse(fs, args); err != nil {
		return err
	}
	if err := gcfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	wh, err := openWarehouse(ctx, *wcfg)
	if err != nil {
		return err
	}
	defer wh.Close()
	found, err := wh.Gaps(ctx, gcfg.Thresholds())
	if err != nil {
		return err
	}
	for _, g := range found {
		fmt.Fprintf(out, "%s session=%s icid=%s observed_at=%s age=%s\n", g.Kind, g.SessionID, g.ICID, g.ObservedAt.Format(time.RFC3339), g.Age)
	}
	counts := gaps.Count(found)
	for _, k := range warehouse.GapKinds {
		fmt.Fprintf(out, "%s: %d\n", k, counts[k])
	}
	if len(found) > 0 {
		return fmt.Errorf("gaps: %d found: %w", len(found), errFound)
	}
	return nil
}
