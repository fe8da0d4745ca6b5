package axeapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/redact"
)

// DefaultBaseURL is the platform's access address for apps in cn-north-1.
const DefaultBaseURL = "https://rtcpns.cn-north-1.myhuaweicloud.com"

// DefaultTimeout bounds each API call, connection and answer included.
const DefaultTimeout = 15 * time.Second

// maxAnswer bounds the answer bodies read: they are a few hundred bytes.
const maxAnswer = 1 << 20

// ClientConfig configures a Client.
type ClientConfig struct {
	// BaseURL is the app's access address, default DefaultBaseURL
	// (PN_API_BASE_URL). It must be https, except on a loopback host,
	// where a local simulator may serve plain http.
	BaseURL string
	// AppKey and AppSecret are the app's credentials (PN_APP_KEY,
	// PN_APP_SECRET). The secret only signs; it is never sent or printed.
	AppKey    string
	AppSecret string
	// Timeout bounds each call, default DefaultTimeout.
	Timeout time.Duration
	// RootCAs, or the PEM file CAFile, replaces the system roots to verify
	// the platform's certificate (a simulator with its own CA). TLS is
	// always verified; there is no way to switch it off.
	RootCAs *x509.CertPool
	CAFile  string
	// Now is the clock used to sign; nil means time.Now.
	Now func() time.Time
}

// DefaultClientConfig returns the defaults; credentials are left empty.
func DefaultClientConfig() ClientConfig {
	return ClientConfig{BaseURL: DefaultBaseURL, Timeout: DefaultTimeout}
}

