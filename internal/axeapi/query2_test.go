package axeapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// scriptServer answers the i-th request with answers[i] (the last one
// again once they run out) and counts the requests.
func scriptServer(t *testing.T, answers ...string) (*Client, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		i := int(n.Add(1)) - 1
		_, _ = io.WriteString(w, answers[min(i, len(answers)-1)])
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(ClientConfig{BaseURL: srv.URL, AppKey: "key", AppSecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	return c, &n
}

// A successful bind answered with quoted integers, or a bare number where
// a string is documented, is a success: an error would make the caller
// retry and bind twice.
func TestAnswersDecodeNumbersLeniently(t *testing.T) {
	ctx := context.Background()
	for name, answer := range map[string]string{
		"JSON numbers":   `{"resultcode":"0","subscriptionId":"s1","virtualNum":"+8613800000000","extendNum":"1234","bindExpiredTime":24,"callbackExpiredTime":0}`,
		"quoted numbers": `{"resultcode":0,"subscriptionId":"s1","virtualNum":"+8613800000000","extendNum":1234,"bindExpiredTime":"24","callbackExpiredTime":""}`,
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := scriptServer(t, answer)
			b, err := c.Bind(ctx, &BindRequest{VirtualNum: "+8613800000000", BindNum: "+8613900000000"})
			if err != nil {
				t.Fatal(err)
			}
			if want := (BindResponse{SubscriptionID: "s1", VirtualNum: "+8613800000000", ExtendNum: "1234", BindExpiredTime: 24}); *b != want {
				t.Errorf("bind = %+v, want %+v", *b, want)
			}
			q, err := c.Query(ctx, BindingRef{SubscriptionID: "s1"})
			if err != nil || q.BindExpiredTime != 24 || q.ExtendNum != "1234" {
				t.Errorf("query = %+v, %v", q, err)
			}
			if err := c.Modify(ctx, &ModifyRequest{SubscriptionID: "s1"}); err != nil {
				t.Errorf("modify: %v", err)
			}
			for b, err := range c.QueryBindingsV2(ctx, BindingRef{SubscriptionID: "s1"}, 0) {
				if err != nil || b.BindExpiredTime != 24 {
					t.Errorf("query v2 = %+v, %v", b, err)
				}
			}
		})
	}
	// Still an error: a value that is no number at all. The error says the
	// call took effect.
	c, _ := scriptServer(t, `{"resultcode":"0","subscriptionId":"s1","bindExpiredTime":"soon"}`)
	if _, err := c.Bind(ctx, &BindRequest{BindNum: "+8613900000000"}); err == nil || !strings.Contains(err.Error(), "answered success") {
		t.Errorf("bindExpiredTime \"soon\": %v", err)
	}
}

