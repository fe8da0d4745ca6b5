package main

import (
	"context"
	"io"
)

// commands are pnctl's commands, by name: each parses its own flags (and
// their PN_* variables) from args and writes its output to out.
var commands = map[string]func(ctx context.Context, args []string, out io.Writer) error{
	"push":           runPush,
	"bind":           runBind,
	"unbind":         runUnbind,
	"query":          runQuery,
	"modify":         runModify,
	"recording-url":  runRecordingURL,
	"list-bindings":  runListBindings,
	"count-bindings": runCountBindings,

	"replay":              runReplay,
	"backfill-recordings": runBackfill,
	"audit-archive":       runAuditArchive,
	"gaps":                runGaps,
	"report":              runReport,
	"erase":               runErase,
}

const usage = `usage: pnctl COMMAND [flags]

commands:
  push            post push bodies to ingest, signed with the app key and secret
  bind            create an AXE binding on the platform
  unbind          delete a binding (by SUBSCRIPTION_ID, or --virtual-num and --extend-num)
  query           show a binding
  modify          change the binding settings given as flags
  recording-url   print a recording's download URL, without following it
  list-bindings   list every binding of an X (--virtual-num), all pages; --json: one binding per line
  count-bindings  print how many bindings an X (--virtual-num) has

operations (NATS, ClickHouse and S3 settings as the recorder's, PN_* variables):
  replay               re-drive PN_DEAD messages to their original subjects after a fix (--dry-run)
  backfill-recordings  re-enqueue recordings missing or failed and still within retention (--dry-run)
  audit-archive        compare every pn.recordings row with its S3 object; exit 1 on any mismatch
  gaps                 list sessions without CDR and unarchived recordings; exit 1 when there is one
  report               write a self-contained HTML report (--html FILE): calls, answer rate, failures, archive
  erase                erase a subscriber's rows and recordings (--number N, --dry-run), except under legal hold

pnctl COMMAND --help lists the flags of a command and their PN_* variables.`
