package axeapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/pnstream/pnstream/internal/privatenumber"
	"github.com/pnstream/pnstream/internal/redact"
)

// Categories of platform result codes. An *APIError matches the one its
// result code belongs to with errors.Is; codes outside every category
// (1012012 recording disabled, 1010029 account frozen, ...) match none.
var (
	// ErrFlowControl is platform flow control (1010010): retry the same call
	// after a pause, see APIError.RetryAfter.
	ErrFlowControl = errors.New("platform flow control")
	// ErrNotFound is "the record does not exist" (1012007, 1016001): no such
	// binding, or a recording that expired, was never made, or whose
	// fileName is wrong.
	ErrNotFound = errors.New("record does not exist")
	// ErrCredentials is a refused app key, secret or auth header (1023006–
	// 1023012, 1023033–1023038, 1010012, 1010003, 1020176).
	ErrCredentials = errors.New("credentials refused")
	// ErrClock is a Created attribute too far from the platform's clock
	// (1010013): fix the local clock.
	ErrClock = errors.New("clock skew: created outside the platform's window")
	// ErrExtensionTaken is "no idle extend number" (1020167): the requested
	// extendNum is in use on that X, or X has no extension left.
	ErrExtensionTaken = errors.New("extension taken")
	// ErrInvalidParameter is an invalid request (1010002); ResultDesc
	// usually names the field.
	ErrInvalidParameter = errors.New("invalid parameter")
	// ErrInternal is an internal platform error or timeout (1010001,
	// 1023001, 1023002, or an HTTP 5xx without a result code): retry once.
	ErrInternal = errors.New("platform internal error")
)

// codeCategory maps each categorised result code to its sentinel.
var codeCategory = func() map[string]error {
	m := map[string]error{
		"1010010": ErrFlowControl,
		"1012007": ErrNotFound, "1016001": ErrNotFound,
		"1010012": ErrCredentials, "1010003": ErrCredentials, "1020176": ErrCredentials,
		"1010013": ErrClock,
		"1020167": ErrExtensionTaken,
		"1010002": ErrInvalidParameter,
		"1010001": ErrInternal, "1023001": ErrInternal, "1023002": ErrInternal,
	}
	for c := 1023006; c <= 1023012; c++ {
		m[strconv.Itoa(c)] = ErrCredentials
	}
	for c := 1023033; c <= 1023038; c++ {
		m[strconv.Itoa(c)] = ErrCredentials
	}
	return m
}()

// FlowControlPause is how long the platform asks callers to wait after
// flow control (1010010): "retry after a minute".
const FlowControlPause = time.Minute

// APIError is a call the platform refused: an HTTP status other than the
// expected one, or a resultcode other than "0". ResultCode is empty when the
// answer carried none (a gateway error page, a 404 for a wrong base URL);
// ResultDesc then holds the start of the body.
type APIError struct {
	HTTPStatus int
	ResultCode string
	ResultDesc string
}

func (e *APIError) Error() string {
	if e.ResultCode == "" {
		if e.ResultDesc == "" {
			return fmt.Sprintf("platform answered HTTP %d", e.HTTPStatus)
		}
		return fmt.Sprintf("platform answered HTTP %d: %s", e.HTTPStatus, e.ResultDesc)
	}
	return fmt.Sprintf("platform result %s (HTTP %d): %s", e.ResultCode, e.HTTPStatus, e.ResultDesc)
}

// Is matches the category sentinel of the result code (ErrNotFound, ...).
func (e *APIError) Is(target error) bool {
	if e.ResultCode == "" {
		return target == ErrInternal && e.HTTPStatus >= 500
	}
	return codeCategory[e.ResultCode] == target
}

// Temporary reports whether the same call may succeed if retried: flow
// control (after RetryAfter) and internal errors.
func (e *APIError) Temporary() bool {
	return errors.Is(e, ErrFlowControl) || errors.Is(e, ErrInternal)
}

// RetryAfter is the pause the platform asks for before a retry: one minute
// for flow control, 0 otherwise (internal errors may be retried at once,
// other errors should not be retried unchanged).
func (e *APIError) RetryAfter() time.Duration {
	if errors.Is(e, ErrFlowControl) {
		return FlowControlPause
	}
	return 0
}

