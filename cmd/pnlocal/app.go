package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pnstream/pnstream/internal/localserver"
)

// stopTimeout bounds the graceful stop after a signal.
const stopTimeout = 30 * time.Second

// server is what pnlocal runs in the foreground: a localserver server.
type server interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Done() <-chan struct{}
	Err() error
}

// command is a subcommand: it parses its flags into a server and the line
// to print once the server answers.
type command func(args []string) (srv server, ready func() string, err error)

// newCommand makes the subcommand that parses its flags into a config C
// with parse, makes the server S of it with newServer (a localserver
// constructor), and describes it once it answers with ready.
func newCommand[C any, S server](parse func([]string) (C, error), newServer func(C) (S, error), ready func(C, S) string) command {
	return func(args []string) (server, func() string, error) {
		cfg, err := parse(args)
		if err != nil {
			return nil, nil, err
		}
		srv, err := newServer(cfg)
		if err != nil {
			return nil, nil, err
		}
		return srv, func() string { return ready(cfg, srv) }, nil
	}
}

// serve starts srv, prints its ready line once it answers, and keeps it
// running until ctx is done (a signal) or it dies on its own.
func serve(ctx context.Context, name string, srv server, ready func() string, stdout io.Writer) error {
	if err := srv.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, ready())

	select {
	case <-srv.Done():
		return srv.Err()
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "stopping", name)
	// The signal context is done; the stop gets a deadline of its own.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	if err := srv.Stop(stopCtx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, name, "stopped")
	return nil
}

// envFlags is a subcommand's flag set in which every flag can also be set
// by an environment variable, named in its usage: a flag given on the
// command line wins over its variable, a variable over the default.
type envFlags struct {
	fs     *flag.FlagSet
	prefix string // of the variables of the flags every server has
	env    []envFlag
}

// envFlag names the environment variable of a flag.
type envFlag struct{ flag, env string }

func newEnvFlags(name, prefix string) *envFlags {
	return &envFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError), prefix: prefix}
}

// named records the variable of flag name and appends it to usage.
func (f *envFlags) named(name, env, usage string) string {
	f.env = append(f.env, envFlag{name, env})
	return usage + " (" + env + ")"
}

func (f *envFlags) stringVar(p *string, name, env, value, usage string) {
	f.fs.StringVar(p, name, value, f.named(name, env, usage))
}

func (f *envFlags) intVar(p *int, name, env string, value int, usage string) {
	f.fs.IntVar(p, name, value, f.named(name, env, usage))
}

// server registers the flags every subcommand has, --dir, --binary and
// --start-timeout, with the variables <prefix>DIR, BINARY and
// START_TIMEOUT.
func (f *envFlags) server(dir *string, defaultDir, dirHolds string, binary *string, binaryUsage string, startTimeout *time.Duration) {
	f.stringVar(dir, "dir", f.prefix+"DIR", defaultDir, "directory for "+dirHolds)
	f.stringVar(binary, "binary", f.prefix+"BINARY", "", binaryUsage)
	f.fs.DurationVar(startTimeout, "start-timeout", localserver.DefaultStartTimeout,
		f.named("start-timeout", f.prefix+"START_TIMEOUT", "how long to wait for the server to answer"))
}

// parse parses args, then sets every flag not given on the command line
// from its environment variable, if set.
func (f *envFlags) parse(args []string) error {
	if err := f.fs.Parse(args); err != nil {
		return err
	}
	if f.fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", f.fs.Args())
	}
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for _, e := range f.env {
		v, ok := os.LookupEnv(e.env)
		if !ok || given[e.flag] {
			continue
		}
		if err := f.fs.Set(e.flag, v); err != nil {
			// Only numbers and durations fail to parse, so this never quotes
			// a secret.
			return fmt.Errorf("%s=%q: %w", e.env, v, err)
		}
	}
	return nil
}
