// Command pnlocal runs pnstream's dependencies on a development machine in
// the foreground, for `make run` and manual experiments.
//
//	pnlocal clickhouse --dir .local/clickhouse --tcp-port 19000 --http-port 18123
//	pnlocal s3 --dir .local/s3 --port 17070
//
// starts clickhouse-server, or the versitygw S3 gateway (see
// internal/localserver), with its data and logs under --dir, prints its
// address once it answers, and stops it gracefully on SIGINT or SIGTERM. It
// exits with an error if the server dies on its own. Every flag can also be
// set by the environment variable named in --help; the S3 credentials are
// PN_S3_ACCESS_KEY and PN_S3_SECRET_KEY, as for the pipeline's commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// stopTimeout bounds the graceful stop after a signal.
const stopTimeout = 30 * time.Second

const usage = "usage: pnlocal clickhouse|s3 [flags] (see pnlocal clickhouse --help, pnlocal s3 --help)"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "pnlocal:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "clickhouse":
		return runClickHouse(ctx, args[1:], stdout)
	case "s3":
		return runS3(ctx, args[1:], stdout)
	default:
		return errors.New(usage)
	}
}

// server is what pnlocal runs in the foreground: a localserver server.
type server interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Done() <-chan struct{}
	Err() error
}

// serve starts srv, prints ready once it answers, and keeps it running until
// ctx is done (a signal) or it dies on its own.
func serve(ctx context.Context, name string, srv server, ready string, stdout io.Writer) error {
	if err := srv.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, ready)

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
