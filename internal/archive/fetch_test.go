package archive

import (
	"testing"

	"github.com/pnstream/pnstream/internal/retry"
)

func TestHostPolicyCheckURL(t *testing.T) {
	strict := HostPolicy{Hosts: []string{".huawei.com", "exact.example.com"}}
	local := HostPolicy{Hosts: []string{"127.0.0.1", "sim.local"}, AllowPrivate: true}
	tests := []struct {
		policy HostPolicy
		url    string
		ok     bool
	}{
		{strict, "https://ostorQH2.huawei.com/a.wav", true},
		{strict, "https://OSTOR.HUAWEI.COM./a.wav", true},
		{strict, "https://exact.example.com/a.wav", true},
		{strict, "https://huawei.com/a.wav", false},                                // ".huawei.com" is subdomains only
		{strict, "https://evilhuawei.com/a.wav", false},                            // not a subdomain
		{strict, "https://huawei.com.evil.net/a.wav", false},                       // suffix trick
		{strict, "https://sub.exact.example.com/a.wav", false},                     // exact entry
		{strict, "http://ostor.huawei.com/a.wav", false},                           // https only
		{strict, "ftp://ostor.huawei.com/a.wav", false},                            // scheme
		{strict, "https://user:pw@ostor.huawei.com/a", false},                      // credentials
		{strict, "https://10.0.0.1/a.wav", false},                                  // not on list
		{HostPolicy{Hosts: []string{"10.0.0.1"}}, "https://10.0.0.1/a.wav", false}, // listed but private
		{HostPolicy{Hosts: []string{"169.254.169.254"}}, "https://169.254.169.254/latest", false},
		{HostPolicy{Hosts: []string{"::1"}}, "https://[::1]/a", false},
		{local, "http://127.0.0.1:9999/rec/a.wav", true},
		{local, "http://sim.local/a.wav", true},
		{local, "http://other.local/a.wav", false},
		{strict, "::not a url", false},
	}
	for _, tt := range tests {
		err := tt.policy.CheckURL(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
		if err != nil && !retry.IsPermanent(err) {
			t.Errorf("CheckURL(%q) error %v is not permanent", tt.url, err)
		}
	}
}

func TestDialControlRefusesNonPublicAddresses(t *testing.T) {
	p := HostPolicy{Hosts: []string{".example.com"}}
	for _, addr := range []string{"127.0.0.1:443", "10.1.2.3:443", "172.16.0.1:443", "192.168.1.1:443", "169.254.169.254:80",
		"100.64.0.1:443", "[::1]:443", "[fe80::1]:443", "[fd00::1]:443", "0.0.0.0:443", "[::ffff:127.0.0.1]:443", "224.0.0.1:443"} {
		if err := p.dialControl("tcp", addr, nil); err == nil {
			t.Errorf("dialControl(%s) allowed", addr)
		}
	}
	for _, addr := range []string{"93.184.216.34:443", "[2606:2800:220:1::1]:443"} {
		if err := p.dialControl("tcp", addr, nil); err != nil {
			t.Errorf("dialControl(%s) = %v", addr, err)
		}
	}
	if err := (HostPolicy{AllowPrivate: true}).dialControl("tcp", "127.0.0.1:80", nil); err != nil {
		t.Errorf("AllowPrivate: %v", err)
	}
}

func TestCheckLength(t *testing.T) {
	if err := checkLength(10, 10, 100); err != nil {
		t.Error(err)
	}
	if err := checkLength(10, -1, 100); err != nil {
		t.Error(err)
	}
	if err := checkLength(9, 10, 100); err == nil || retry.IsPermanent(err) {
		t.Errorf("short body: %v, want a retryable error", err)
	}
	if err := checkLength(101, -1, 100); !retry.IsPermanent(err) {
		t.Errorf("over cap: %v, want permanent", err)
	}
	if err := checkLength(0, -1, 100); err == nil {
		t.Error("empty body accepted")
	}
}