// Validate reports every problem of c at once. It has no side effects:
// the CA file is read by NewClient.
func (c ClientConfig) Validate() error {
	var errs []error
	if c.AppKey == "" {
		errs = append(errs, errors.New("app key is empty"))
	}
	if c.AppSecret == "" {
		errs = append(errs, errors.New("app secret is empty"))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s is negative", c.Timeout))
	}
	if c.RootCAs != nil && c.CAFile != "" {
		errs = append(errs, errors.New("set RootCAs or CAFile, not both"))
	}
	if c.BaseURL != "" {
		if _, err := parseBaseURL(c.BaseURL); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func parseBaseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("base URL: %w", redact.Error(err))
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("base URL %q: want scheme://host[:port][/path]", redact.URL(s))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, fmt.Errorf("base URL %q: the platform is called over https (plain http only on a loopback host)", redact.URL(s))
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Client calls the platform's AXE API. Every call is signed with fresh
// AKSK headers and carries Content-Type application/json;charset=UTF-8. A
// refused call returns an *APIError that matches the category sentinels
// (ErrNotFound, ErrFlowControl, ...). The client does not retry: the
// caller decides, with APIError.Temporary and RetryAfter. Safe for
// concurrent use.
type Client struct {
	base   *url.URL
	http   *http.Client
	signer *aksk.Signer
}

// NewClient validates cfg, fills its defaults and reads CAFile. It does
// not contact the platform.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("platform client: %w", err)
	}
	base, _ := parseBaseURL(cfg.BaseURL) // validated above
	roots := cfg.RootCAs
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("platform client: CA file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("platform client: CA file %s: no PEM certificate", cfg.CAFile)
		}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	// The platform closes the connection after each call (reference §11.3).
	// A pooled connection it closed while idle would fail the next call
	// after the request was written, and Go retries that only for
	// idempotent methods: a bind (POST) would fail with nothing known. One
	// connection per call costs a handshake the platform imposes anyway.
	transport.DisableKeepAlives = true
	return &Client{
		base: base,
		http: &http.Client{
			Transport: transport,
			Timeout:   cfg.Timeout,
			// Never follow: the recording API answers 301 with the URL as
			// its result, and no other call is expected to redirect.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		signer: &aksk.Signer{AppKey: cfg.AppKey, AppSecret: cfg.AppSecret, Now: cfg.Now},
	}, nil
}

// Bind creates an AXE binding (CreateAXEBinding).
func (c *Client) Bind(ctx context.Context, req *BindRequest) (*BindResponse, error) {
	var a BindResponse // the envelope is checked by call
	if err := c.call(ctx, http.MethodPost, PathAXE, nil, req, &a); err != nil {
		return nil, fmt.Errorf("bind %s: %w", req.BindNum, err)
	}
	return &a, nil
}

// Unbind deletes a binding. An unknown or already deleted binding is an
// error matching ErrNotFound.
func (c *Client) Unbind(ctx context.Context, ref BindingRef) error {
	if err := c.call(ctx, http.MethodDelete, PathAXE, ref.query(), nil, nil); err != nil {
		return fmt.Errorf("unbind %s: %w", ref, err)
	}
	return nil
}

// Query returns one binding (query v1). An unknown binding is an error
// matching ErrNotFound.
func (c *Client) Query(ctx context.Context, ref BindingRef) (*BindingInfo, error) {
	var a BindingInfo // the envelope is checked by call
	if err := c.call(ctx, http.MethodGet, PathAXE, ref.query(), nil, &a); err != nil {
		return nil, fmt.Errorf("query %s: %w", ref, err)
	}
	return &a, nil
}

// Modify changes the fields of a binding that req sets.
func (c *Client) Modify(ctx context.Context, req *ModifyRequest) error {
	if err := c.call(ctx, http.MethodPut, PathAXE, nil, req, nil); err != nil {
		return fmt.Errorf("modify %s: %w", req.Ref(), err)
	}
	return nil
}

// RecordingURL returns the download URL of a recording, from the Location
// of the platform's 301, without following it. recordDomain and fileName
// are the CDR's recordDomain and recordObjectName. The URL expires: fetch
// it again before each download. A recording past its 7 days is an error
// matching ErrNotFound. The URL is a bearer secret: log it, and errors that
// quote it, only through package redact. The errors returned carry no
// signed URL.
func (c *Client) RecordingURL(ctx context.Context, recordDomain, fileName string) (*url.URL, error) {
	q := url.Values{"recordDomain": {recordDomain}, "fileName": {fileName}}
	resp, body, err := c.do(ctx, http.MethodGet, PathRecording, q, nil)
	if err != nil {
		return nil, fmt.Errorf("recording URL %s: %w", fileName, err)
	}
	if resp.StatusCode != http.StatusMovedPermanently {
		return nil, fmt.Errorf("recording URL %s: %w", fileName, errorFromResponse(resp.StatusCode, body))
	}
	loc, err := resp.Location() // resolves a relative Location against the request
	if err != nil {
		// The Location is a signed URL, and url.Parse's error quotes it.
		return nil, fmt.Errorf("recording URL %s: 301 without a usable Location: %w", fileName, redact.Error(err))
	}
	return loc, nil
}

// call makes one JSON call and decodes a success answer into out (nil to
// ignore it). Success is HTTP 200 with resultcode "0".
func (c *Client) call(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	resp, answer, err := c.do(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	var r result
	if resp.StatusCode != http.StatusOK || json.Unmarshal(answer, &r) != nil || r.ResultCode == nil || *r.ResultCode != "0" {
		return errorFromResponse(resp.StatusCode, answer)
	}
	if out != nil {
		if err := json.Unmarshal(answer, out); err != nil {
			// The call took effect: say so, since a blind retry of a bind
			// would bind twice.
			return fmt.Errorf("the platform answered success, but its answer did not decode: %w", err)
		}
	}
	return nil
}

// do sends a signed request and reads the whole (bounded) answer.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Response, []byte, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", redact.Error(err))
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("Accept", "application/json")
	c.signer.Sign(req.Header)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, redact.Error(err) // a *url.Error quotes the request URL
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp, nil, fmt.Errorf("read answer (HTTP %d): %w", resp.StatusCode, err)
	}
	return resp, answer, nil
}
