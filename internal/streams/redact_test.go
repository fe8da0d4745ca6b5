package streams_test

import (
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/pnstream/pnstream/internal/streams"
)

func TestRedactURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://u:p4ss@h:4222", "nats://redacted@h:4222"},
		{"tls://s3cr3t-token@nats.example:4222", "tls://redacted@nats.example:4222"},
		{"u:p4ss@h:4222", "redacted@h:4222"}, // nats.go reads it as nats://
		{"nats://u:p4ss@a:4222, nats://u:p4ss@b:4222,nats://c:4222", "nats://redacted@a:4222,nats://redacted@b:4222,nats://c:4222"},
		{"nats://u:p%40ss@h:4222/path?token=s3cr3t#frag", "nats://redacted@h:4222"},
		{"nats://[::1]:4222", "nats://[::1]:4222"},
		{"", ""},
		{"nats://u:p4ss@h:notaport", "<unparsable-url>"},
		{"nats://u:p4ss@", "<unparsable-url>"},
		{"::::", "<unparsable-url>"},
		{"nats://u:p4ss@h:4222,%%%s3cr3t", "nats://redacted@h:4222,<unparsable-url>"},
		{"nats://u:p4ss word@h:4222", "<unparsable-url>"},
	} {
		got := streams.RedactURL(c.in)
		if got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
		for _, secret := range []string{"p4ss", "s3cr3t", "p%40ss"} {
			if strings.Contains(got, secret) {
				t.Errorf("RedactURL(%q) = %q: shows %q", c.in, got, secret)
			}
		}
	}
}

func TestConnConfigRedactedKeepsTheRest(t *testing.T) {
	cc := streams.DefaultConnConfig()
	cc.URL = "nats://pnstream:hunter2@nats:4222"
	cc.CredsFile = "/etc/nats/pn.creds"
	r := cc.Redacted()
	if r.URL != "nats://redacted@nats:4222" || r.CredsFile != cc.CredsFile || r.ReconnectWait != cc.ReconnectWait {
		t.Errorf("Redacted() = %+v", r)
	}
	if cc.URL != "nats://pnstream:hunter2@nats:4222" {
		t.Errorf("Redacted changed its receiver: %q", cc.URL)
	}
}

// An unparsable URL is refused by Validate and Connect without quoting it:
// nats.go's own parse error would show the password.
func TestConnectNeverShowsTheURLsCredentials(t *testing.T) {
	cc := streams.DefaultConnConfig()
	cc.URL = "nats://127.0.0.1:4222,nats://pnstream:hunter2@nats:bad-port"
	verr := cc.Validate()
	_, _, cerr := streams.Connect(cc, "redact-test", zaptest.NewLogger(t))
	for _, err := range []error{verr, cerr} {
		if err == nil {
			t.Fatal("want an error for an unparsable URL")
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "pnstream:") {
			t.Errorf("error shows the credentials: %v", err)
		}
		if !strings.Contains(err.Error(), "nats url 2 of the list") {
			t.Errorf("error %q does not say which URL", err)
		}
	}
}
