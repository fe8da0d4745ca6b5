package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/pnstream/pnstream/internal/axeapi"
	"github.com/pnstream/pnstream/internal/daemon"
)

// apiOptions are the flags every platform API command shares.
type apiOptions struct {
	cfg axeapi.ClientConfig
	// legacyCAFile is -ca-file (PN_CA_FILE), pnctl's name for -api-ca-file
	// before the recorder and pnctl registered the same flags; still read,
	// so scripts that set it keep working. -api-ca-file wins.
	legacyCAFile string
	json         bool
}

func (o *apiOptions) register(fs *flag.FlagSet) {
	o.cfg = axeapi.DefaultClientConfig()
	o.cfg.RegisterFlags(fs)
	fs.StringVar(&o.legacyCAFile, "ca-file", "", "deprecated: -api-ca-file")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of text")
}

// parseAPI parses args and builds the client. Every flag is also read
// from its PN_* variable (PN_APP_KEY, PN_APP_SECRET, PN_API_BASE_URL, ...).
func parseAPI(fs *flag.FlagSet, o *apiOptions, args []string) (*axeapi.Client, map[string]bool, error) {
	o.register(fs)
	if err := daemon.Parse(fs, args); err != nil {
		return nil, nil, err
	}
	if o.cfg.CAFile == "" {
		o.cfg.CAFile = o.legacyCAFile
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c, err := axeapi.NewClient(o.cfg)
	if err != nil {
		return nil, nil, err
	}
	return c, set, nil
}

// refFlags name one binding: a positional subscriptionId, or flags.
type refFlags struct {
	ref axeapi.BindingRef
}

func (r *refFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.ref.SubscriptionID, "subscription-id", "", "binding ID (or give it as the argument)")
	fs.StringVar(&r.ref.VirtualNum, "virtual-num", "", "X number, E.164 (with --extend-num instead of an ID)")
	fs.StringVar(&r.ref.ExtendNum, "extend-num", "", "extension E (with --virtual-num)")
}

// resolve takes the positional ID and refuses a binding named twice or
// not at all.
func (r *refFlags) resolve(fs *flag.FlagSet) (axeapi.BindingRef, error) {
	switch {
	case fs.NArg() > 1:
		return r.ref, fmt.Errorf("%s: at most one SUBSCRIPTION_ID argument", fs.Name())
	case fs.NArg() == 1 && r.ref.SubscriptionID != "":
		return r.ref, fmt.Errorf("%s: give the subscription ID once", fs.Name())
	case fs.NArg() == 1:
		r.ref.SubscriptionID = fs.Arg(0)
	}
	if r.ref.SubscriptionID == "" && (r.ref.VirtualNum == "" || r.ref.ExtendNum == "") {
		return r.ref, fmt.Errorf("%s: name the binding by SUBSCRIPTION_ID, or by --virtual-num and --extend-num", fs.Name())
	}
	return r.ref, nil
}

// parseRefCommand parses the flags of a command that names one binding
// (by SUBSCRIPTION_ID, or --virtual-num and --extend-num) and returns the
// client and the binding.
func parseRefCommand(fs *flag.FlagSet, o *apiOptions, args []string) (*axeapi.Client, axeapi.BindingRef, error) {
	var r refFlags
	r.register(fs)
	client, _, err := parseAPI(fs, o, args)
	if err != nil {
		return nil, axeapi.BindingRef{}, err
	}
	ref, err := r.resolve(fs)
	if err != nil {
		return nil, axeapi.BindingRef{}, err
	}
	return client, ref, nil
}

func runUnbind(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("pnctl unbind", flag.ContinueOnError)
	var o apiOptions
	client, ref, err := parseRefCommand(fs, &o, args)
	if err != nil {
		return err
	}
	if err := client.Unbind(ctx, ref); err != nil {
		return report(out, o.json, err)
	}
	if o.json {
		return writeJSON(out, map[string]any{"unbound": true, "subscriptionId": ref.SubscriptionID,
			"virtualNum": ref.VirtualNum, "extendNum": ref.ExtendNum})
	}
	_, err = fmt.Fprintf(out, "unbound %s\n", ref)
	return err
}