// Meaning explains a documented result code in a few English words, or
// returns "" for a code the reference does not list.
func Meaning(code string) string {
	return meanings[code]
}

// meanings are the codes of reference §8, and the per-attribute auth codes
// seen in Huawei's SDP result-code tables.
var meanings = map[string]string{
	"0":       "success",
	"1010001": "internal platform error; retry once",
	"1010002": "invalid request: a parameter is missing or malformed (stray spaces, both callbackTone and callbackNum, bad timeUnit, wrong extension length)",
	"1010003": "invalid app_key, or wrong access address for this app",
	"1010010": "platform flow control: retry after a minute",
	"1010012": "authentication failed: PasswordDigest does not match the app secret",
	"1010013": "Created is too far from the platform's clock: check the local clock",
	"1010029": "account frozen (arrears)",
	"1010040": "this app_key may not call this API (the app is not an AXE app)",
	"1011001": "the virtual number (X) is not a number of this app, or is malformed",
	"1011002": "insufficient number resources: X full, no X in the area code, or a duplicate binding",
	"1011003": "number resource limit reached",
	"1011004": "the virtual number is not applied to this app",
	"1011005": "the virtual number is already allocated",
	"1012007": "the record does not exist: no such binding, or the recording expired (7 days) or its fileName is wrong",
	"1012008": "insufficient number resources: X full, no X in the area code, or a duplicate binding",
	"1012010": "the binding already exists",
	"1012012": "recording is disabled for this app",
	"1012102": "the virtual number is blacklisted (complaints or arrears)",
	"1016001": "the record does not exist",
	"1020167": "no idle extension: the requested extendNum is taken, or X has no extension left",
	"1020176": "caller IP blacklisted after repeated authentication failures; retry in 30 minutes",
	"1020182": "the number exceeded its maximum binds per day; retry tomorrow",
	"1023001": "internal platform error; retry once",
	"1023002": "platform response timeout; retry once",
	"1023006": "Authorization header missing or not the AKSK scheme",
	"1023007": "realm missing from the Authorization header",
	"1023008": "profile missing from the Authorization header",
	"1023009": `realm in the Authorization header must be "SDP"`,
	"1023010": `profile in the Authorization header must be "UsernameToken"`,
	"1023011": `type in the Authorization header must be "Appkey"`,
	"1023012": "type missing from the Authorization header",
	"1023033": "X-AKSK header missing",
	"1023034": "Username missing from the X-AKSK header",
	"1023035": "Nonce missing from the X-AKSK header, or not 1-128 letters and digits",
	"1023036": "Created missing from the X-AKSK header",
	"1023037": "PasswordDigest missing from the X-AKSK header",
	"1023038": "UsernameToken missing from the X-AKSK header",
}

// resultCode is a resultcode as the platform sends it, a JSON string;
// a JSON number is accepted too.
type resultCode string

func (c *resultCode) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = resultCode(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("resultcode: want a string or number, got %s", privatenumber.JSONKind(b))
	}
	*c = resultCode(n.String())
	return nil
}

// result is the envelope of every JSON answer.
type result struct {
	ResultCode *resultCode `json:"resultcode"`
	ResultDesc string      `json:"resultdesc"`
}

// errorFromResponse builds the APIError of a refused call from its status
// and body (at most a few KiB are kept in ResultDesc when there is no code).
func errorFromResponse(status int, body []byte) *APIError {
	var r result
	if err := json.Unmarshal(body, &r); err == nil && r.ResultCode != nil && *r.ResultCode != "" {
		return &APIError{HTTPStatus: status, ResultCode: string(*r.ResultCode), ResultDesc: r.ResultDesc}
	}
	desc := redact.String(string(bytes.TrimSpace(body))) // a redirect page may quote a signed URL
	if len(desc) > 256 {
		desc = desc[:256] + "…"
	}
	if desc == "" {
		desc = http.StatusText(status)
	}
	return &APIError{HTTPStatus: status, ResultDesc: desc}
}
