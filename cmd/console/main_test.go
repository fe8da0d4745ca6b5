package main

import (
	"context"
	"strings"
	"testing"
)

func TestRunRefusesIncompleteConfig(t *testing.T) {
	s3 := []string{"-s3-endpoint", "127.0.0.1:1", "-s3-access-key", "a", "-s3-secret-key", "b"}
	tests := []struct {
		args []string
		want string
	}{
		{s3, "no way to log in"},
		{append([]string{"-console-token", "short"}, s3...), "shorter than 16"},
		{append([]string{"-console-token", "0123456789abcdef", "-console-token-role", "admin"}, s3...), `role "admin"`},
		{append([]string{"-console-trusted-proxies", "10.0.0.0/33"}, s3...), "not a CIDR"},
		{[]string{"-console-trusted-proxies", "10.0.0.0/8"}, "PN_S3_ENDPOINT"},
		{append([]string{"-console-trusted-proxies", "10.0.0.0/8", "-pii-mode", "hmac"}, s3...), "pii"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tt.want)) {
			t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}
