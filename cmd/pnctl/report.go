package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pnstream/pnstream/internal/daemon"
	pnreport "github.com/pnstream/pnstream/internal/report"
)

// runReport writes the HTML report of the last --days days.
func runReport(ctx context.Context, args []string, out io.Writer) error {
	fs, wcfg := newWarehouseFlags("report")
	file := fs.String("html", "", "write the report to this HTML file (required)")
	days := fs.Int("days", 7, "report the calls of the last DAYS days, to now")
	if err := daemon.Parse(fs, args); err != nil {
		return err
	}
	if *file == "" || *days < 1 {
		return errors.New("report: want --html FILE and --days of at least 1")
	}
	wh, err := openWarehouse(ctx, *wcfg)
	if err != nil {
		return err
	}
	defer wh.Close()
	now := time.Now().UTC()
	to := now.Truncate(time.Hour).Add(time.Hour)
	d, err := pnreport.Load(ctx, wh, to.Add(-time.Duration(*days)*24*time.Hour), to, now)
	if err != nil {
		return err
	}
	f, err := os.Create(*file)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := pnreport.Render(f, d); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintf(out, "wrote %s: %d hours, %d failure reasons, %d days of coverage, %d X numbers not usable\n",
		*file, len(d.Hours), len(d.Reasons), len(d.Coverage), len(d.Unusable))
	return nil
}
