package aksk

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The digest of Huawei's Python demo: hmac.new(secret, nonce+created, sha256), base64.
func TestAKSKDigestMatchesDemoFormula(t *testing.T) {
	got := AKSKDigest("cfc8secret", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "2024-05-01T10:00:00Z")
	// echo -n "0f1e2d3c4b5a69788796a5b4c3d2e1f02024-05-01T10:00:00Z" | openssl dgst -sha256 -hmac cfc8secret -binary | base64
	const want = "CsCwRzKblT5RiUWqFyDjP1LNC3YthLxlbqojUp89mPA="
	if got != want {
		t.Errorf("AKSKDigest = %s, want %s", got, want)
	}
	// echo -n "0f1e2d3c4b5a69788796a5b4c3d2e1f02024-05-01T10:00:00Zcfc8secret" | openssl dgst -sha256 -binary | base64
	if got, want := WSSEDigest("cfc8secret", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "2024-05-01T10:00:00Z"), "SEaMKGunzXZEkyyCSvaO7kK1P93EfuFoR7zhxi5u98k="; got != want {
		t.Errorf("WSSEDigest = %s, want %s", got, want)
	}
}

func TestVerifier(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	signed := func(key, secret string, wsse bool, at time.Time) http.Header {
		h := http.Header{}
		(&Signer{AppKey: key, AppSecret: secret, WSSE: wsse, Now: func() time.Time { return at }}).Sign(h)
		return h
	}
	tests := []struct {
		name   string
		header http.Header
		want   error
	}{
		{"valid AKSK", signed("app", "secret", false, now), nil},
		{"valid WSSE", signed("app", "secret", true, now), nil},
		{"skew inside window", signed("app", "secret", false, now.Add(-4*time.Minute)), nil},
		{"future inside window", signed("app", "secret", false, now.Add(4*time.Minute)), nil},
		{"wrong secret", signed("app", "other", false, now), ErrAuthDigest},
		{"wrong app key", signed("intruder", "secret", false, now), ErrAuthUsername},
		{"expired", signed("app", "secret", false, now.Add(-6*time.Minute)), ErrAuthExpired},
		{"too far in future", signed("app", "secret", false, now.Add(6*time.Minute)), ErrAuthExpired},
		{"missing", http.Header{}, ErrAuthMissing},
		{"garbled", http.Header{"X-Aksk": {"UsernameToken Username=app"}}, ErrAuthMalformed},
		{"unknown attribute", http.Header{"X-Aksk": {`UsernameToken Username="a",PasswordDigest="d",Nonce="n",Created="c",Extra="x"`}}, ErrAuthMalformed},
		{"bad nonce chars", http.Header{"X-Aksk": {`UsernameToken Username="a",PasswordDigest="d",Nonce="n-1",Created="c"`}}, ErrAuthMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewVerifier("app", "secret", 5*time.Minute, 10, clock)
			_, err := v.Verify(tt.header)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if tt.want != nil && !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("%v does not match ErrUnauthenticated", err)
			}
		})
	}
}

func TestVerifierReplay(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	v := NewVerifier("app", "secret", 5*time.Minute, 2, func() time.Time { return now })
	h := http.Header{}
	(&Signer{AppKey: "app", AppSecret: "secret", Now: func() time.Time { return now }}).Sign(h)

	tok, err := v.Verify(h)
	if err != nil {
		t.Fatal(err)
	}
	// Not remembered yet: a retry of a push we failed is no replay.
	if _, err := v.Verify(h); err != nil {
		t.Fatalf("second Verify before Remember = %v", err)
	}
	v.Remember(tok)
	if _, err := v.Verify(h); !errors.Is(err, ErrAuthReplayed) {
		t.Fatalf("Verify after Remember = %v, want ErrAuthReplayed", err)
	}
	// The nonce set is bounded: two newer nonces push the first one out.
	for range 2 {
		h2 := http.Header{}
		(&Signer{AppKey: "app", AppSecret: "secret", Now: func() time.Time { return now }}).Sign(h2)
		t2, err := v.Verify(h2)
		if err != nil {
			t.Fatal(err)
		}
		v.Remember(t2)
	}
	if len(v.nonces.expires) != 2 {
		t.Errorf("nonce set holds %d, want 2", len(v.nonces.expires))
	}
}

func TestParseUsernameTokenRoundTrip(t *testing.T) {
	in := UsernameToken{Username: "k", PasswordDigest: "ZA==", Nonce: "abc123", Created: "2024-05-01T10:00:00Z"}
	out, err := ParseUsernameToken(in.String())
	if err != nil || out != in {
		t.Fatalf("ParseUsernameToken(%q) = %+v, %v", in.String(), out, err)
	}
}

