// Command pnbench is pnstream's performance benchmark (`make bench`): it
// starts NATS, ClickHouse and the S3 gateway on loopback, measures each
// stage of the pipeline beside the raw limit of the tools it rests on, in
// the same run, and prints one table (or JSON with -json). -cpuprofile and
// -memprofile write pprof profiles of the whole run; pick one stage with
// -stages to profile it alone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pnstream/pnstream/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "pnbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	cfg := bench.DefaultConfig()
	fs := flag.NewFlagSet("pnbench", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	var out output
	out.registerFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	stopProfile, err := out.startCPUProfile()
	if err != nil {
		return err
	}
	progress := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "pnbench: "+format+"\n", args...) }
	rep, err := bench.Run(ctx, cfg, progress)
	if rep != nil {
		err = errors.Join(err, out.writeReport(os.Stdout, rep))
	}
	return errors.Join(err, stopProfile(), out.writeHeapProfile())
}
