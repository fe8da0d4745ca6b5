// Command pnlocal runs pnstream's dependencies on a development machine in
// the foreground, for `make run` and manual experiments.
//
//	pnlocal clickhouse --dir .local/clickhouse --tcp-port 19000 --http-port 18123
//	pnlocal s3 --dir .local/s3 --port 17070
//	pnlocal nats --dir .local/nats --port 14222 --monitor-port 18222
//
// starts clickhouse-server, the versitygw S3 gateway or nats-server with
// JetStream (embedded in pnlocal unless --binary names one; see
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
)

const usage = "usage: pnlocal clickhouse|s3|nats [flags] (see pnlocal <server> --help)"

// commands are pnlocal's subcommands, by name.
var commands = map[string]command{
	"clickhouse": clickHouseCommand,
	"s3":         s3Command,
	"nats":       natsCommand,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "pnlocal:", err)
		os.Exit(1)
	}
}

// run parses the subcommand's flags and serves its server until ctx is done.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return errors.New(usage)
	}
	srv, ready, err := cmd(args[1:])
	if err != nil {
		return err
	}
	return serve(ctx, args[0], srv, ready, stdout)
}
