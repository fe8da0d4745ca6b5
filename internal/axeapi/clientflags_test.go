package axeapi

import (
	"flag"
	"testing"
	"time"
)

func TestClientConfigRegisterFlags(t *testing.T) {
	c := DefaultClientConfig()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if f := fs.Lookup("api-timeout"); f == nil || f.DefValue != DefaultTimeout.String() {
		t.Errorf("api-timeout default = %v, want %s", f, DefaultTimeout)
	}
	if f := fs.Lookup("api-base-url"); f == nil || f.DefValue != DefaultBaseURL {
		t.Errorf("api-base-url default = %v, want %s", f, DefaultBaseURL)
	}
	err := fs.Parse([]string{"-api-base-url", "http://127.0.0.1:1", "-app-key", "k", "-app-secret", "s",
		"-api-ca-file", "ca.pem", "-api-timeout", "3s"})
	if err != nil {
		t.Fatal(err)
	}
	want := ClientConfig{BaseURL: "http://127.0.0.1:1", AppKey: "k", AppSecret: "s", CAFile: "ca.pem", Timeout: 3 * time.Second}
	if c.BaseURL != want.BaseURL || c.AppKey != want.AppKey || c.AppSecret != want.AppSecret || c.CAFile != want.CAFile || c.Timeout != want.Timeout {
		t.Errorf("parsed %+v, want %+v", c, want)
	}
}
