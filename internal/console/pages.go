package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/audit"
	"github.com/pnstream/pnstream/internal/pii"
)

// timeLayout is how the pages show times (UTC) and read the time fields.
const (
	timeLayout  = "2006-01-02 15:04:05"
	inputLayout = "2006-01-02T15:04"
)

var funcs = template.FuncMap{
	"utc": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(timeLayout)
	},
	"utcp": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.UTC().Format(timeLayout)
	},
	"join":  strings.Join,
	"deref": func(b *bool) bool { return b != nil && *b },
}

// parsePages parses each page with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := templateFS.ReadDir("templates")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(n.Name(), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+n.Name())
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// view is what the layout needs besides the page's own data.
type view struct {
	Title string
	P     Principal
	CSRF  string
	// Officer, Auditor: which links and buttons the layout shows.
	Officer, Auditor bool
	Data             any
}

// render writes page with data; it buffers so that a template error is a
// clean 500, not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, p Principal, page, title string, data any) {
	var buf bytes.Buffer
	v := view{Title: title, P: p, CSRF: s.auth.csrfToken(r, p.User), Officer: p.Has(RoleOfficer), Auditor: p.Has(RoleAuditor), Data: data}
	if err := s.pages[page].Execute(&buf, v); err != nil {
		s.fail(w, "render "+page, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = buf.WriteTo(w)
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Token == "" {
		http.Error(w, "token login is off: sign in through the auth proxy", http.StatusNotFound)
		return
	}
	s.render(w, r, Principal{}, "login", "Sign in", map[string]string{})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	anon := Principal{User: "anonymous", From: s.auth.from(r)}
	if s.cfg.Token == "" {
		http.Error(w, "token login is off", http.StatusNotFound)
		return
	}
	if !s.auth.csrfValid(r, "") {
		if s.record(w, r, anon, audit.ActionRefused, "POST /login", "missing or wrong CSRF token") {
			http.Error(w, "refused: missing or wrong CSRF token", http.StatusForbidden)
		}
		return
	}
	if !s.auth.tokenMatches(r.PostFormValue("token")) {
		if s.record(w, r, anon, audit.ActionRefused, "POST /login", "wrong token") {
			w.WriteHeader(http.StatusForbidden)
			s.render(w, r, Principal{}, "login", "Sign in", map[string]string{"Error": "Wrong token."})
		}
		return
	}
	p := Principal{User: s.cfg.TokenUser, Roles: []string{s.cfg.TokenRole}, From: anon.From}
	if !s.record(w, r, p, audit.ActionLogin, "", "static token") {
		return
	}
	http.SetCookie(w, s.auth.cookie(sessionCookie, s.auth.sessionValue(p.User, s.cfg.TokenRole), int(s.cfg.SessionTTL.Seconds())))
	http.Redirect(w, r, home(p), http.StatusSeeOther)
}

// home is the first page of p: the search, or the access log for an
// auditor who may not search.
func home(p Principal) string {
	if !p.Has(RoleViewer) && p.Has(RoleAuditor) {
		return "/audit"
	}
	return "/search"
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, _ Principal) {
	http.SetCookie(w, s.auth.cookie(sessionCookie, "", -1))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// searchForm is the search page's fields as typed.
type searchForm struct {
	Number, X, SessionID, ICID, SubscriptionID, From, To, Outcome string
	Page                                                          int
}

// searchPage is the search page's data.
type searchPage struct {
	Form           searchForm
	Outcomes       []string
	NumberSearch   bool // false under masked numbers
	Mode           string
	Searched       bool
	Rows           []CallRow
	Prev, Next     string // page links, empty when none
	Error          string
	ExportDisabled bool
}

func (f searchForm) empty() bool {
	return f.Number == "" && f.X == "" && f.SessionID == "" && f.ICID == "" && f.SubscriptionID == "" && f.From == "" && f.To == "" && f.Outcome == ""
}

// query turns the form into a Query under policy, or says what is wrong.
func (f searchForm) query(policy pii.Policy, limit int) (Query, string) {
	q := Query{X: f.X, SessionID: f.SessionID, ICID: f.ICID, SubscriptionID: f.SubscriptionID, Limit: limit + 1, Offset: f.Page * limit}
	if f.Number != "" {
		if policy.Mode() == pii.ModeMasked {
			return q, "Numbers are stored masked, so a search by subscriber number is unavailable: search by X, time, sessionId, icid or subscriptionId."
		}
		q.Number = policy.Number(f.Number)
	}
	var err error
	if f.From != "" {
		if q.From, err = time.Parse(inputLayout, f.From); err != nil {
			return q, "From: want a date and time."
		}
	}
	if f.To != "" {
		if q.To, err = time.Parse(inputLayout, f.To); err != nil {
			return q, "To: want a date and time."
		}
	}
	if f.Outcome != "" && f.Outcome != "answered" && f.Outcome != "unanswered" && f.Outcome != "failed" {
		return q, "Outcome: answered, unanswered or failed."
	}
	return q, ""
}

// criteria describes q for the access log: the stored form of a number.
func (q Query) criteria() string {
	var parts []string
	for _, kv := range [][2]string{{"number", q.Number}, {"x", q.X}, {"session", q.SessionID}, {"icid", q.ICID}, {"subscription", q.SubscriptionID}, {"outcome", q.Outcome}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	if !q.From.IsZero() {
		parts = append(parts, "from="+q.From.Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		parts = append(parts, "to="+q.To.Format(time.RFC3339))
	}
	return strings.Join(parts, " ")
}

func (s *Server) search(w http.ResponseWriter, r *http.Request, p Principal) {
	v := r.URL.Query()
	f := searchForm{Number: strings.TrimSpace(v.Get("number")), X: strings.TrimSpace(v.Get("x")), SessionID: strings.TrimSpace(v.Get("session")),
		ICID: strings.TrimSpace(v.Get("icid")), SubscriptionID: strings.TrimSpace(v.Get("subscription")),
		From: v.Get("from"), To: v.Get("to"), Outcome: v.Get("outcome")}
	f.Page, _ = strconv.Atoi(v.Get("page"))
	f.Page = max(f.Page, 0)
	data := searchPage{Form: f, Outcomes: Outcomes, NumberSearch: s.deps.PII.Mode() != pii.ModeMasked, Mode: s.deps.PII.Mode(),
		ExportDisabled: s.deps.Exporter == nil}
	if f.empty() && v.Get("all") == "" {
		s.render(w, r, p, "search", "Search calls", data)
		return
	}
	q, problem := f.query(s.deps.PII, s.cfg.PageSize)
	if problem != "" {
		data.Error = problem
		w.WriteHeader(http.StatusBadRequest)
		s.render(w, r, p, "search", "Search calls", data)
		return
	}
	if !s.record(w, r, p, audit.ActionSearch, q.criteria(), "page "+strconv.Itoa(f.Page)) {
		return
	}
	rows, err := s.calls.Search(r.Context(), q)
	if err != nil {
		s.fail(w, "search", err)
		return
	}
	data.Searched = true
	if len(rows) > s.cfg.PageSize {
		rows = rows[:s.cfg.PageSize]
		data.Next = pageLink(v, f.Page+1)
	}
	if f.Page > 0 {
		data.Prev = pageLink(v, f.Page-1)
	}
	data.Rows = rows
	s.render(w, r, p, "search", "Search calls", data)
}

func pageLink(v url.Values, page int) string {
	c := url.Values{}
	for k, vs := range v {
		c[k] = vs
	}
	c.Set("page", strconv.Itoa(page))
	return "/search?" + c.Encode()
}

// callPage is the call page's data.
type callPage struct {
	Call     *Call
	Timeline []timelineItem
	Verify   *Verification
	// Held is nil when holds are not available or there is no recording.
	Held      *bool
	HoldError string
}

// timelineItem is one line of a call's timeline: an event or a CDR time.
type timelineItem struct {
	At     time.Time
	Source string // "event" or "CDR"
	What   string
	Detail string
}

// timeline merges the call's events and CDR times, in time order.
func timeline(c *Call) []timelineItem {
	var out []timelineItem
	for _, e := range c.Events {
		d := ""
		if e.StateCode != nil {
			d = fmt.Sprintf("stateCode %d", *e.StateCode)
			if e.StateMeaning != "" {
				d += ": " + e.StateMeaning
			}
		}
		if e.DigitInfo != "" {
			d = strings.TrimSpace(d + " digits " + e.DigitInfo)
		}
		out = append(out, timelineItem{At: e.At, Source: "event", What: e.Type, Detail: d})
	}
	for _, t := range []struct {
		what string
		at   *time.Time
	}{{"callInTime", &c.CallIn}, {"fwdStartTime", c.FwdStart}, {"fwdAlertingTime", c.FwdAlerting}, {"fwdAnswerTime", c.FwdAnswer},
		{"recordStartTime", c.RecordStart}, {"failTime", c.Fail}, {"callEndTime", c.CallEnd}} {
		if t.at != nil {
			out = append(out, timelineItem{At: *t.at, Source: "CDR", What: t.what})
		}
	}
	// Stable: at one second, events before the CDR's times, each in order.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].At.Before(out[j-1].At); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func (s *Server) call(w http.ResponseWriter, r *http.Request, p Principal) {
	icid := r.PathValue("icid")
	if !s.record(w, r, p, audit.ActionView, icid, "") {
		return
	}
	c, err := s.calls.Call(r.Context(), icid)
	if err == errNoCall {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, "read call", err)
		return
	}
	data := callPage{Call: c, Timeline: timeline(c)}
	if c.Recording != nil && c.Recording.Status == "archived" {
		v := s.archive.verify(r.Context(), c.Recording)
		data.Verify = &v
		if s.deps.Holds != nil {
			held, err := s.deps.Holds.Held(r.Context(), c.Recording)
			if err != nil {
				data.HoldError = "hold state unknown"
				s.log.Warn("read legal hold", zap.String("icid", icid), zap.Error(err))
			} else {
				data.Held = &held
			}
		}
	}
	s.render(w, r, p, "call", "Call "+icid, data)
}

// recordingOf returns icid's archived recording, answering 404 when none.
func (s *Server) recordingOf(w http.ResponseWriter, r *http.Request, icid string) *Recording {
	rec, err := s.calls.recording(r.Context(), icid)
	if err != nil {
		s.fail(w, "read recording", err)
		return nil
	}
	if rec == nil || rec.Status != "archived" {
		http.Error(w, "no archived recording", http.StatusNotFound)
		return nil
	}
	return rec
}

func (s *Server) audio(w http.ResponseWriter, r *http.Request, p Principal) {
	s.serveRecording(w, r, p, audit.ActionPlay, false)
}

func (s *Server) download(w http.ResponseWriter, r *http.Request, p Principal) {
	s.serveRecording(w, r, p, audit.ActionDownload, true)
}

// serveRecording streams the recording from S3 through the console, with
// HTTP range requests (the player seeks), after recording the access.
func (s *Server) serveRecording(w http.ResponseWriter, r *http.Request, p Principal, action string, attachment bool) {
	icid := r.PathValue("icid")
	if !s.record(w, r, p, action, icid, r.Header.Get("Range")) {
		return
	}
	rec := s.recordingOf(w, r, icid)
	if rec == nil {
		return
	}
	obj, info, err := s.archive.open(r.Context(), rec)
	if err != nil {
		s.fail(w, "open recording", err)
		return
	}
	defer obj.Close()
	ct := rec.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("ETag", `"`+rec.SHA256+`"`)
	if attachment {
		name := icid + path.Ext(rec.ObjectKey)
		w.Header().Set("Content-Disposition", `attachment; filename="`+strings.NewReplacer(`"`, "", "\\", "").Replace(name)+`"`)
	}
	http.ServeContent(w, r, "", info.LastModified, obj)
}
