package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
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

// envFlag names the environment variable of a flag.
type envFlag struct{ flag, env string }

// parse parses args into fs, then sets every flag not given on the command
// line from its environment variable, if set: a flag wins over its variable,
// a variable over the default.
func parse(fs *flag.FlagSet, args []string, envs []envFlag) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, e := range envs {
		v, ok := os.LookupEnv(e.env)
		if !ok || given[e.flag] {
			continue
		}
		if err := fs.Set(e.flag, v); err != nil {
			// Only numbers and durations fail to parse, so this never quotes
			// a secret.
			return fmt.Errorf("%s=%q: %w", e.env, v, err)
		}
	}
	return nil
}
