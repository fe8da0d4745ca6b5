package platformsim

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/aksk"
	"github.com/pnstream/pnstream/internal/axeapi"
)

// Recordings resolves recordings for the record-URL API. The call
// simulation implements it.
type Recordings interface {
	// DownloadURL returns a download URL of the recording at now, or an
	// error matching ErrRecordingNotFound when there is none (never made,
	// wrong name, or past its retention).
	DownloadURL(recordDomain, fileName string, now time.Time) (string, error)
}

// ErrRecordingNotFound is answered as 1012007 "The record does not exist".
var ErrRecordingNotFound = errors.New("recording not found")

// DefaultAuthWindow is how far Created may be from the simulator's clock
// when APIConfig.Window is 0. The platform's tolerance is not published
// (reference §0, UNCONFIRMED).
const DefaultAuthWindow = 5 * time.Minute

// maxRequestBody bounds request bodies; a bind body is well under 2 KiB.
const maxRequestBody = 64 << 10

// APIConfig configures the simulated API.
type APIConfig struct {
	// AppKey and AppSecret are the credentials requests must be signed
	// with. Both must be set (the caller validates them): an empty AppKey
	// would accept any Username.
	AppKey, AppSecret string
	// Window is the accepted distance between Created and now, either way,
	// and how long a nonce stays spent. Default DefaultAuthWindow.
	Window time.Duration
	// Now is the simulator's clock; nil means time.Now.
	Now func() time.Time
	// Fault, when set, is asked first on every request; a non-nil answer is
	// sent instead of handling the request (fault injection, such as flow
	// control 1010010). An HTTPStatus of 0 gets the code's usual status.
	Fault func(r *http.Request) *axeapi.APIError
	// VirtualNumbers are the app's X numbers, E.164. Binding any other X is
	// refused with 1011001; areaCode binds choose among these in order.
	VirtualNumbers []string
	// AreaCodes is the area code (city) of X numbers for areaCode binds;
	// an X without one has a city only if it is a landline.
	AreaCodes map[string]string
}

