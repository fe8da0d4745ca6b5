package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/nonces"
	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/redact"
	"github.com/pnstream/pnstream/internal/streams"
)

// Paths of the ingest HTTP contract.
const (
	PathNotifications = "/v1/notifications"
	PathEvents        = "/v1/notifications/events"
	PathFees          = "/v1/notifications/fees"
	PathNumStatus     = "/v1/notifications/numstatus"
	PathHealthz       = "/healthz"
	PathReadyz        = "/readyz"
	PathMetrics       = "/metrics"
)

var (
	errTooLarge = errors.New("body too large")
	errMethod   = errors.New("method not allowed")
)

// pushHandler serves one push path: verify, read, decode, claim the nonce,
// split, publish, answer (a single event: claim and publish in one).
type pushHandler struct {
	kind       privatenumber.Kind
	path       string
	cfg        *Config
	pub        Publisher
	nonces     NonceStore
	records    RecordNonceStore // nonces, when it can store a record with its claim
	maxPayload func() int64
	verifier   *aksk.Verifier // nil when push auth is off
	decoder    privatenumber.Decoder
	metrics    *metrics
	pm         pathMetrics
	log        *zap.Logger
}

func (h *pushHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	status, err := h.handle(r.Context(), w, r)
	writeAnswer(w, status, err, h.cfg.RetryAfter)
	h.metrics.observeRequest(h.pm, h.path, status, time.Since(start))
	// 401s are what anonymous clients cause: counted, kept, not logged above
	// Debug, so that they cannot flood the log.
	if (err == nil || status == http.StatusUnauthorized) && !h.log.Core().Enabled(zap.DebugLevel) {
		return
	}
	log := h.log.With(zap.String("request_id", requestID(r)), zap.String("path", h.path))
	switch {
	case status == http.StatusServiceUnavailable:
		log.Warn("push not stored, platform will retry", zap.Int("status", status), zap.Error(err))
	case status == http.StatusUnauthorized:
		log.Debug("push refused", zap.Int("status", status), zap.Error(err))
	case err != nil:
		log.Info("push refused", zap.Int("status", status), zap.Error(err))
	default:
		log.Debug("push stored", zap.Duration("took", time.Since(start)))
	}
}

