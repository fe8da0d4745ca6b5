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
	"runtime"
	"runtime/pprof"
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
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a table")
	jsonFile := fs.String("json-file", "", "also write the report as JSON to this file, for comparing runs")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile of the run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	progress := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "pnbench: "+format+"\n", args...) }
	rep, err := bench.Run(ctx, cfg, progress)
	if rep != nil {
		var werr error
		if *asJSON {
			werr = rep.WriteJSON(os.Stdout)
		} else {
			werr = rep.WriteTable(os.Stdout)
		}
		if *jsonFile != "" {
			werr = errors.Join(werr, writeJSONFile(*jsonFile, rep))
		}
		err = errors.Join(err, werr)
	}
	if *memProfile != "" {
		err = errors.Join(err, writeHeapProfile(*memProfile))
	}
	return err
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("mem profile: %w", err)
	}
	runtime.GC()
	return errors.Join(pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
}

func writeJSONFile(path string, rep *bench.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	return errors.Join(rep.WriteJSON(f), f.Close())
}
