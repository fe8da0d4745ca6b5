// Command pnlocal runs pnstream's dependencies on a development machine in
// the foreground, for `make run` and manual experiments.
//
//	pnlocal clickhouse --dir .local/clickhouse --tcp-port 19000 --http-port 18123
//
// starts clickhouse-server (see internal/localserver) with its data, config
// and logs under --dir, prints its address once it answers, and stops it
// gracefully on SIGINT or SIGTERM. It exits with an error if the server dies
// on its own. Every flag can also be set by the environment variable named
// in --help.
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

	"github.com/pnstream/pnstream/internal/localserver"
)

// stopTimeout bounds the graceful stop after a signal.
const stopTimeout = 30 * time.Second

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
	if len(args) == 0 || args[0] != "clickhouse" {
		return errors.New("usage: pnlocal clickhouse [flags] (see pnlocal clickhouse --help)")
	}
	cfg, err := parseClickHouseFlags(args[1:])
	if err != nil {
		return err
	}
	ch, err := localserver.New(cfg)
	if err != nil {
		return err
	}
	if err := ch.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "clickhouse listening on %s (native), %s (http); data in %s\n", ch.Addr(), ch.HTTPAddr(), ch.Dir())

	select {
	case <-ch.Done():
		return ch.Err()
	case <-ctx.Done():
	}
	fmt.Fprintln(stdout, "stopping clickhouse")
	// The signal context is done; the stop gets a deadline of its own.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	if err := ch.Stop(stopCtx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "clickhouse stopped")
	return nil
}

// clickHouseEnv names the environment variable of each flag. A flag given on
// the command line wins over its variable.
var clickHouseEnv = []struct{ flag, env string }{
	{"dir", "PN_LOCAL_CLICKHOUSE_DIR"},
	{"tcp-port", "PN_LOCAL_CLICKHOUSE_TCP_PORT"},
	{"http-port", "PN_LOCAL_CLICKHOUSE_HTTP_PORT"},
	{"binary", "PN_LOCAL_CLICKHOUSE_BINARY"},
	{"start-timeout", "PN_LOCAL_CLICKHOUSE_START_TIMEOUT"},
}

func parseClickHouseFlags(args []string) (localserver.Config, error) {
	fs := flag.NewFlagSet("pnlocal clickhouse", flag.ContinueOnError)
	var cfg localserver.Config
	fs.StringVar(&cfg.Dir, "dir", ".local/clickhouse",
		"directory for config, data and logs (PN_LOCAL_CLICKHOUSE_DIR)")
	fs.IntVar(&cfg.TCPPort, "tcp-port", 19000,
		"native protocol port on 127.0.0.1 (PN_LOCAL_CLICKHOUSE_TCP_PORT)")
	fs.IntVar(&cfg.HTTPPort, "http-port", 18123,
		"HTTP port on 127.0.0.1 (PN_LOCAL_CLICKHOUSE_HTTP_PORT)")
	fs.StringVar(&cfg.Binary, "binary", "",
		"clickhouse-server executable; empty: from PATH, else "+localserver.DefaultBinaryPath+" (PN_LOCAL_CLICKHOUSE_BINARY)")
	fs.DurationVar(&cfg.StartTimeout, "start-timeout", localserver.DefaultStartTimeout,
		"how long to wait for the server to answer (PN_LOCAL_CLICKHOUSE_START_TIMEOUT)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, e := range clickHouseEnv {
		v, ok := os.LookupEnv(e.env)
		if !ok || given[e.flag] {
			continue
		}
		if err := fs.Set(e.flag, v); err != nil {
			return cfg, fmt.Errorf("%s=%q: %w", e.env, v, err)
		}
	}
	return cfg, nil
}
