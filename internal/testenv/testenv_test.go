package testenv_test

import (
	"testing"

	"github.com/pnstream/pnstream/internal/testenv"
)

func TestServersRequired(t *testing.T) {
	tests := []struct {
		ci, require string
		want        bool
	}{
		{"", "", false},
		{"true", "", true},
		{"1", "", true},
		{"false", "", false},
		{"", "1", true},
		{"", "0", false},
		{"nonsense", "", false},
	}
	for _, tt := range tests {
		t.Run("CI="+tt.ci+",PN_REQUIRE_SERVERS="+tt.require, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			t.Setenv("PN_REQUIRE_SERVERS", tt.require)
			if got := testenv.ServersRequired(); got != tt.want {
				t.Errorf("ServersRequired() = %v, want %v", got, tt.want)
			}
		})
	}
}