// NewAPI returns the handler of the platform's API paths:
// axeapi.PathAXE (POST bind, DELETE unbind, GET query, PUT modify)
// axeapi.PathRecording (GET, answered 301 with a Location),
// axeapi.PathAXEv2 (GET, query v2 paging over the bindings of an X)
// and axeapi.PathVirtualNumber (GET, binding counts per X).
// Other paths get a plain 404, as the platform's gateway does for a wrong
// URI. recs may be nil: every recording is then unknown (1012007). log
// gets a Debug line per refused request and an Error line per internal
// failure; secrets and auth headers are never logged.
func NewAPI(cfg APIConfig, b *Bindings, recs Recordings, log *zap.Logger) http.Handler {
	if cfg.Window <= 0 {
		cfg.Window = DefaultAuthWindow
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &api{
		cfg:      cfg,
		bindings: b,
		recs:     recs,
		log:      log,
		verifier: aksk.NewVerifier(cfg.AppKey, cfg.AppSecret, cfg.Window, 0, cfg.Now),
		numbers:  make(map[string]bool, len(cfg.VirtualNumbers)),
	}
	for _, x := range cfg.VirtualNumbers {
		a.numbers[x] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc(axeapi.PathAXE, a.serveAXE)
	mux.HandleFunc(axeapi.PathRecording, a.serveRecording)
	mux.HandleFunc(axeapi.PathAXEv2, a.serveQueryV2)
	mux.HandleFunc(axeapi.PathVirtualNumber, a.serveVirtualNumbers)
	return mux
}

type api struct {
	cfg      APIConfig
	bindings *Bindings
	recs     Recordings
	log      *zap.Logger
	verifier *aksk.Verifier
	numbers  map[string]bool
}

// success is the body of every successful JSON answer.
type success struct {
	ResultCode string `json:"resultcode"`
	ResultDesc string `json:"resultdesc"`
}

var succeeded = success{ResultCode: "0", ResultDesc: "Success"}

func (a *api) serveAXE(w http.ResponseWriter, r *http.Request) {
	if !a.admit(w, r, http.MethodPost, http.MethodDelete, http.MethodGet, http.MethodPut) {
		return
	}
	now := a.cfg.Now()
	var (
		answer any
		err    error
	)
	switch r.Method {
	case http.MethodPost:
		answer, err = a.bind(r, now)
	case http.MethodDelete:
		answer, err = a.unbind(r, now)
	case http.MethodGet:
		answer, err = a.query(r, now)
	case http.MethodPut:
		answer, err = a.modify(r, now)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, answer)
}

func (a *api) serveRecording(w http.ResponseWriter, r *http.Request) {
	if !a.admit(w, r, http.MethodGet) {
		return
	}
	q := r.URL.Query()
	domain, err := queryParam(q, "recordDomain", 128, true)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	file, err := queryParam(q, "fileName", 128, true)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if a.recs == nil {
		a.fail(w, r, ErrRecordingNotFound)
		return
	}
	u, err := a.recs.DownloadURL(domain, file, a.cfg.Now())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// The platform answers 301 with no body; clients must not follow it.
	w.Header().Set("Location", u)
	w.WriteHeader(http.StatusMovedPermanently)
}

// admit runs the checks every call passes before its handler: injected
// faults, the method, the Content-Type, and authentication. It answers
// and returns false when the request is refused.
func (a *api) admit(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if a.cfg.Fault != nil {
		if e := a.cfg.Fault(r); e != nil {
			a.fail(w, r, e)
			return false
		}
	}
	allowed := false
	for _, m := range methods {
		allowed = allowed || r.Method == m
	}
	if !allowed {
		// No documented code: the gateway's 405, with a 1010002 body so a
		// client still gets a result code.
		w.Header().Set("Allow", strings.Join(methods, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, success{ResultCode: codeInvalid, ResultDesc: "Invalid request: method " + r.Method + " not allowed"})
		return false
	}
	// Every call carries application/json, GET and DELETE too (reference
	// §0); the charset parameter is not insisted on.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		a.fail(w, r, invalid("Content-Type", "want application/json;charset=UTF-8"))
		return false
	}
	if e := a.authenticate(r.Header); e != nil {
		a.fail(w, r, e)
		return false
	}
	return true
}

// fail answers err as the platform's failure body.
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := apiErrorFor(err)
	if e.ResultCode == codeInternal {
		a.log.Error("api request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Error(err))
	} else {
		a.log.Debug("api request refused", zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.String("resultcode", e.ResultCode), zap.String("resultdesc", e.ResultDesc))
	}
	status := e.HTTPStatus
	if status == 0 {
		status = httpStatus(e.ResultCode)
	}
	writeJSON(w, status, success{ResultCode: e.ResultCode, ResultDesc: e.ResultDesc})
}

// Result codes the simulator answers with (reference §8).
const (
	codeInvalid        = "1010002"
	codeInternal       = "1010001"
	codeNotAppNumber   = "1011001"
	codeNoNumber       = "1011002"
	codeDuplicate      = "1012008"
	codeNotFound       = "1012007"
	codeExtensionTaken = "1020167"
)

// apiErrorFor maps every error of the API's handlers to the platform's
// result code: the one place where that mapping is made.
func apiErrorFor(err error) *axeapi.APIError {
	var (
		apiErr *axeapi.APIError
		pe     *paramError
	)
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.As(err, &pe):
		return &axeapi.APIError{ResultCode: codeInvalid, ResultDesc: "Invalid request: " + pe.Error()}
	case errors.Is(err, ErrBindingNotFound), errors.Is(err, ErrRecordingNotFound):
		return &axeapi.APIError{ResultCode: codeNotFound, ResultDesc: "The record does not exist"}
	case errors.Is(err, ErrExtensionTaken):
		return &axeapi.APIError{ResultCode: codeExtensionTaken, ResultDesc: "No idle extend Number"}
	case errors.Is(err, ErrDuplicateBinding):
		return &axeapi.APIError{ResultCode: codeDuplicate, ResultDesc: "Insufficient number resources: bindNum already bound on this virtualNum"}
	default:
		return &axeapi.APIError{ResultCode: codeInternal, ResultDesc: "Internal error"}
	}
}

// httpStatus is the HTTP status of a failure code. 400 for the auth-header
// family and 500 for internal errors are documented; 403 for 1010002 is
// seen in Huawei's result-code tables. The rest are UNCONFIRMED ("?" in
// reference §8): the other authentication codes share the auth family's
// 400, every other refusal shares 1010002's 403. Clients must go by the
// result code, never by the status alone.
func httpStatus(code string) int {
	switch {
	case code == codeInternal || code == "1023001" || code == "1023002":
		return http.StatusInternalServerError
	case strings.HasPrefix(code, "10230"),
		code == "1010003", code == "1010012", code == "1010013", code == "1020176":
		return http.StatusBadRequest
	default:
		return http.StatusForbidden
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // only the simulator's own types are marshalled
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", axeapi.ContentType)
	w.WriteHeader(status)
	_, _ = w.Write(body) // a client gone away is not the simulator's problem
}