// handle returns the HTTP status of the push and the error behind it. The
// cheap checks come first: the token before the body is read, the body's
// size before it is decoded, the nonce before anything is stored.
// Everything refused is kept in PN_REJECTED (bounded) before the answer;
// when that fails too the answer is 503, so the platform retries and
// nothing is lost.
func (h *pushHandler) handle(ctx context.Context, w http.ResponseWriter, r *http.Request) (int, error) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, fmt.Errorf("%w: %s", errMethod, r.Method)
	}
	var auth aksk.Authenticated
	if h.verifier != nil {
		var err error
		if auth, err = h.verifier.Authenticate(r.Header); err != nil {
			return h.refuseUnread(ctx, w, r, refusal{status: http.StatusUnauthorized, class: classUnauthenticated, reason: authReason(err), cause: err, auth: &auth})
		}
	}
	if r.ContentLength > h.cfg.MaxBodyBytes {
		err := fmt.Errorf("%w: %d bytes, the limit is %d", errTooLarge, r.ContentLength, h.cfg.MaxBodyBytes)
		return h.refuseUnread(ctx, w, r, refusal{status: http.StatusRequestEntityTooLarge, class: classTooLarge, reason: reasonTooLarge, cause: err, auth: &auth})
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes), r.ContentLength, h.cfg.MaxBodyBytes)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			// Sent without a length; MaxBytesReader closes the connection.
			err = fmt.Errorf("%w: more than %d bytes", errTooLarge, h.cfg.MaxBodyBytes)
			return h.refuse(ctx, r, refusal{status: http.StatusRequestEntityTooLarge, class: classTooLarge, reason: reasonTooLarge, cause: err, auth: &auth,
				kept: body[:min(len(body), RefusedBodyBytes)], truncated: true, size: -1})
		}
		return http.StatusBadRequest, fmt.Errorf("read body: %w", err)
	}
	// Decoded before the nonce is claimed, so that a push of one valid
	// event can claim it with the event's own message; nothing of the body
	// is stored, kept or published before the claim.
	push, err := h.decoder.Decode(body, h.kind)
	if h.verifier != nil {
		if m, ok := h.singleEvent(push, err); ok {
			return h.storeWithClaim(ctx, r, &auth, body, push, m)
		}
		if status, err := h.claim(ctx, r, &auth, body); err != nil {
			return status, err
		}
	}
	if err != nil {
		if errors.Is(err, privatenumber.ErrRecordTooLarge) {
			// A call event is one record: over the record limit, the body
			// is too large, and kept as little as any other 413.
			return h.refuse(ctx, r, refusal{status: http.StatusRequestEntityTooLarge, class: classTooLarge, reason: reasonRecordTooLarge, cause: err, auth: &auth,
				kept: body[:min(len(body), RefusedBodyBytes)], truncated: len(body) > RefusedBodyBytes, size: int64(len(body))})
		}
		return h.refuse(ctx, r, refusal{status: http.StatusBadRequest, class: classInvalid, reason: reasonInvalid, cause: err, auth: &auth, kept: body, size: int64(len(body))})
	}

	msgs := messages(push, auth.Token.Nonce) // no nonce when push auth is off
	pubCtx, cancel := context.WithTimeout(ctx, h.cfg.PublishTimeout)
	defer cancel()
	t0 := time.Now()
	if err := h.pub.Publish(pubCtx, msgs...); err != nil {
		return http.StatusServiceUnavailable, fmt.Errorf("publish %d messages: %w", len(msgs), err)
	}
	h.metrics.publishSeconds.Observe(time.Since(t0).Seconds())
	h.metrics.countRecords(push)

	if perr := push.Err(); perr != nil {
		// The valid records are stored; the body is kept for the invalid ones.
		reason := reasonInvalid
		if errors.Is(perr, privatenumber.ErrRecordTooLarge) {
			reason = reasonRecordTooLarge
		}
		return h.refuse(ctx, r, refusal{status: http.StatusBadRequest, class: classInvalid, reason: reason, cause: perr, auth: &auth, kept: body, size: int64(len(body))})
	}
	return http.StatusOK, nil
}

// singleEvent returns the message of a push that is one valid call event,
// when the nonce store can claim the nonce with it.
func (h *pushHandler) singleEvent(p *privatenumber.Push, decodeErr error) (streams.Message, bool) {
	if h.records == nil || decodeErr != nil || p.Event == nil || p.Err() != nil {
		return streams.Message{}, false
	}
	return streams.Message{Subject: streams.EventSubject(p.Event.EventType), Data: p.Event.Raw}, true
}

// storeWithClaim stores a single-event push in the one message that also
// claims its nonce (RecordNonceStore): one stored message and one PubAck
// per push. A re-push of the same body is a duplicate of that message;
// another body under the nonce stores nothing and is refused as claim
// refuses it.
func (h *pushHandler) storeWithClaim(ctx context.Context, r *http.Request, auth *aksk.Authenticated, body []byte, push *privatenumber.Push, m streams.Message) (int, error) {
	pubCtx, cancel := context.WithTimeout(ctx, h.cfg.PublishTimeout)
	defer cancel()
	t0 := time.Now()
	err := h.records.ClaimWith(pubCtx, auth.AppKey, auth.Token.Nonce, body, m)
	switch {
	case errors.Is(err, nonces.ErrReused):
		return h.refuseReused(ctx, r, auth, body, err)
	case err != nil:
		h.metrics.nonceErrors.Inc()
		return http.StatusServiceUnavailable, fmt.Errorf("publish %s with its nonce: %w", push.Event.MsgID(), err)
	}
	h.metrics.publishSeconds.Observe(time.Since(t0).Seconds())
	h.metrics.countRecords(push)
	return http.StatusOK, nil
}

