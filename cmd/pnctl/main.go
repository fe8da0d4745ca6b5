// Command pnctl is the operator's tool for pnstream.
//
//	pnctl push [flags] FILE...   post push bodies to ingest, signed like the platform does
//
// Every flag is also read from its PN_* environment variable.
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

	"github.com/pnstream/pnstream/internal/daemon"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	daemon.Exit("pnctl", err)
}

var commands = map[string]func(ctx context.Context, args []string, out io.Writer) error{
	"push": runPush,
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(out, "usage: pnctl COMMAND [flags]\n\ncommands:\n  push    post push bodies to ingest, signed with the app key and secret")
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return fmt.Errorf("unknown command %q (pnctl help lists them)", args[0])
	}
	err := cmd(ctx, args[1:], out)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}
