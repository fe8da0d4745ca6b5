package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/pnstream/pnstream/internal/axeapi"
)

// runListBindings prints every binding of one X, page after page (query
// v2) as the pages arrive: a table, or with --json one binding per line.
func runListBindings(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("pnctl list-bindings", flag.ContinueOnError)
	var o apiOptions
	x := fs.String("virtual-num", "", "X number, E.164 (required)")
	limit := fs.Int("page-limit", axeapi.MaxPageLimit, fmt.Sprintf("bindings per page, 1..%d", axeapi.MaxPageLimit))
	client, _, err := parseAPI(fs, &o, args)
	if err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("list-bindings: unexpected argument %q", fs.Arg(0))
	}
	if *x == "" {
		return errors.New("list-bindings: --virtual-num is required")
	}
	if *limit < 1 || *limit > axeapi.MaxPageLimit {
		return fmt.Errorf("list-bindings: --page-limit %d out of 1..%d", *limit, axeapi.MaxPageLimit)
	}
	enc := json.NewEncoder(out)
	const row = "%-36s  %-16s  %-9s  %-16s  %-6s  %-10s  %s\n"
	if !o.json {
		if _, err := fmt.Fprintf(out, row, "SUBSCRIPTION_ID", "VIRTUAL_NUM", "EXTEND", "BIND_NUM", "RECORD", "EXPIRES", "USER_DATA"); err != nil {
			return err
		}
	}
	n := 0
	for b, err := range client.QueryBindingsV2(ctx, axeapi.BindingRef{VirtualNum: *x}, *limit) {
		if err != nil {
			return report(out, o.json, fmt.Errorf("after %d bindings: %w", n, err))
		}
		n++
		if o.json {
			err = enc.Encode(b)
		} else {
			_, err = fmt.Fprintf(out, row, b.SubscriptionID, b.VirtualNum, b.ExtendNum, b.BindNum,
				fmt.Sprint(bool(b.RecordFlag)), expiresText(b), b.UserData)
		}
		if err != nil {
			return err
		}
	}
	if !o.json {
		_, err = fmt.Fprintf(out, "%d bindings\n", n)
	}
	return err
}

// expiresText is a binding's lifetime with its unit, "never" for 0.
func expiresText(b axeapi.BindingInfo) string {
	if b.BindExpiredTime == 0 {
		return "never"
	}
	if b.TimeUnit == axeapi.TimeUnitMinutes {
		return fmt.Sprintf("%dmin", b.BindExpiredTime)
	}
	return fmt.Sprintf("%dh", b.BindExpiredTime)
}

// runCountBindings prints how many bindings one X has.
func runCountBindings(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("pnctl count-bindings", flag.ContinueOnError)
	var o apiOptions
	x := fs.String("virtual-num", "", "X number, E.164 (required)")
	client, _, err := parseAPI(fs, &o, args)
	if err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("count-bindings: unexpected argument %q", fs.Arg(0))
	}
	if *x == "" {
		return errors.New("count-bindings: --virtual-num is required")
	}
	n, err := client.CountBindings(ctx, *x)
	if err != nil {
		return report(out, o.json, err)
	}
	if o.json {
		return writeJSON(out, map[string]any{"virtualNum": *x, "bindCount": n})
	}
	_, err = fmt.Fprintln(out, n)
	return err
}