// claim checks and records the push's nonce, bound to the body, in the
// shared store, for as long as its Created passes authentication (plus the
// clock skew, for replicas whose clocks differ). It returns 0 and nil when
// the push may go on.
func (h *pushHandler) claim(ctx context.Context, r *http.Request, auth *aksk.Authenticated, body []byte) (int, error) {
	t0 := time.Now()
	// Whole seconds, rounded up: the server's TTL resolution.
	ttl := max(auth.Created.Add(h.cfg.MaxAge+h.cfg.ClockSkew).Sub(t0), time.Second)
	ttl = (ttl + time.Second - 1).Truncate(time.Second)
	cctx, cancel := context.WithTimeout(ctx, h.cfg.PublishTimeout)
	defer cancel()
	err := h.nonces.Claim(cctx, auth.AppKey, auth.Token.Nonce, body, ttl)
	h.metrics.nonceSeconds.Observe(time.Since(t0).Seconds())
	switch {
	case err == nil:
		return 0, nil
	case errors.Is(err, nonces.ErrReused):
		return h.refuseReused(ctx, r, auth, body, err)
	default:
		h.metrics.nonceErrors.Inc()
		return http.StatusServiceUnavailable, fmt.Errorf("nonce store: %w", err)
	}
}

// refuseReused refuses a push whose nonce came before with another body:
// captured headers with a forged body. It keeps as little of it as of any
// other 401.
func (h *pushHandler) refuseReused(ctx context.Context, r *http.Request, auth *aksk.Authenticated, body []byte, err error) (int, error) {
	return h.refuse(ctx, r, refusal{status: http.StatusUnauthorized, class: classUnauthenticated, reason: reasonNonceReused,
		cause: fmt.Errorf("%w: %w", aksk.ErrAuthReplayed, err), auth: auth,
		kept: body[:min(len(body), RefusedBodyBytes)], truncated: len(body) > RefusedBodyBytes, size: int64(len(body))})
}

// authReason is the refusal reason of an authentication error.
func authReason(err error) string {
	switch {
	case errors.Is(err, aksk.ErrAuthMissing):
		return reasonAuthMissing
	case errors.Is(err, aksk.ErrAuthUsername):
		return reasonAuthUnknownKey
	case errors.Is(err, aksk.ErrAuthDigest):
		return reasonAuthDigest
	case errors.Is(err, aksk.ErrAuthExpired):
		return reasonAuthExpired
	case errors.Is(err, aksk.ErrAuthWSSEOff):
		return reasonAuthWSSEOff
	default:
		return reasonAuthMalformed
	}
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

// messages splits a push into one message per record; nonce is the
// push's verified nonce, "" without push auth (see numberMessages).
func messages(p *privatenumber.Push, nonce string) []streams.Message {
	if p.EventType == privatenumber.EventTypeNumStatus {
		return numberMessages(p.Numbers, nonce)
	}
	if p.Event != nil {
		return []streams.Message{{Subject: streams.EventSubject(p.Event.EventType), MsgID: p.Event.MsgID(), Data: p.Event.Raw}}
	}
	msgs := make([]streams.Message, len(p.Fees))
	for i := range p.Fees {
		msgs[i] = streams.Message{Subject: streams.FeeSubjectFor(p.Fees[i].Recorded()), MsgID: p.Fees[i].MsgID(), Data: p.Fees[i].Raw}
	}
	return msgs
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
		a.ResultDesc = redact.Truncate(err.Error(), 2048)
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
		// One answer for every refused token, so that a client learns
		// nothing of which keys exist or why its token failed.
		a = answer{ResultCode: strconv.Itoa(status), ResultDesc: "Unauthorized"}
		w.Header().Set("WWW-Authenticate", aksk.AuthorizationAKSK)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(a) // the client may be gone; nothing to do
}

func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 128 {
		return id
	}
	return aksk.NewNonce()[:16]
}
