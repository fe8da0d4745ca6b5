package ingest_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/pnstream/pnstream/internal/ingest"
)

func TestConfigCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, app, list, want string
	}{
		{"legacy pair only", "legacy-secret", "", ""},
		{"list only", "", "a:secret-a,b:secret-b", ""},
		{"rotation: one key, two secrets", "", "a:old-secret, a:new-secret", ""},
		{"pair and list", "legacy-secret", "b:secret-b", ""},
		{"entry without a secret", "", "a:secret-a,b:", "push credential 2 of the list"},
		{"entry without a colon", "", "a:secret-a,just-a-secret", "push credential 2 of the list"},
		{"one secret under two keys", "", "a:shared-secret,b:shared-secret", "share a secret"},
		{"the pair's secret under another key", "shared-secret", "b:shared-secret", "share a secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ingest.DefaultConfig()
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			cfg.RegisterFlags(fs)
			args := []string{"-app-key", "legacy", "-app-secret", tt.app}
			if tt.list != "" {
				args = append(args, "-push-credentials", tt.list)
			}
			err := fs.Parse(args)
			if err == nil {
				cfg.Complete()
				err = cfg.Validate()
			}
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("%v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "secret-"):
				t.Errorf("error quotes a secret: %v", err)
			case tt.want == "" && cfg.Auth != ingest.AuthRequired:
				t.Errorf("auth %q with credentials set, want required", cfg.Auth)
			}
		})
	}
}

func TestConfigNeverShowsSecrets(t *testing.T) {
	t.Parallel()
	cfg := ingest.DefaultConfig()
	cfg.AppKey, cfg.AppSecret = "app", "pair-s3cret"
	if err := cfg.Credentials.Set("app:list-s3cret-1,other:list-s3cret-2"); err != nil {
		t.Fatal(err)
	}
	cfg.Complete()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	zap.New(core).Info("starting", zap.Any("config", cfg.Redacted()), zap.Stringer("credentials", &cfg.Credentials))
	js, err := json.Marshal(cfg.Credentials)
	if err != nil {
		t.Fatal(err)
	}
	outputs := []string{string(js), fmt.Sprintf("%v %+v", cfg.Redacted(), cfg.Credentials), cfg.Credentials.String()}
	for _, e := range logs.All() {
		b, err := json.Marshal(e.ContextMap())
		if err != nil {
			t.Fatal(err)
		}
		outputs = append(outputs, string(b))
	}
	for _, out := range outputs {
		if strings.Contains(out, "s3cret") {
			t.Errorf("secret shown: %s", out)
		}
	}
	if !strings.Contains(outputs[len(outputs)-1], "other") {
		t.Errorf("the log should still name the app keys: %s", outputs[len(outputs)-1])
	}
}
