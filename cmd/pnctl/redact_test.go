package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pnctl's errors are what it prints on failure: a URL's credentials and
// query string (a signature) never appear in them.
func TestErrorsCarryNoURLSecrets(t *testing.T) {
	const token = "PNCTL-SECRET-4e1b"
	body := filepath.Join(t.TempDir(), "push.json")
	if err := os.WriteFile(body, []byte(`{"eventType":"callin"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Nothing listens on port 1: the request fails with a *url.Error,
	// which quotes the URL.
	err := run(context.Background(), []string{"push", "--url", "http://user:" + token + "@127.0.0.1:1/v1/notifications?sig=" + token, body}, io.Discard)
	if err == nil {
		t.Fatal("push to a closed port succeeded")
	}
	if strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %q", err)
	}
}
