package aksk

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// The fuzz targets of push authentication. `make fuzz` runs each for a
// bounded time; `go test` runs their seeds.

// FuzzParseUsernameToken: no input panics; an accepted token has every
// attribute and a valid nonce, and its String parses back to itself.
func FuzzParseUsernameToken(f *testing.F) {
	for _, s := range []string{
		`UsernameToken Username="app",PasswordDigest="ZA==",Nonce="abc123",Created="2024-05-01T10:00:00Z"`,
		`UsernameToken Created="2024-05-01T10:00:00Z", Nonce="n", PasswordDigest="d", Username="u"`,
		`UsernameToken Username="a,b",PasswordDigest="d",Nonce="n",Created="c"`,
		`UsernameToken Username="",PasswordDigest="d",Nonce="n",Created="c"`,
		`UsernameToken Username="u",Username="v",PasswordDigest="d",Nonce="n",Created="c"`,
		`  UsernameToken Username="u"`,
		`UsernameToken`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tok, err := ParseUsernameToken(v)
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("error %v does not match ErrUnauthenticated", err)
			}
			return
		}
		if tok.Username == "" || tok.PasswordDigest == "" || tok.Created == "" || !ValidNonce(tok.Nonce) {
			t.Fatalf("incomplete token accepted: %+v", tok)
		}
		again, err := ParseUsernameToken(tok.String())
		if err != nil || again != tok {
			t.Fatalf("%q parsed to %+v, whose String %q parses to %+v, %v", v, tok, tok.String(), again, err)
		}
	})
}

// FuzzVerify: no header panics the verifier, and a header it accepts
// carries a digest of the app secret over its nonce and a Created within
// the window.
func FuzzVerify(f *testing.F) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for _, wsse := range []bool{false, true} {
		h := http.Header{}
		(&Signer{AppKey: "app", AppSecret: "secret", WSSE: wsse, Now: func() time.Time { return now }}).Sign(h)
		f.Add(h.Get(HeaderAKSK), h.Get(HeaderWSSE))
	}
	f.Add(`UsernameToken Username="app",PasswordDigest="x",Nonce="1",Created="2024-05-01T10:00:00Z"`, "")
	f.Add("", `UsernameToken Username="app"`)
	f.Fuzz(func(t *testing.T, aksk, wsse string) {
		v := NewVerifier("app", "secret", 5*time.Minute, 16, func() time.Time { return now })
		h := http.Header{}
		if aksk != "" {
			h.Set(HeaderAKSK, aksk)
		}
		if wsse != "" {
			h.Set(HeaderWSSE, wsse)
		}
		tok, err := v.Verify(h)
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("error %v does not match ErrUnauthenticated", err)
			}
			return
		}
		digest := AKSKDigest
		if aksk == "" {
			digest = WSSEDigest
		}
		created, perr := time.Parse(CreatedLayout, tok.Created)
		if tok.Username != "app" || tok.PasswordDigest != digest("secret", tok.Nonce, tok.Created) || perr != nil ||
			created.Sub(now).Abs() > 5*time.Minute {
			t.Fatalf("accepted %+v", tok)
		}
		v.Remember(tok)
		if _, err := v.Verify(h); !errors.Is(err, ErrAuthReplayed) {
			t.Fatalf("replay of an accepted token: %v", err)
		}
	})
}