func runQuery(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("pnctl query", flag.ContinueOnError)
	var o apiOptions
	client, ref, err := parseRefCommand(fs, &o, args)
	if err != nil {
		return err
	}
	info, err := client.Query(ctx, ref)
	if err != nil {
		return report(out, o.json, err)
	}
	if o.json {
		return writeJSON(out, info)
	}
	return writeTable(out, [][2]string{
		{"subscriptionId", info.SubscriptionID},
		{"virtualNum", info.VirtualNum},
		{"extendNum", info.ExtendNum},
		{"bindNum", info.BindNum},
		{"displayNumMode", info.DisplayNumMode},
		{"recordFlag", strconv.FormatBool(bool(info.RecordFlag))},
		{"recordHintTone", info.RecordHintTone},
		{"callbackTone", info.CallbackTone},
		{"callbackNum", info.CallbackNum},
		{"timeUnit", timeUnitText(info.TimeUnit)},
		{"bindExpiredTime", strconv.Itoa(info.BindExpiredTime)},
		{"callbackExpiredTime", strconv.Itoa(info.CallbackExpiredTime)},
		{"userData", info.UserData},
	})
}

func runRecordingURL(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("pnctl recording-url", flag.ContinueOnError)
	var o apiOptions
	domain := fs.String("record-domain", "", "the CDR's recordDomain (or the first argument)")
	file := fs.String("file-name", "", "the CDR's recordObjectName (or the second argument)")
	client, _, err := parseAPI(fs, &o, args)
	if err != nil {
		return err
	}
	switch {
	case fs.NArg() == 2 && *domain == "" && *file == "":
		*domain, *file = fs.Arg(0), fs.Arg(1)
	case fs.NArg() != 0:
		return errors.New("recording-url: give RECORD_DOMAIN FILE_NAME, or the flags, not both")
	}
	if *domain == "" || *file == "" {
		return errors.New("recording-url: name the recording by --record-domain and --file-name (an empty recordDomain means the CDR's recordFileDownloadUrl is the URL)")
	}
	u, err := client.RecordingURL(ctx, *domain, *file)
	if err != nil {
		return report(out, o.json, err)
	}
	if o.json {
		return writeJSON(out, map[string]string{"url": u.String()})
	}
	_, err = fmt.Fprintln(out, u)
	return err
}

// report explains a platform refusal: its result code and what the code
// means, and in --json mode the same as a JSON object on out. The error is
// returned so that pnctl exits 1.
func report(out io.Writer, asJSON bool, err error) error {
	var apiErr *axeapi.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	e := &explained{err: err, meaning: axeapi.Meaning(apiErr.ResultCode)}
	if apiErr.Temporary() {
		e.retry = fmt.Sprintf("temporary: retry after %s", max(apiErr.RetryAfter(), time.Second))
	}
	if asJSON {
		if werr := writeJSON(out, map[string]any{"error": map[string]any{
			"httpStatus": apiErr.HTTPStatus, "resultcode": apiErr.ResultCode, "resultdesc": apiErr.ResultDesc,
			"meaning": e.meaning, "temporary": apiErr.Temporary(),
		}}); werr != nil {
			return errors.Join(e, werr)
		}
	}
	return e
}

// explained is a platform error with the meaning of its result code.
type explained struct {
	err     error
	meaning string
	retry   string
}

func (e *explained) Error() string {
	s := e.err.Error()
	if e.meaning != "" {
		s += "\n  meaning: " + e.meaning
	}
	if e.retry != "" {
		s += "\n  " + e.retry
	}
	return s
}

func (e *explained) Unwrap() error { return e.err }

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeTable prints name/value rows, aligned, leaving out empty values.
func writeTable(out io.Writer, rows [][2]string) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		if r[1] != "" {
			fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
		}
	}
	return tw.Flush()
}

func timeUnitText(u string) string {
	switch u {
	case axeapi.TimeUnitHours:
		return "0 (hours)"
	case axeapi.TimeUnitMinutes:
		return "1 (minutes)"
	}
	return u
}
