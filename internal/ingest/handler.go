package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/streams"
)

// Paths of the ingest HTTP contract.
const (
	PathNotifications = "/v1/notifications"
	PathEvents        = "/v1/notifications/events"
	PathFees          = "/v1/notifications/fees"
	PathHealthz       = "/healthz"
	PathReadyz        = "/readyz"
	PathMetrics       = "/metrics"
)

var (
	errTooLarge = errors.New("body too large")
	errMethod   = errors.New("method not allowed")
)

// pushHandler serves one push path: verify, decode, split, publish, answer.
type pushHandler struct {
	kind     privatenumber.Kind
	path     string
	cfg      *Config
	pub      Publisher
	verifier *privatenumber.Verifier // nil when push auth is off
	metrics  *metrics
	log      *zap.Logger
}

func (h *pushHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	status, err := h.handle(r.Context(), w, r)
	writeAnswer(w, status, err, h.cfg.RetryAfter)
	h.metrics.observeRequest(h.path, status, time.Since(start))
	if err == nil && !h.log.Core().Enabled(zap.DebugLevel) {
		return // nothing to log: no logger, request id or fields to make
	}
	log := h.log.With(zap.String("request_id", requestID(r)), zap.String("path", h.path))
	switch {
	case status == http.StatusServiceUnavailable:
		log.Warn("push not stored, platform will retry", zap.Int("status", status), zap.Error(err))
	case err != nil:
		log.Info("push refused", zap.Int("status", status), zap.Error(err))
	default:
		log.Debug("push stored", zap.Duration("took", time.Since(start)))
	}
}

// handle returns the HTTP status of the push and the error behind it.
// Everything refused is kept in PN_REJECTED before the answer; when that
// fails too the answer is 503, so the platform retries and nothing is lost.
func (h *pushHandler) handle(ctx context.Context, w http.ResponseWriter, r *http.Request) (int, error) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, fmt.Errorf("%w: %s", errMethod, r.Method)
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes), r.ContentLength, h.cfg.MaxBodyBytes)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			err = fmt.Errorf("%w: more than %d bytes", errTooLarge, h.cfg.MaxBodyBytes)
			return h.reject(ctx, r, body, http.StatusRequestEntityTooLarge, "too_large", err, true)
		}
		return http.StatusBadRequest, fmt.Errorf("read body: %w", err)
	}

	var token privatenumber.UsernameToken
	if h.verifier != nil {
		if token, err = h.verifier.Verify(r.Header); err != nil {
			return h.reject(ctx, r, body, http.StatusUnauthorized, "unauthenticated", err, false)
		}
	}

	push, err := privatenumber.DecodePush(body, h.kind)
	if err != nil {
		return h.reject(ctx, r, body, http.StatusBadRequest, "invalid", err, false)
	}

	msgs := messages(push)
	pubCtx, cancel := context.WithTimeout(ctx, h.cfg.PublishTimeout)
	defer cancel()
	t0 := time.Now()
	if err := h.pub.Publish(pubCtx, msgs...); err != nil {
		return http.StatusServiceUnavailable, fmt.Errorf("publish %d messages: %w", len(msgs), err)
	}
	h.metrics.publishSeconds.Observe(time.Since(t0).Seconds())
	h.metrics.countRecords(push)

	status, err := http.StatusOK, error(nil)
	if perr := push.Err(); perr != nil {
		// The valid records are stored; the body is kept for the invalid ones.
		status, err = h.reject(ctx, r, body, http.StatusBadRequest, "invalid", perr, false)
	}
	if h.verifier != nil && status != http.StatusServiceUnavailable {
		h.verifier.Remember(token)
	}
	return status, err
}

// readBody reads a request body in one buffer sized from Content-Length
// (the platform always sends it), rather than growing one by doubling: a
// 50-record push would otherwise be copied about eight times.
func readBody(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength < 0 || contentLength > limit {
		return io.ReadAll(r)
	}
	// One byte more, so that reaching EOF needs no second buffer.
	buf := make([]byte, 0, contentLength+1)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case errors.Is(err, io.EOF):
			return buf, nil
		case err != nil:
			return buf, err
		case len(buf) == cap(buf):
			// Longer than announced; the server stops it at Content-Length
			// anyway, but read on as io.ReadAll would.
			rest, err := io.ReadAll(r)
			return append(buf, rest...), err
		}
	}
}

