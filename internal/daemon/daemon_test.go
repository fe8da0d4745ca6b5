package daemon

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestParseReadsEnvironmentFlagsWin(t *testing.T) {
	t.Setenv("PN_NATS_URL", "nats://from-env:4222")
	t.Setenv("PN_RECORDER_BATCH_WAIT", "3s")
	t.Setenv("PN_APP_KEY", "env-key")
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	url := fs.String("nats-url", "nats://default:4222", "")
	wait := fs.Duration("recorder-batch-wait", time.Second, "")
	key := fs.String("app-key", "", "")
	if err := Parse(fs, []string{"-app-key", "flag-key"}); err != nil {
		t.Fatal(err)
	}
	if *url != "nats://from-env:4222" || *wait != 3*time.Second || *key != "flag-key" {
		t.Errorf("url=%q wait=%s key=%q", *url, *wait, *key)
	}
}

func TestParseRejectsBadEnvironmentValue(t *testing.T) {
	t.Setenv("PN_RECORDER_BATCH_WAIT", "soon")
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	fs.Duration("recorder-batch-wait", time.Second, "")
	if err := Parse(fs, nil); err == nil || !strings.Contains(err.Error(), "PN_RECORDER_BATCH_WAIT") {
		t.Errorf("Parse = %v, want an error naming the variable", err)
	}
}

func TestUsageNamesEnvironmentVariables(t *testing.T) {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	fs.String("ingest-addr", ":8080", "ingest listen address")
	if err := Parse(fs, []string{"-help"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Parse(-help) = %v", err)
	}
	if !strings.Contains(out.String(), "-ingest-addr  (PN_INGEST_ADDR)") || !strings.Contains(out.String(), `(default ":8080")`) {
		t.Errorf("usage:\n%s", out.String())
	}
}

func TestNewLogger(t *testing.T) {
	if _, err := NewLogger(LogConfig{Level: "loud", Format: "json"}, "x"); err == nil {
		t.Error("bad level accepted")
	}
	if _, err := NewLogger(LogConfig{Level: "info", Format: "xml"}, "x"); err == nil {
		t.Error("bad format accepted")
	}
	if _, err := NewLogger(LogConfig{Level: "debug", Format: "console"}, "x"); err != nil {
		t.Error(err)
	}
}

// A Command reads its settings, builds its logger and runs; -help is no
// error, and a bad setting never reaches Run.
func TestCommandStart(t *testing.T) {
	type settings struct {
		log  LogConfig
		word string
	}
	ran := ""
	c := Command[settings]{
		Name: "test",
		Parse: func(args []string) (settings, error) {
			var s settings
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			s.log.RegisterFlags(fs)
			fs.StringVar(&s.word, "word", "", "a word")
			return s, fs.Parse(args)
		},
		Log: func(s settings) LogConfig { return s.log },
		Run: func(ctx context.Context, s settings, log *zap.Logger) error {
			if log == nil {
				return errors.New("no logger")
			}
			ran = s.word
			return nil
		},
	}
	if err := c.Start(context.Background(), []string{"-word", "hello"}); err != nil || ran != "hello" {
		t.Errorf("Start = %v, ran with %q; want nil and hello", err, ran)
	}
	ran = ""
	if err := c.Start(context.Background(), []string{"-help"}); err != nil || ran != "" {
		t.Errorf("Start -help = %v, ran with %q; want nil and not run", err, ran)
	}
	if err := c.Start(context.Background(), []string{"-log-level", "loud"}); err == nil || ran != "" {
		t.Errorf("Start with a bad log level = %v, ran %q; want an error and not run", err, ran)
	}
}

// A removed variable that is still set is logged as a warning naming what
// replaced it; one that is not set is not.
func TestStartWarnsOfRemovedSettings(t *testing.T) {
	t.Setenv("PN_OLD_SETTING", "1")
	core, logs := observer.New(zap.WarnLevel)
	c := Command[struct{}]{Removed: map[string]string{"PN_OLD_SETTING": "PN_NEW_SETTING", "PN_UNSET_SETTING": "x"}}
	c.warnRemoved(zap.New(core))
	if logs.Len() != 1 || logs.All()[0].ContextMap()["variable"] != "PN_OLD_SETTING" || logs.All()[0].ContextMap()["instead"] != "PN_NEW_SETTING" {
		t.Errorf("warnings: %+v", logs.All())
	}
}