func TestQueryV2Tolerance(t *testing.T) {
	ctx := context.Background()
	list := func(c *Client) ([]string, error) {
		var ids []string
		for b, err := range c.QueryBindingsV2(ctx, BindingRef{VirtualNum: "+8613800000000"}, 2) {
			if err != nil {
				return ids, err
			}
			ids = append(ids, b.SubscriptionID)
		}
		return ids, nil
	}

	// Other list names and the correctly spelled nextCursor.
	c, n := scriptServer(t,
		`{"resultcode":"0","bindList":[{"subscriptionId":"a"},{"subscriptionId":"b"}],"nextCursor":"1714564800000_2"}`,
		`{"resultcode":"0","data":[{"subscriptionId":"c"}],"nextCusor":""}`)
	if ids, err := list(c); err != nil || strings.Join(ids, ",") != "a,b,c" || n.Load() != 2 {
		t.Errorf("listed %v, %v in %d requests", ids, err, n.Load())
	}

	// A platform naming the same cursor again ends with an error, not a
	// loop.
	c, n = scriptServer(t, `{"resultcode":"0","bindInfoList":[{"subscriptionId":"a"}],"nextCusor":"1714564800000_1"}`)
	if ids, err := list(c); err == nil || !strings.Contains(err.Error(), "again") || len(ids) != 2 || n.Load() != 2 {
		t.Errorf("looping platform: %v, %v after %d requests", ids, err, n.Load())
	}
	c, _ = scriptServer(t, `{"resultcode":"0","bindInfoList":[],"nextCusor":"1714564800000_1"}`,
		`{"resultcode":"0","bindInfoList":[],"nextCusor":"1714564800000_2"}`, `{"resultcode":"0","bindInfoList":[],"nextCusor":"1714564800000_3"}`,
		`{"resultcode":"0","bindInfoList":[],"nextCusor":"1714564800000_4"}`, `{"resultcode":"0","bindInfoList":[],"nextCusor":"1714564800000_5"}`,
		`{"resultcode":"0","bindInfoList":[],"nextCusor":"1714564800000_6"}`, `{"resultcode":"0","bindInfoList":[],"nextCusor":"1714564800000_7"}`,
		`{"resultcode":"0","bindInfoList":[],"nextCusor":"1714564800000_8"}`, `{"resultcode":"0","bindInfoList":[],"nextCusor":"1714564800000_9"}`,
		`{"resultcode":"0","bindInfoList":[],"nextCusor":"1714564800000_10"}`, `{"resultcode":"0","bindInfoList":[],"nextCusor":"1714564800000_11"}`)
	if _, err := list(c); err == nil || !strings.Contains(err.Error(), "empty pages") {
		t.Errorf("endless empty pages: %v", err)
	}

	// A refusal mid-way is yielded after what came before.
	c, _ = scriptServer(t, `{"resultcode":"0","bindInfoList":[{"subscriptionId":"a"}],"nextCusor":"1714564800000_1"}`,
		`{"resultcode":"1010010","resultdesc":"flow control"}`)
	if ids, err := list(c); !errors.Is(err, ErrFlowControl) || len(ids) != 1 {
		t.Errorf("refused second page: %v, %v", ids, err)
	}
	c, n = scriptServer(t, `{"resultcode":"0","bindInfoList":[]}`)
	yielded := 0
	for _, err := range c.QueryBindingsV2(ctx, BindingRef{VirtualNum: "+8613800000000"}, 101) {
		if yielded++; err == nil {
			t.Error("limit 101 accepted")
		}
	}
	if yielded != 1 || n.Load() != 0 {
		t.Errorf("limit 101: %d values, %d requests; want 1 error, no request", yielded, n.Load())
	}
}

func TestCountBindingsTolerance(t *testing.T) {
	ctx := context.Background()
	const x = "+8613800000000"
	for _, tc := range []struct {
		name    string
		answers []string
		want    int
		err     bool
	}{
		{"top-level quoted", []string{`{"resultcode":"0","count":"7"}`}, 7, false},
		{"list item", []string{`{"resultcode":"0","numberList":[{"number":"+8613800000000","bindCount":12}]}`}, 12, false},
		{"second page", []string{
			`{"resultcode":"0","numbers":[{"number":"+8613800000009","bindCount":1}],"nextCusor":"0000000000000_1"}`,
			`{"resultcode":"0","numbers":[{"number":"+8613800000000","bindingCount":"3"}]}`}, 3, false},
		{"list without X, total beside it", []string{`{"resultcode":"0","total":1,"numberList":[{"number":"+8613800000009","bindCount":1}]}`}, 0, true},
		{"no count", []string{`{"resultcode":"0"}`}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := scriptServer(t, tc.answers...)
			n, err := c.CountBindings(ctx, x)
			if (err != nil) != tc.err || n != tc.want {
				t.Errorf("CountBindings = %d, %v; want %d (error %v)", n, err, tc.want, tc.err)
			}
		})
	}
}

// The platform closes the connection after each call, and the close may
// reach the client only once it sends the next request on it: this server
// answers, then drops the connection when more bytes arrive, answering
// nothing. A pooled connection would fail the next bind (a written POST is
// not retried); the client opens one connection per call, so every call
// succeeds, each on a new connection.
func TestClientDoesNotReuseConnections(t *testing.T) {
	var conns, requests atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		body := `{"resultcode":"0","resultdesc":"Success","subscriptionId":"s1","count":1}`
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n" + body)
		if err := buf.Flush(); err != nil {
			t.Error(err)
			return
		}
		// Wait for the client's next bytes or its close, then drop it.
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = buf.ReadByte()
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := NewClient(ClientConfig{BaseURL: srv.URL, AppKey: "key", AppSecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 5 {
		if _, err := c.Bind(ctx, &BindRequest{VirtualNum: "+8613800000000", BindNum: "+8613900000000"}); err != nil {
			t.Fatalf("bind %d: %v", i, err)
		}
		if _, err := c.Query(ctx, BindingRef{SubscriptionID: "s1"}); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		if _, err := c.CountBindings(ctx, "+8613800000000"); err != nil {
			t.Fatalf("count %d: %v", i, err)
		}
	}
	if requests.Load() != 15 || conns.Load() != 15 {
		t.Errorf("%d requests on %d connections, want 15 on 15", requests.Load(), conns.Load())
	}
}
