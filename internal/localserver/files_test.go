package localserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	content := "old line\nline one\nline two\nline three\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		from, limit int64
		want        string
	}{
		{"whole file", 0, 1000, "old line\nline one\nline two\nline three"},
		{"from offset", int64(len("old line\n")), 1000, "line one\nline two\nline three"},
		{"limit cuts at a line boundary", 0, 15, "line three"},
		{"offset beyond size means rotated", 1000, 1000, "old line\nline one\nline two\nline three"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tail(path, tt.from, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("tail = %q, want %q", got, tt.want)
			}
		})
	}
	got, err := tail(filepath.Join(t.TempDir(), "missing"), 0, 100)
	if err != nil || got != "" {
		t.Errorf("tail of a missing file = %q, %v; want empty, nil", got, err)
	}
}

func TestPrepareWritesConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a&b")
	l := newLayout(dir)
	if err := l.prepare(Config{Dir: dir, TCPPort: 19000, HTTPPort: 18123}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(l.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for _, want := range []string{
		"<tcp_port>19000</tcp_port>",
		"<http_port>18123</http_port>",
		"<listen_host>127.0.0.1</listen_host>",
		"<timezone>UTC</timezone>",
		"a&amp;b/data/</path>",
		"<users_config>" + strings.ReplaceAll(l.UsersFile, "&", "&amp;") + "</users_config>",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config.xml lacks %q", want)
		}
	}
	users, err := os.ReadFile(l.UsersFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(users), "::/0") || !strings.Contains(string(users), "<ip>127.0.0.1</ip>") {
		t.Errorf("users.xml must admit loopback only:\n%s", users)
	}
	for _, d := range []string{l.LogDir, filepath.Join(l.DataDir, "tmp")} {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			t.Errorf("%s not created: %v", d, err)
		}
	}
}

func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if p < minPort || p >= ephemeralLow() {
			t.Fatalf("FreePort() = %d, want it in %d..%d", p, minPort, ephemeralLow()-1)
		}
		seen[p] = true
	}
	if len(seen) < 10 {
		t.Errorf("20 calls gave only %d distinct ports", len(seen))
	}
}

func TestPickFreePortsFillsZerosOnly(t *testing.T) {
	a, b, fixed := 0, 0, 19000
	picked, err := pickFreePorts(&a, &fixed, &b)
	if err != nil {
		t.Fatal(err)
	}
	if !picked || a == 0 || b == 0 || a == b || fixed != 19000 {
		t.Errorf("picked %v: %d, %d, %d; want two distinct free ports and 19000 kept", picked, a, fixed, b)
	}
	if picked, err := pickFreePorts(&fixed); picked || err != nil {
		t.Errorf("with no zero port: picked %v, %v; want false, nil", picked, err)
	}
}
