package ingest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/ingest"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
)

var numItems = []string{
	`{"number":"+8617000000001","status":"5","cause":"2"}`,
	`{"number":"+8617000000002","status":9}`,
}

func numBody(items ...string) []byte {
	return []byte(`{"eventType":"numStatus","numInfo":[` + strings.Join(items, ", ") + `]}`)
}

// streamMsgs returns every message of stream, in order.
func (e *env) streamMsgs(stream string) []*jetstreamMsg {
	e.t.Helper()
	ctx := context.Background()
	s, err := e.js.Stream(ctx, stream)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*jetstreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, &jetstreamMsg{subject: m.Subject, data: string(m.Data), header: m.Header})
	}
	return out
}

type jetstreamMsg struct {
	subject, data string
	header        nats.Header
}

// An X-number status push is taken on its own path and on the two paths
// the platform sends it to without a separate status URL, split into one
// PN_NUMBERS message per item: the item as received, its state and the
// push's nonce as id.
func TestNumStatusPushStoredPerItem(t *testing.T) {
	t.Parallel()
	for _, path := range []string{ingest.PathNumStatus, ingest.PathNotifications, ingest.PathEvents} {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			e := newEnv(t)
			h := http.Header{}
			signed(h)
			sign := func(dst http.Header) {
				for k, v := range h {
					dst[k] = v
				}
			}
			if r := e.post(path, numBody(numItems...), sign); r.status != 200 || r.body.ResultCode != "0" {
				t.Fatalf("status %d %s", r.status, r.raw)
			}
			msgs := e.streamMsgs(streams.Numbers)
			if len(msgs) != 2 {
				t.Fatalf("PN_NUMBERS holds %d, want 2", len(msgs))
			}
			tok, err := aksk.ParseUsernameToken(h.Get(aksk.HeaderAKSK))
			if err != nil {
				t.Fatal(err)
			}
			wantIDs := []string{"num:+8617000000001:5:2:" + tok.Nonce, "num:+8617000000002:9::" + tok.Nonce}
			for i, m := range msgs {
				if m.subject != streams.NumberSubject || m.data != numItems[i] || m.header.Get(nats.MsgIdHdr) != wantIDs[i] {
					t.Errorf("message %d: %s %q id %q, want %s %q id %q", i, m.subject, m.data, m.header.Get(nats.MsgIdHdr),
						streams.NumberSubject, numItems[i], wantIDs[i])
				}
			}
			// A re-push with the original headers adds nothing; one with
			// fresh headers is stored (the table collapses it).
			if r := e.post(path, numBody(numItems...), sign); r.status != 200 {
				t.Fatalf("re-push: status %d %s", r.status, r.raw)
			}
			if n := e.count(streams.Numbers); n != 2 {
				t.Errorf("after a re-push with the original headers PN_NUMBERS holds %d, want 2", n)
			}
			if r := e.post(path, numBody(numItems...), signed); r.status != 200 {
				t.Fatalf("fresh re-push: status %d %s", r.status, r.raw)
			}
			if n := e.count(streams.Numbers); n != 4 {
				t.Errorf("after a re-push with fresh headers PN_NUMBERS holds %d, want 4", n)
			}
			if n := e.count(streams.Events) + e.count(streams.Fees); n != 0 {
				t.Errorf("data streams hold %d, want 0", n)
			}
		})
	}
}

func TestNumStatusRefusedOnFeesPath(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.post(ingest.PathFees, numBody(numItems...), signed)
	if r.status != 400 || len(r.body.Errors) != 1 || r.body.Errors[0].Field != "eventType" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if n := e.count(streams.Numbers); n != 0 {
		t.Errorf("PN_NUMBERS holds %d, want 0", n)
	}
	if n := e.count(streams.Rejected); n != 1 {
		t.Errorf("PN_REJECTED holds %d, want the body", n)
	}
}

func TestNumStatusPathRefusesOtherPushes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.post(ingest.PathNumStatus, feeBody(1, "wrong-path"), signed)
	if r.status != 400 || len(r.body.Errors) != 1 || r.body.Errors[0].Field != "eventType" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if n := e.count(streams.Fees); n != 0 {
		t.Errorf("PN_FEES holds %d, want 0", n)
	}
}

// A bad item is refused alone: the others are stored, the answer is 400
// and the body is kept.
func TestNumStatusBadItemRefusedAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.post(ingest.PathNumStatus, numBody(numItems[0], `{"status":"5"}`, numItems[1]), signed)
	if r.status != 400 || len(r.body.Errors) != 1 || r.body.Errors[0].Field != "numInfo[1].number" {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	if n := e.count(streams.Numbers); n != 2 {
		t.Errorf("PN_NUMBERS holds %d, want the 2 valid items", n)
	}
	if n := e.count(streams.Rejected); n != 1 {
		t.Errorf("PN_REJECTED holds %d, want 1", n)
	}
	many := strings.TrimSuffix(strings.Repeat(numItems[0]+",", privatenumber.MaxNumInfoItems+1), ",")
	if r := e.post(ingest.PathNumStatus, numBody(many), signed); r.status != 400 || !strings.Contains(r.body.ResultDesc, "more than 100") {
		t.Fatalf("101 items: %d %s", r.status, r.raw)
	}
	if n := e.count(streams.Numbers); n != 2 {
		t.Errorf("after 101 items PN_NUMBERS holds %d, want still 2", n)
	}
}

// Without push auth there is no verified nonce: no message id, so every
// copy is stored and the table absorbs the repeats.
func TestNumStatusAuthOffHasNoMsgID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *ingest.Config) { c.AppSecret = ""; c.Auth = ingest.AuthOff })
	for range 2 {
		if r := e.post(ingest.PathNumStatus, numBody(numItems[0]), nil); r.status != 200 {
			t.Fatalf("status %d %s", r.status, r.raw)
		}
	}
	msgs := e.streamMsgs(streams.Numbers)
	if len(msgs) != 2 {
		t.Fatalf("PN_NUMBERS holds %d, want 2", len(msgs))
	}
	for _, m := range msgs {
		if id := m.header.Get(nats.MsgIdHdr); id != "" {
			t.Errorf("message id %q, want none", id)
		}
	}
}
