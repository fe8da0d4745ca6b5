package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pnstream/pnstream/internal/archive"
	"github.com/pnstream/pnstream/internal/audit"
	"github.com/pnstream/pnstream/internal/daemon"
	"github.com/pnstream/pnstream/internal/erasure"
	"github.com/pnstream/pnstream/internal/holds"
	"github.com/pnstream/pnstream/internal/pii"
	"github.com/pnstream/pnstream/internal/streams"
)

// runErase erases one subscriber's data and prints the report item by
// item. The PII settings must be the recorder's: the number is looked for
// in its stored form.
func runErase(ctx context.Context, args []string, out io.Writer) error {
	fs, wcfg := newWarehouseFlags("erase")
	acfg := archive.DefaultConfig()
	acfg.RegisterFlags(fs)
	pcfg := pii.DefaultConfig()
	pcfg.RegisterFlags(fs)
	scfg := streams.DefaultConfig()
	scfg.RegisterFlags(fs)
	number := fs.String("number", "", "the subscriber's phone number, E.164 with or without + (required)")
	dryRun := fs.Bool("dry-run", false, "report what would be erased and change nothing")
	who := fs.String("operator", os.Getenv("USER"), "who asks for the erasure, for the access log")
	if err := daemon.Parse(fs, args); err != nil {
		return err
	}
	if *number == "" || *who == "" {
		return errors.New("erase: want --number N and --operator (PN_OPERATOR, default $USER)")
	}
	if err := errors.Join(pcfg.Validate(), acfg.Validate()); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	policy, err := pcfg.Policy()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	wh, err := openWarehouse(ctx, *wcfg)
	if err != nil {
		return err
	}
	defer wh.Close()
	var h *holds.Holds
	if acfg.Enabled() {
		bucket, err := archive.NewBucket(acfg)
		if err != nil {
			return err
		}
		h = holds.New(bucket.Client(), acfg.Bucket, wh)
	}
	note := fmt.Sprintf("PN_FEES and PN_EVENTS keep the pushes as received up to %s, PN_REJECTED and PN_DEAD up to %s (PN_STREAM_MAX_AGE, PN_STREAM_REJECTED_MAX_AGE)", scfg.MaxAge, scfg.RejectedMaxAge)
	host, _ := os.Hostname()
	rep, err := erasure.New(wh, h, policy, audit.New(wh), note).Erase(ctx, *number, *dryRun, *who, "pnctl@"+host)
	for _, it := range rep.Items {
		fmt.Fprintf(out, "%-12s %s in %s", it.Outcome, it.What, it.Where)
		if it.Why != "" {
			fmt.Fprintf(out, ": %s", it.Why)
		}
		fmt.Fprintln(out)
	}
	if rep.Number != "" {
		fmt.Fprintln(out, rep.Summary())
	}
	return err
}