// messages splits a push into one message per record.
func messages(p *privatenumber.Push) []streams.Message {
	if p.Event != nil {
		return []streams.Message{{Subject: streams.EventSubject(p.Event.EventType), MsgID: p.Event.MsgID(), Data: p.Event.Raw}}
	}
	msgs := make([]streams.Message, len(p.Fees))
	for i := range p.Fees {
		msgs[i] = streams.Message{Subject: streams.FeeSubject, MsgID: p.Fees[i].MsgID(), Data: p.Fees[i].Raw}
	}
	return msgs
}

// reject keeps a refused body in PN_REJECTED with the reason and returns the
// status to answer: the given one once the body is stored, 503 otherwise.
func (h *pushHandler) reject(ctx context.Context, r *http.Request, body []byte, status int, class string, cause error, truncated bool) (int, error) {
	hdr := nats.Header{}
	hdr.Set(streams.HeaderReason, truncate(cause.Error(), 4096))
	hdr.Set(streams.HeaderStatus, strconv.Itoa(status))
	hdr.Set(streams.HeaderPath, r.URL.Path)
	hdr.Set(streams.HeaderRemoteAddr, r.RemoteAddr)
	hdr.Set(streams.HeaderReceivedAt, time.Now().UTC().Format(time.RFC3339Nano))
	if truncated {
		hdr.Set(streams.HeaderTruncated, "true")
	}
	for _, name := range []string{"Content-Type", "User-Agent", privatenumber.HeaderAuthorization, privatenumber.HeaderAKSK, privatenumber.HeaderWSSE, "X-Request-Id"} {
		if v := r.Header.Get(name); v != "" {
			hdr.Set(streams.HeaderOrigHeaders+name, truncate(v, 1024))
		}
	}
	// The same body refused for the same reason is kept once per duplicate
	// window, so a retry storm does not flood the stream.
	sum := sha256.Sum256(append([]byte(class+"\x00"), body...))
	msg := streams.Message{
		Subject: streams.RejectedPrefix + class,
		MsgID:   "rejected:" + hex.EncodeToString(sum[:]),
		Data:    body,
		Header:  hdr,
	}
	pubCtx, cancel := context.WithTimeout(ctx, h.cfg.PublishTimeout)
	defer cancel()
	if err := h.pub.Publish(pubCtx, msg); err != nil {
		return http.StatusServiceUnavailable, fmt.Errorf("keep rejected body (%v): %w", cause, err)
	}
	h.metrics.rejected.WithLabelValues(class).Inc()
	return status, cause
}

// answer is the JSON body of every answer, in the platform's style.
type answer struct {
	ResultCode string                      `json:"resultcode"`
	ResultDesc string                      `json:"resultdesc"`
	Errors     []*privatenumber.FieldError `json:"errors,omitempty"`
}

// successAnswer is the answer to a stored push, as json.Encoder writes it.
var successAnswer = []byte(`{"resultcode":"0","resultdesc":"Success"}` + "\n")

// writeAnswer maps a status and its error to the answer; this is the one
// place where errors become HTTP.
func writeAnswer(w http.ResponseWriter, status int, err error, retryAfter time.Duration) {
	if err == nil && status == http.StatusOK {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(status)
		_, _ = w.Write(successAnswer) // the client may be gone; nothing to do
		return
	}
	a := answer{ResultCode: "0", ResultDesc: "Success"}
	if err != nil {
		a.ResultCode = strconv.Itoa(status)
		a.ResultDesc = truncate(err.Error(), 2048)
		var fes privatenumber.FieldErrors
		if errors.As(err, &fes) {
			a.Errors = fes
		}
	}
	switch status {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
		a.ResultDesc = "not stored, retry later" // internals stay in the log
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", http.MethodPost)
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", privatenumber.AuthorizationAKSK)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(a) // the client may be gone; nothing to do
}

func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 128 {
		return id
	}
	return privatenumber.NewNonce()[:16]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
