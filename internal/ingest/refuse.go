package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/redact"
	"github.com/pnstream/pnstream/internal/streams"
)

// Reason classes: the last token of a PN_REJECTED subject.
const (
	classUnauthenticated = "unauthenticated"
	classTooLarge        = "too_large"
	classInvalid         = "invalid"
)

// Headers of a PN_REJECTED message besides the streams.Header* ones.
const (
	HeaderRefusal     = "Pn-Refusal"      // precise reason (the label of pn_ingest_refused_total)
	HeaderBodyBytes   = "Pn-Body-Bytes"   // size of the body received or announced, when known
	HeaderAuthScheme  = "Pn-Auth-Scheme"  // AKSK or WSSE, when a token parsed
	HeaderAuthKey     = "Pn-Auth-Key"     // the token's Username
	HeaderAuthNonce   = "Pn-Auth-Nonce"   // the token's Nonce
	HeaderAuthCreated = "Pn-Auth-Created" // the token's Created
)

// keptHeaders are the request headers a PN_REJECTED message copies (as
// Pn-Orig-<name>, each value cut at maxHeaderValue). An allow-list: never
// Authorization, X-AKSK, X-WSSE or a cookie, and a stranger's 60 KiB of
// headers cost no more than a few hundred bytes.
var keptHeaders = []string{"Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding", "User-Agent", "X-Request-Id", "X-Forwarded-For", "X-Real-Ip"}

const (
	maxHeaderValue = 256
	maxReason      = 1024
	// defaultMaxPayload is nats-server's default max_payload.
	defaultMaxPayload = 1 << 20
	// payloadSlack covers the Nats-Msg-Id header the publisher adds and the
	// header block's framing.
	payloadSlack = 256
)

// refusal is a refused push and what to keep of it.
type refusal struct {
	status    int
	class     string // PN_REJECTED subject token
	reason    string // pn_ingest_refused_total label
	cause     error
	auth      *aksk.Authenticated // the token, when it parsed
	kept      []byte              // the body, or its prefix
	truncated bool                // kept is a prefix
	size      int64               // body bytes, -1 when unknown
}

// refuseUnread refuses a push whose body was not read: it reads at most
// RefusedBodyBytes of it, and when more follows closes the connection
// after the answer rather than keep it for a stranger. (net/http still
// discards up to 256 KiB of a body after the answer, and reads nothing when
// more than that remains.)
func (h *pushHandler) refuseUnread(ctx context.Context, w http.ResponseWriter, r *http.Request, rf refusal) (int, error) {
	n := int64(RefusedBodyBytes)
	if r.ContentLength >= 0 {
		n = min(n, r.ContentLength)
	} else {
		n++ // one byte more tells whether more follows
	}
	buf := make([]byte, n)
	got, err := io.ReadFull(r.Body, buf)
	rf.kept, rf.size = buf[:min(got, RefusedBodyBytes)], r.ContentLength
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		rf.truncated = r.ContentLength > int64(got) // cut short by the client
	case err != nil:
		rf.truncated = true
		rf.cause = fmt.Errorf("%w (and reading the body: %v)", rf.cause, err)
	default:
		rf.truncated = r.ContentLength < 0 && got > RefusedBodyBytes || r.ContentLength > int64(got)
	}
	if rf.truncated {
		w.Header().Set("Connection", "close")
	}
	return h.refuse(ctx, r, rf)
}

// refuse keeps what rf says of a refused body in PN_REJECTED, with the
// reason in headers, and returns the status to answer: rf.status once the
// body is kept, 503 otherwise. A kept body never exceeds what the NATS
// server accepts in one message: a longer one keeps its prefix, marked
// truncated.
func (h *pushHandler) refuse(ctx context.Context, r *http.Request, rf refusal) (int, error) {
	h.metrics.refused.WithLabelValues(rf.reason).Inc()
	hdr := nats.Header{}
	hdr.Set(streams.HeaderReason, redact.Truncate(rf.cause.Error(), maxReason))
	hdr.Set(HeaderRefusal, rf.reason)
	hdr.Set(streams.HeaderStatus, strconv.Itoa(rf.status))
	hdr.Set(streams.HeaderPath, redact.Truncate(r.URL.Path, maxHeaderValue))
	hdr.Set(streams.HeaderRemoteAddr, r.RemoteAddr)
	hdr.Set(streams.HeaderReceivedAt, time.Now().UTC().Format(time.RFC3339Nano))
	if rf.size >= 0 {
		hdr.Set(HeaderBodyBytes, strconv.FormatInt(rf.size, 10))
	}
	if a := rf.auth; a != nil && a.Token.Nonce != "" {
		// The token without its digest: enough to trace a replay, useless
		// to replay it.
		scheme := "AKSK"
		if a.WSSE {
			scheme = "WSSE"
		}
		hdr.Set(HeaderAuthScheme, scheme)
		hdr.Set(HeaderAuthKey, redact.Truncate(a.Token.Username, 128))
		hdr.Set(HeaderAuthNonce, a.Token.Nonce)
		hdr.Set(HeaderAuthCreated, redact.Truncate(a.Token.Created, 64))
	}
	for _, name := range keptHeaders {
		if v := r.Header.Get(name); v != "" {
			hdr.Set(streams.HeaderOrigHeaders+name, redact.Truncate(v, maxHeaderValue))
		}
	}
	maxPayload := h.maxPayload()
	if maxPayload <= 0 {
		maxPayload = defaultMaxPayload
	}
	if budget := int(maxPayload) - headerBytes(hdr) - len(streams.HeaderTruncated) - payloadSlack; len(rf.kept) > budget {
		rf.kept, rf.truncated = rf.kept[:max(budget, 0)], true
	}
	if rf.truncated {
		hdr.Set(streams.HeaderTruncated, "true")
	}
	// The same kept bytes refused for the same class are kept once per
	// duplicate window, so a retry storm does not flood the stream. 128
	// bits of the hash, short: the server keeps every id of the window in
	// memory.
	sum := sha256.New()
	sum.Write([]byte(rf.class + "\x00"))
	sum.Write(rf.kept)
	msg := streams.Message{
		Subject: streams.RejectedPrefix + rf.class,
		MsgID:   "rejected:" + base64.RawURLEncoding.EncodeToString(sum.Sum(nil)[:16]),
		Data:    rf.kept,
		Header:  hdr,
	}
	pubCtx, cancel := context.WithTimeout(ctx, h.cfg.PublishTimeout)
	defer cancel()
	err := h.pub.Publish(pubCtx, msg)
	if tooLargeForStream(err) && len(msg.Data) > RefusedBodyBytes {
		// The stream's own max message size is below the server's
		// max_payload: keep what any refusal keeps rather than answer 503
		// to a body that could never be kept whole.
		msg.Data = msg.Data[:RefusedBodyBytes]
		msg.Header.Set(streams.HeaderTruncated, "true")
		err = h.pub.Publish(pubCtx, msg)
	}
	if err != nil {
		return http.StatusServiceUnavailable, fmt.Errorf("keep rejected body (%v): %w", rf.cause, err)
	}
	h.metrics.rejected.WithLabelValues(rf.class).Inc()
	return rf.status, rf.cause
}

// headerBytes is the size of hdr on the wire: "Name: value\r\n" per value
// after the "NATS/1.0\r\n" line, and a closing "\r\n".
func headerBytes(hdr nats.Header) int {
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range hdr {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// tooLargeForStream reports whether JetStream refused a message as larger
// than the stream's max message size (a permanent refusal, not an outage).
func tooLargeForStream(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum
}
