package warehouse

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/testenv"
)

// TestTLS connects to a real ClickHouse over TLS: the connection is made
// only when the server's certificate verifies against the configured CA
// for the name dialled.
func TestTLS(t *testing.T) {
	files := testenv.NewTLSFiles(t)
	addr := testenv.StartClickHouseTLS(t, files)
	tlsConfig := func(mod func(*Config)) Config {
		cfg := DefaultConfig()
		cfg.Addr = addr
		cfg.TLS = true
		cfg.CAFile = files.CAFile
		cfg.DialTimeout = 2 * time.Second
		cfg.ReadTimeout = 5 * time.Second
		mod(&cfg)
		return cfg
	}

	t.Run("verified with the CA file", func(t *testing.T) {
		w := openConfig(t, tlsConfig(func(*Config) {}))
		v, err := w.ServerVersion(testContext(t))
		if err != nil || v == "" {
			t.Fatalf("server version over TLS: %q, %v", v, err)
		}
	})
	t.Run("by a server name the certificate carries", func(t *testing.T) {
		_, port, _ := strings.Cut(addr, ":")
		openConfig(t, tlsConfig(func(c *Config) { c.Addr = "127.0.0.1:" + port; c.TLSServerName = "localhost" }))
	})

	refused := []struct {
		name string
		mod  func(*Config)
		want string // in the error
	}{
		{"system roots only", func(c *Config) { c.CAFile = "" }, "certificate"},
		{"an unrelated CA", func(c *Config) { c.CAFile = files.OtherCAFile }, "certificate"},
		{"a name the certificate lacks", func(c *Config) { c.TLSServerName = "clickhouse.example" }, "certificate"},
		// Plain native protocol to the TLS port: no answer ClickHouse can
		// be spoken with.
		{"TLS off", func(c *Config) { c.TLS = false; c.CAFile = "" }, ""},
	}
	for _, tc := range refused {
		t.Run("refused with "+tc.name, func(t *testing.T) {
			w, err := Open(testContext(t), tlsConfig(tc.mod))
			if err == nil {
				_ = w.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestTLSConfigValidation(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	files := testenv.NewTLSFiles(t)
	cases := []struct {
		name string
		mod  func(*Config)
		want string // "" means valid
	}{
		{"off", func(*Config) {}, ""},
		{"on, system roots", func(c *Config) { c.TLS = true }, ""},
		{"on, CA file", func(c *Config) { c.TLS = true; c.CAFile = files.CAFile; c.TLSServerName = "ch.example" }, ""},
		{"CA file without TLS", func(c *Config) { c.CAFile = files.CAFile }, "need clickhouse tls"},
		{"server name without TLS", func(c *Config) { c.TLSServerName = "ch.example" }, "need clickhouse tls"},
		{"missing CA file", func(c *Config) { c.TLS = true; c.CAFile = filepath.Join(dir, "none.pem") }, "clickhouse ca file"},
		{"CA file without a certificate", func(c *Config) { c.TLS = true; c.CAFile = notPEM }, "no PEM certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.mod(&cfg)
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate = %v, want an error with %q", err, tc.want)
			}
			tlsCfg, err := cfg.TLSConfig()
			if tc.want == "" && (tlsCfg != nil) != cfg.TLS {
				t.Errorf("TLSConfig = %v, %v with TLS %t", tlsCfg, err, cfg.TLS)
			}
			if tlsCfg != nil && tlsCfg.InsecureSkipVerify {
				t.Error("TLSConfig skips verification")
			}
		})
	}
}
