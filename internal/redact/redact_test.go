package redact

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const token = "SIG-TOKEN-7f3a"

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://rec.example.com/a/b.wav?X-Amz-Signature=" + token + "&Expires=1", "https://rec.example.com/a/b.wav?REDACTED"},
		{"https://user:" + token + "@h.example.com:8443/p", "https://REDACTED@h.example.com:8443/p"},
		{"nats://" + token + "@nats:4222", "nats://REDACTED@nats:4222"},
		{"https://h/p#" + token, "https://h/p"},
		{"https://h/p?", "https://h/p"},
		{"https://h/p", "https://h/p"},
		{"https://h/%zz?sig=" + token, "https://h/%zz?REDACTED"},    // does not parse
		{"https://u:" + token + "@h/%zz", "https://REDACTED@h/%zz"}, // does not parse, userinfo
		{"/relative?sig=" + token, "/relative?REDACTED"},
		{"", ""},
	} {
		got := URL(tc.in)
		if got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestString(t *testing.T) {
	in := `Get "https://h/x.wav?sig=` + token + `": dial tcp; see https://a:` + token + `@b/c and http://ok/`
	got := String(in)
	if strings.Contains(got, token) || !strings.Contains(got, "https://h/x.wav?REDACTED") || !strings.Contains(got, "http://ok/") {
		t.Errorf("String = %q", got)
	}
	if String("no url here") != "no url here" {
		t.Error("text without a URL changed")
	}
}

var (
	errSentinel = errors.New("sentinel")
	badURL      = "https://h/\x7f?sig=" + token // a control character: url.Parse refuses it, quoting it
)

// net/http's errors carry the full URL; Error removes it and keeps the
// chain for errors.Is and errors.As.
func TestError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	<-ctx.Done()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:1/a.wav?sig="+token, nil)
	_, httpErr := http.DefaultClient.Do(req)
	if httpErr == nil || !strings.Contains(httpErr.Error(), token) {
		t.Fatalf("the test needs an error with the URL: %v", httpErr)
	}
	_, parseErr := url.Parse(badURL)
	for _, err := range []error{
		fmt.Errorf("download: %w", httpErr),
		errors.Join(errSentinel, parseErr),
		fmt.Errorf("text %s: %w", "https://h/?sig="+token, errSentinel),
	} {
		got := Error(err)
		if strings.Contains(got.Error(), token) || strings.Contains(fmt.Sprintf("%+v %#v", got, got.Error()), token) {
			t.Errorf("Error(%v) = %q", err, got)
		}
		if !errors.Is(got, context.DeadlineExceeded) && !errors.Is(got, errSentinel) {
			t.Errorf("Error(%v) lost its chain", err)
		}
	}
	var ue *url.Error
	if !errors.As(Error(httpErr), &ue) || strings.Contains(ue.URL, token) {
		t.Errorf("*url.Error not found or not redacted: %v", ue)
	}
	if Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc…"},
		{"号码状态", 4, "号…"}, // 3-byte runes: the cut moves back to a rune start
		{"号码状态", 2, "…"},
		{"a号", 2, "a…"},
	} {
		got := Truncate(c.s, c.n)
		if got != c.want || !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}
