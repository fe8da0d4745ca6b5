package pii

import (
	"bytes"
	"flag"
	"fmt"
	"strings"
	"testing"
)

func TestConfigDefaultsToMasked(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if p, err := c.Policy(); err != nil || p.Mode() != ModeMasked {
		t.Errorf("default policy %q, %v; want masked", p.Mode(), err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		c    Config
		want string // in the error; "" for none
	}{
		{Config{Mode: ModeRaw}, ""},
		{Config{Mode: ModeHMAC, Key: string(testKey)}, ""},
		{Config{Mode: ModeHMAC, Key: "short"}, "key has 5 bytes"},
		{Config{Mode: "plain"}, "want raw, masked or hmac"},
	} {
		err := tt.c.Validate()
		if _, perr := tt.c.Policy(); (perr == nil) != (err == nil) {
			t.Errorf("%#v: Validate %v but Policy %v", tt.c, err, perr)
		}
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%#v: %v", tt.c, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%#v: error %v, want one about %q", tt.c, err, tt.want)
		case err != nil && tt.c.Key != "" && strings.Contains(err.Error(), tt.c.Key):
			t.Errorf("error shows the key: %v", err)
		}
	}
}

// The flags keep the names (and so the variables PN_PII_MODE and
// PN_PII_KEY) they had when the warehouse registered them, and the key is
// never shown.
func TestConfigFlagsHideTheKey(t *testing.T) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.RegisterFlags(fs)
	var help bytes.Buffer
	fs.SetOutput(&help)
	fs.PrintDefaults()
	if !strings.Contains(help.String(), `-pii-mode`) || !strings.Contains(help.String(), `(default "masked")`) || !strings.Contains(help.String(), "-pii-key") {
		t.Errorf("--help:\n%s", help.String())
	}
	if err := fs.Parse([]string{"-pii-mode", "hmac", "-pii-key", string(testKey)}); err != nil {
		t.Fatal(err)
	}
	if c != (Config{Mode: ModeHMAC, Key: string(testKey)}) {
		t.Errorf("after Parse: %#v", c)
	}
	var dump strings.Builder
	fs.VisitAll(func(f *flag.Flag) { fmt.Fprintf(&dump, "%s=%s %s;", f.Name, f.Value, f.DefValue) })
	for _, s := range []string{dump.String(), c.String(), fmt.Sprintf("%v %+v %#v %s", c, c, c, &c)} {
		if strings.Contains(s, string(testKey)) {
			t.Errorf("the key shows: %s", s)
		}
	}
	if !strings.Contains(c.String(), "REDACTED") || strings.Contains(DefaultConfig().String(), "REDACTED") {
		t.Errorf("a set key is not shown as set, or an empty one is: %s, %s", c, DefaultConfig())
	}
}