func TestVerifyOnceSpendsNonceAtomically(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	v := NewVerifier("key", "secret", time.Minute, 0, func() time.Time { return now })
	s := &Signer{AppKey: "key", AppSecret: "secret", Now: func() time.Time { return now }}
	h := http.Header{}
	s.Sign(h)
	var wg sync.WaitGroup
	var passed atomic.Int32
	for range 16 {
		wg.Go(func() {
			if _, err := v.VerifyOnce(h); err == nil {
				passed.Add(1)
			} else if !errors.Is(err, ErrAuthReplayed) {
				t.Errorf("VerifyOnce: %v", err)
			}
		})
	}
	wg.Wait()
	if passed.Load() != 1 {
		t.Errorf("%d concurrent uses of one nonce passed, want 1", passed.Load())
	}
}

func TestAuthenticateSeveralCredentials(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	v := NewVerifierFromConfig(VerifierConfig{
		Credentials: []Credential{{"app", "old-secret"}, {"app", "new-secret"}, {"other", "other-secret"}},
		MaxAge:      6 * time.Hour, ClockSkew: 5 * time.Minute,
		Now: func() time.Time { return now },
	})
	sign := func(key, secret string, wsse bool, at time.Time) http.Header {
		h := http.Header{}
		(&Signer{AppKey: key, AppSecret: secret, WSSE: wsse, Now: func() time.Time { return at }}).Sign(h)
		return h
	}
	tests := []struct {
		name    string
		header  http.Header
		want    error
		wantKey string
	}{
		{"old secret of a rotation", sign("app", "old-secret", false, now), nil, "app"},
		{"new secret of a rotation", sign("app", "new-secret", false, now), nil, "app"},
		{"second app", sign("other", "other-secret", false, now), nil, "other"},
		{"second app over WSSE", sign("other", "other-secret", true, now), nil, "other"},
		{"another app's secret", sign("app", "other-secret", false, now), ErrAuthDigest, ""},
		{"unknown key", sign("stranger", "new-secret", false, now), ErrAuthUsername, ""},
		{"5 hours old", sign("app", "new-secret", false, now.Add(-5*time.Hour)), nil, "app"},
		{"exactly the max age", sign("app", "new-secret", false, now.Add(-6*time.Hour)), nil, "app"},
		{"7 hours old", sign("app", "new-secret", false, now.Add(-7*time.Hour)), ErrAuthExpired, "app"},
		{"4 minutes ahead", sign("app", "new-secret", false, now.Add(4*time.Minute)), nil, "app"},
		{"10 minutes ahead", sign("app", "new-secret", false, now.Add(10*time.Minute)), ErrAuthExpired, "app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := v.Authenticate(tt.header)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Authenticate = %v, want %v", err, tt.want)
			}
			if tt.want != nil && !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("%v does not match ErrUnauthenticated", err)
			}
			if a.AppKey != tt.wantKey {
				t.Errorf("matched key %q, want %q", a.AppKey, tt.wantKey)
			}
			if a.Token.Nonce == "" {
				t.Error("parsed token not returned")
			}
		})
	}
	// Authenticate keeps no nonce memory: the same header passes again.
	h := sign("app", "new-secret", false, now)
	for range 2 {
		if _, err := v.Authenticate(h); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuthenticateWithoutWSSE(t *testing.T) {
	now := time.Now()
	v := NewVerifierFromConfig(VerifierConfig{Credentials: []Credential{{"app", "secret"}}, MaxAge: time.Hour, ClockSkew: time.Minute, NoWSSE: true})
	wsse := http.Header{}
	(&Signer{AppKey: "app", AppSecret: "secret", WSSE: true, Now: func() time.Time { return now }}).Sign(wsse)
	if _, err := v.Authenticate(wsse); !errors.Is(err, ErrAuthWSSEOff) || !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("X-WSSE with WSSE off: %v, want ErrAuthWSSEOff", err)
	}
	aksk := http.Header{}
	(&Signer{AppKey: "app", AppSecret: "secret", Now: func() time.Time { return now }}).Sign(aksk)
	if _, err := v.Authenticate(aksk); err != nil {
		t.Fatalf("X-AKSK with WSSE off: %v", err)
	}
}

func TestAuthenticateKeylessCredentialScopesNoncesByCredential(t *testing.T) {
	// A credential without a key accepts any Username, which the digest
	// does not cover: the nonce scope must not follow the Username.
	v := NewVerifierFromConfig(VerifierConfig{Credentials: []Credential{{"", "secret"}}, MaxAge: time.Hour, ClockSkew: time.Minute})
	for _, user := range []string{"a", "b"} {
		h := http.Header{}
		(&Signer{AppKey: user, AppSecret: "secret"}).Sign(h)
		a, err := v.Authenticate(h)
		if err != nil {
			t.Fatal(err)
		}
		if a.AppKey != "" {
			t.Errorf("Username %q matched key %q, want the credential's empty key", user, a.AppKey)
		}
	}
}

func TestCredentialNeverPrintsItsSecret(t *testing.T) {
	c := Credential{AppKey: "app", AppSecret: "s3cr3t-value"}
	js, err := json.Marshal(struct{ C []Credential }{[]Credential{c}})
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%v %+v", c, []Credential{c}), string(js)} {
		if strings.Contains(out, "s3cr3t") || !strings.Contains(out, "app") {
			t.Errorf("printed %q", out)
		}
	}
}
