package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/pnstream/pnstream/internal/axeapi"
)

// bindingFlags are the binding settings bind and modify share.
type bindingFlags struct {
	displayNumMode, recordHintTone, callbackTone, callbackNum string
	timeUnit, userData                                        string
	record                                                    bool
	bindExpiredTime, callbackExpiredTime                      int
}

func (b *bindingFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.displayNumMode, "display-num-mode", "", `caller ID A sees: "0" X (operators require it), "1" the real caller`)
	fs.BoolVar(&b.record, "record", false, "record the calls (recording must be enabled on the app)")
	fs.StringVar(&b.recordHintTone, "record-hint-tone", "", "approved audio file played before recorded calls")
	fs.StringVar(&b.callbackTone, "callback-tone", "", "tone played when A calls X with no callback record (not with --callback-num)")
	fs.StringVar(&b.callbackNum, "callback-num", "", "number A's calls to X go to with no callback record (not with --callback-tone)")
	fs.StringVar(&b.timeUnit, "time-unit", "", "unit of the expiry times: hours (0) or minutes (1); platform default hours")
	fs.IntVar(&b.bindExpiredTime, "bind-expired-time", 0, "binding lifetime in --time-unit, 0 = never (at most 720 h / 43200 min); platform default 168 h")
	fs.IntVar(&b.callbackExpiredTime, "callback-expired-time", 0, "callback-record lifetime in --time-unit, at most the binding's")
	fs.StringVar(&b.userData, "user-data", "", "customer data echoed in pushes")
}

// timeUnit accepts the platform's codes and their names.
func timeUnit(s string) (string, error) {
	switch s {
	case "", axeapi.TimeUnitHours, axeapi.TimeUnitMinutes:
		return s, nil
	case "hours", "h":
		return axeapi.TimeUnitHours, nil
	case "minutes", "min", "m":
		return axeapi.TimeUnitMinutes, nil
	}
	return "", fmt.Errorf("time-unit %q: want hours (0) or minutes (1)", s)
}

func runBind(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("pnctl bind", flag.ContinueOnError)
	var (
		o   apiOptions
		b   bindingFlags
		req axeapi.BindRequest
	)
	fs.StringVar(&req.VirtualNum, "virtual-num", "", "X to bind, E.164 (or --area-code)")
	fs.StringVar(&req.AreaCode, "area-code", "", "city code such as 0755: the platform picks an X")
	fs.StringVar(&req.AreaMatchMode, "area-match-mode", "", `with --area-code: "0" strict, "1" fall back to other areas`)
	fs.StringVar(&req.BindNum, "bind-num", "", "A, the real number, E.164 (required)")
	fs.StringVar(&req.ExtendNum, "extend-num", "", "ask for this extension E; default: the platform allocates one")
	b.register(fs)
	client, set, err := parseAPI(fs, &o, args)
	if err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("bind: unexpected argument %q", fs.Arg(0))
	}
	if req.BindNum == "" || (req.VirtualNum == "" && req.AreaCode == "") {
		return errors.New("bind: --bind-num and one of --virtual-num or --area-code are required")
	}
	if req.TimeUnit, err = timeUnit(b.timeUnit); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	req.DisplayNumMode, req.RecordHintTone, req.UserData = b.displayNumMode, b.recordHintTone, b.userData
	req.CallbackTone, req.CallbackNum = b.callbackTone, b.callbackNum
	req.RecordFlag = axeapi.Flag(b.record)
	if set["bind-expired-time"] {
		req.BindExpiredTime = &b.bindExpiredTime
	}
	if set["callback-expired-time"] {
		req.CallbackExpiredTime = &b.callbackExpiredTime
	}
	resp, err := client.Bind(ctx, &req)
	if err != nil {
		return report(out, o.json, err)
	}
	if o.json {
		return writeJSON(out, resp)
	}
	return writeTable(out, [][2]string{
		{"subscriptionId", resp.SubscriptionID},
		{"virtualNum", resp.VirtualNum},
		{"extendNum", resp.ExtendNum},
		{"bindExpiredTime", strconv.Itoa(resp.BindExpiredTime)},
		{"callbackExpiredTime", strconv.Itoa(resp.CallbackExpiredTime)},
	})
}

func runModify(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("pnctl modify", flag.ContinueOnError)
	var (
		o apiOptions
		r refFlags
		b bindingFlags
	)
	r.register(fs)
	b.register(fs)
	client, set, err := parseAPI(fs, &o, args)
	if err != nil {
		return err
	}
	ref, err := r.resolve(fs)
	if err != nil {
		return err
	}
	req := axeapi.ModifyRequest{SubscriptionID: ref.SubscriptionID, VirtualNum: ref.VirtualNum, ExtendNum: ref.ExtendNum}
	// Only the flags given are sent: the platform leaves the rest unchanged.
	str := func(name, v string) *string {
		if !set[name] {
			return nil
		}
		return &v
	}
	req.DisplayNumMode = str("display-num-mode", b.displayNumMode)
	req.RecordHintTone = str("record-hint-tone", b.recordHintTone)
	req.CallbackTone = str("callback-tone", b.callbackTone)
	req.CallbackNum = str("callback-num", b.callbackNum)
	req.UserData = str("user-data", b.userData)
	if set["time-unit"] {
		u, err := timeUnit(b.timeUnit)
		if err != nil {
			return fmt.Errorf("modify: %w", err)
		}
		req.TimeUnit = &u
	}
	if set["record"] {
		f := axeapi.Flag(b.record)
		req.RecordFlag = &f
	}
	if set["bind-expired-time"] {
		req.BindExpiredTime = &b.bindExpiredTime
	}
	if set["callback-expired-time"] {
		req.CallbackExpiredTime = &b.callbackExpiredTime
	}
	if err := client.Modify(ctx, &req); err != nil {
		return report(out, o.json, err)
	}
	if o.json {
		return writeJSON(out, map[string]any{"modified": true, "subscriptionId": ref.SubscriptionID,
			"virtualNum": ref.VirtualNum, "extendNum": ref.ExtendNum})
	}
	_, err = fmt.Fprintf(out, "modified %s\n", ref)
	return err
}
