package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/pnstream/pnstream/internal/bench"
)

// output is where the report and the profiles go.
type output struct {
	asJSON     bool
	jsonFile   string
	cpuProfile string
	memProfile string
}

func (o *output) registerFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.asJSON, "json", false, "print the report as JSON instead of a table")
	fs.StringVar(&o.jsonFile, "json-file", "", "also write the report as JSON to this file, for comparing runs")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	fs.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile of the run to this file")
}

// startCPUProfile starts the -cpuprofile profile, if any, and returns what
// stops it.
func (o *output) startCPUProfile() (stop func() error, err error) {
	if o.cpuProfile == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(o.cpuProfile)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, errors.Join(fmt.Errorf("cpu profile: %w", err), f.Close())
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// writeReport prints rep as a table (or JSON with -json) and writes the
// -json-file.
func (o *output) writeReport(w io.Writer, rep *bench.Report) error {
	var err error
	if o.asJSON {
		err = rep.WriteJSON(w)
	} else {
		err = rep.WriteTable(w)
	}
	if o.jsonFile == "" {
		return err
	}
	f, ferr := os.Create(o.jsonFile)
	if ferr != nil {
		return errors.Join(err, fmt.Errorf("json report: %w", ferr))
	}
	return errors.Join(err, rep.WriteJSON(f), f.Close())
}

// writeHeapProfile writes the -memprofile allocation profile, if any.
func (o *output) writeHeapProfile() error {
	if o.memProfile == "" {
		return nil
	}
	f, err := os.Create(o.memProfile)
	if err != nil {
		return fmt.Errorf("mem profile: %w", err)
	}
	runtime.GC()
	return errors.Join(pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
}
