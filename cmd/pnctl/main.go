// Command pnctl is the operator's tool for pnstream.
//
//	pnctl push [flags] FILE...                post push bodies to ingest, signed like the platform does
//	pnctl bind [flags]                        create an AXE binding
//	pnctl unbind [flags] [SUBSCRIPTION_ID]    delete a binding
//	pnctl query [flags] [SUBSCRIPTION_ID]     show a binding
//	pnctl modify [flags] [SUBSCRIPTION_ID]    change the settings given as flags
//	pnctl recording-url [flags] DOMAIN FILE   print a recording's download URL (the 301's Location)
//	pnctl list-bindings --virtual-num X       list every binding of X, page by page (query v2)
//	pnctl count-bindings --virtual-num X      print how many bindings X has
//	pnctl replay [--dry-run] [--source S]     re-drive PN_DEAD messages to their subjects, once each
//	pnctl backfill-recordings [--dry-run]     re-enqueue recordings not archived and still on the platform
//	pnctl audit-archive                       check every archived recording's object: presence, size, SHA-256
//	pnctl gaps                                list missing CDRs and unarchived recordings near their deadline
//	pnctl report --html FILE [--days N]       write a self-contained HTML report with charts
//	pnctl erase --number N [--dry-run]        erase a subscriber's data, except under legal hold; report item by item
//
// The API commands call the real platform or the simulator (cmd/pnsim):
// PN_API_BASE_URL, PN_APP_KEY and PN_APP_SECRET, --api-ca-file for a
// private CA, --json for machine-readable output. A refused call prints the
// platform's result code and what it means, and exits 1.
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
	"github.com/pnstream/pnstream/internal/redact"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	daemon.Exit("pnctl", err)
}

// run runs the command args name, with the rest of args, writing its
// output to out.
func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(out, usage)
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
	// The one place pnctl's errors leave it: no signed URL or URL
	// credentials in what it prints (recording-url prints its URL on
	// purpose, on out, not in an error).
	return redact.Error(err)
}
