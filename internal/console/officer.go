package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/pnstream/pnstream/internal/audit"
)

// maxExport bounds the calls of one export.
const maxExport = 500

func (s *Server) hold(w http.ResponseWriter, r *http.Request, p Principal) {
	s.setHold(w, r, p, audit.ActionHold)
}

func (s *Server) release(w http.ResponseWriter, r *http.Request, p Principal) {
	s.setHold(w, r, p, audit.ActionRelease)
}

// setHold puts or releases the legal hold of a call's recording.
func (s *Server) setHold(w http.ResponseWriter, r *http.Request, p Principal, action string) {
	icid := r.PathValue("icid")
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if s.deps.Holds == nil {
		http.Error(w, "legal holds are not available", http.StatusNotImplemented)
		return
	}
	if reason == "" {
		w.WriteHeader(http.StatusBadRequest)
		s.render(w, r, p, "error", "Reason required", map[string]string{"Message": "A legal hold needs a reason (a case reference).", "Back": "/calls/" + url.PathEscape(icid)})
		return
	}
	if !s.record(w, r, p, action, icid, reason) {
		return
	}
	var err error
	if action == audit.ActionHold {
		err = s.deps.Holds.Put(r.Context(), icid, p.User, reason)
	} else {
		err = s.deps.Holds.Release(r.Context(), icid, p.User, reason)
	}
	if err != nil {
		s.log.Warn("legal hold", zap.String("icid", icid), zap.String("action", action), zap.Error(err))
		w.WriteHeader(http.StatusConflict)
		s.render(w, r, p, "error", "Legal hold", map[string]string{"Message": action + " failed: " + err.Error(), "Back": "/calls/" + url.PathEscape(icid)})
		return
	}
	http.Redirect(w, r, "/calls/"+url.PathEscape(icid), http.StatusSeeOther)
}

func (s *Server) holds(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.deps.Holds == nil {
		http.Error(w, "legal holds are not available", http.StatusNotImplemented)
		return
	}
	if !s.record(w, r, p, audit.ActionView, "holds", "") {
		return
	}
	rows, err := s.deps.Holds.List(r.Context())
	if err != nil {
		s.fail(w, "list holds", err)
		return
	}
	s.render(w, r, p, "holds", "Legal holds", rows)
}

func (s *Server) export(w http.ResponseWriter, r *http.Request, p Principal) {
	if s.deps.Exporter == nil {
		http.Error(w, "export is not available", http.StatusNotImplemented)
		return
	}
	icids := r.PostForm["icid"]
	if len(icids) == 0 || len(icids) > maxExport {
		w.WriteHeader(http.StatusBadRequest)
		s.render(w, r, p, "error", "Export", map[string]string{"Message": "Select between 1 and " + strconv.Itoa(maxExport) + " calls to export.", "Back": "/search"})
		return
	}
	if !s.record(w, r, p, audit.ActionExport, strings.Join(icids, ","), strconv.Itoa(len(icids))+" calls") {
		return
	}
	name := "case-" + time.Now().UTC().Format("20060102T150405Z") + ".zip"
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if _, err := s.deps.Exporter.Export(r.Context(), w, icids); err != nil {
		// The zip is cut short; without its manifest's end it does not
		// open, so a partial case file cannot pass for a whole one.
		s.log.Error("export", zap.Int("calls", len(icids)), zap.Error(err))
	}
}

func (s *Server) eraseForm(w http.ResponseWriter, r *http.Request, p Principal) {
	s.render(w, r, p, "erase", "Erase a subscriber's data", eraseData{Available: s.deps.Eraser != nil, Mode: s.deps.PII.Mode()})
}

// eraseData is the erasure page's data.
type eraseData struct {
	Available bool
	Mode      string
	Number    string
	DryRun    bool
	Done      bool
	Report    ErasureReport
	Error     string
}

func (s *Server) erase(w http.ResponseWriter, r *http.Request, p Principal) {
	number := strings.TrimSpace(r.PostFormValue("number"))
	dryRun := r.PostFormValue("dryrun") == "yes"
	data := eraseData{Available: s.deps.Eraser != nil, Mode: s.deps.PII.Mode(), Number: number, DryRun: dryRun}
	if s.deps.Eraser == nil || number == "" || (!dryRun && r.PostFormValue("confirm") != "yes") {
		data.Error = "Type the subscriber's number, and tick the confirmation or ask for a dry run."
		w.WriteHeader(http.StatusBadRequest)
		s.render(w, r, p, "erase", "Erase a subscriber's data", data)
		return
	}
	// The request is recorded before anything is read; package erasure
	// records the outcome with its summary.
	detail := "requested"
	if dryRun {
		detail = "dry run requested"
	}
	if !s.record(w, r, p, audit.ActionErase, s.deps.PII.Number(number), detail) {
		return
	}
	rep, err := s.deps.Eraser.Erase(r.Context(), number, dryRun, p.User, p.From)
	data.Done, data.Report = true, rep
	if err != nil {
		s.log.Warn("erase", zap.Error(err))
		data.Error = "The erasure stopped: " + err.Error() + ". What it did is listed below; run it again to finish."
	}
	s.render(w, r, p, "erase", "Erasure report", data)
}

// auditPage is the access log page's data.
type auditPage struct {
	Who, Action, Target, From, To string
	Entries                       []audit.Entry
	Prev, Next                    string
	Actions                       []string
}

func (s *Server) auditLog(w http.ResponseWriter, r *http.Request, p Principal) {
	v := r.URL.Query()
	page, _ := strconv.Atoi(v.Get("page"))
	page = max(page, 0)
	data := auditPage{Who: v.Get("who"), Action: v.Get("action"), Target: v.Get("target"), From: v.Get("from"), To: v.Get("to"),
		Actions: []string{audit.ActionLogin, audit.ActionSearch, audit.ActionView, audit.ActionPlay, audit.ActionDownload, audit.ActionExport,
			audit.ActionHold, audit.ActionRelease, audit.ActionErase, audit.ActionAudit, audit.ActionRefused}}
	f := audit.Filter{Who: data.Who, Action: data.Action, Target: data.Target, Limit: s.cfg.PageSize + 1, Offset: page * s.cfg.PageSize}
	f.Since, _ = time.Parse(inputLayout, data.From)
	f.Until, _ = time.Parse(inputLayout, data.To)
	if !s.record(w, r, p, audit.ActionAudit, v.Encode(), "") {
		return
	}
	entries, err := s.deps.Audit.List(r.Context(), f)
	if err != nil {
		s.fail(w, "list access log", err)
		return
	}
	if len(entries) > s.cfg.PageSize {
		entries = entries[:s.cfg.PageSize]
		data.Next = auditLink(v, page+1)
	}
	if page > 0 {
		data.Prev = auditLink(v, page-1)
	}
	data.Entries = entries
	s.render(w, r, p, "audit", "Access log", data)
}

func auditLink(v url.Values, page int) string {
	c := url.Values{}
	for k, vs := range v {
		c[k] = vs
	}
	c.Set("page", strconv.Itoa(page))
	return "/audit?" + c.Encode()
}
