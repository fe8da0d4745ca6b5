package console_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pnstream/pnstream/internal/audit"
	"github.com/pnstream/pnstream/internal/casefile"
	"github.com/pnstream/pnstream/internal/console"
	"github.com/pnstream/pnstream/internal/testenv"
)

// newBrowser starts headless Debian chromium with a fresh profile, closed
// when the test ends. The machine's network is closed: nothing in the
// browser may reach out (no QUIC, background networking, updates, sync).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not installed (make deps installs it): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// session is the browser's tab signed in to one console.
type session struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// login signs the browser's tab in to the console at base with the token.
// The consoles of a test share the host, so their cookies: a login
// replaces the session of the console signed in before. (A browser context
// of its own per console would keep them apart, but pages of a context
// made with chromedp v0.23.0's WithNewBrowserContext stop answering after
// their first navigation.)
func login(t *testing.T, browser context.Context, base string) *session {
	t.Helper()
	s := &session{t: t, ctx: browser, base: base}
	s.open("/login", "#token")
	s.do(
		chromedp.SendKeys("#token", token), chromedp.Click("#signin"), chromedp.WaitVisible("#who"))
	return s
}

// open loads path and waits until the page is complete and shows sel. It
// sets location rather than using chromedp.Navigate, whose wait for the
// load event stalled now and then on this machine.
func (s *session) open(path, sel string) {
	s.t.Helper()
	target := s.base + path
	run(s, chromedp.Evaluate[string](`location.href = `+jsonArgs(s.t, target)))
	// The page's script context changes while it navigates: an evaluation
	// may fail then, and is tried again.
	testenv.Eventually(s.t, 30*time.Second, func() (bool, string) {
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`location.href === `+jsonArgs(s.t, target)+` && document.readyState === 'complete' && document.querySelector(`+jsonArgs(s.t, sel)+`) !== null`))
		return err == nil && ok, fmt.Sprintf("%s loaded and showing %s: %t (%v)", path, sel, ok, err)
	})
	s.do(chromedp.WaitVisible(sel))
}

// do runs steps with a deadline.
func (s *session) do(steps ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	run(s, chromedp.Steps(steps...))
}

// run runs a with a deadline and returns its value.
func run[T any](s *session, a chromedp.Action[T]) T {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		// What the page showed, to see why.
		dump, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		defer cancel()
		html, _ := chromedp.Run(dump, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		s.t.Fatalf("%v; the page:\n%s", err, html)
	}
	return v
}

// text returns the text of the first node matching sel.
func (s *session) text(sel string) string {
	s.t.Helper()
	return strings.TrimSpace(run(s, chromedp.Text(sel, chromedp.NodeVisible)))
}

// fetched is what fetchJS returns.
type fetched struct {
	Status      int    `json:"status"`
	Type        string `json:"type"`
	Disposition string `json:"disposition"`
	Body        string `json:"body"` // base64
}

// fetch requests path from the page, as its own script would: with the
// browser's cookies, Origin and Sec-Fetch-Site. A POST sends form with the
// page's CSRF token.
func (s *session) fetch(method, path string, form map[string]string, header map[string]string) (fetched, []byte) {
	s.t.Helper()
	js := `(async (method, path, form, header) => {
		const init = {method, headers: header || {}};
		if (method === 'POST') {
			const f = new URLSearchParams(form || {});
			f.append('csrf', document.querySelector('input[name=csrf]').value);
			init.body = f;
		}
		const r = await fetch(path, init);
		const b = new Uint8Array(await r.arrayBuffer());
		let bin = '';
		for (let i = 0; i < b.length; i += 8192) bin += String.fromCharCode.apply(null, b.subarray(i, i + 8192));
		return {status: r.status, type: r.headers.get('content-type') || '', disposition: r.headers.get('content-disposition') || '', body: btoa(bin)};
	})(` + jsonArgs(s.t, method, path, form, header) + `)`
	f := run(s, chromedp.Evaluate[fetched](js, chromedp.EvalAwaitPromise))
	body, err := base64.StdEncoding.DecodeString(f.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return f, body
}

// screenshot saves the page as docs/screenshots/<name>.png when
// PN_CONSOLE_SCREENSHOTS names a directory, else in a temporary one.
func (s *session) screenshot(name string) {
	s.t.Helper()
	png := run(s, chromedp.FullScreenshot(100))
	dir := os.Getenv("PN_CONSOLE_SCREENSHOTS")
	if dir == "" {
		dir = s.t.TempDir()
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// An officer finds a simulated call by its X, opens it, plays the
// recording, sees its SHA-256 verified, downloads it, puts it under legal
// hold, sees it listed, exports it and verifies the case file's manifest,
// then releases the hold; a viewer cannot export; an auditor reads it all
// in the access log, which holds every access.
func TestBrowserOfficerViewerAuditor(t *testing.T) {
	w := simulate(t, 12)
	icid, x, caller := w.recordedCall(t)
	browser := newBrowser(t)

	officer := login(t, browser, w.console(t, console.RoleOfficer).URL)
	officer.open("/search", "#x")
	officer.do(chromedp.SendKeys("#x", x))
	officer.do(chromedp.Click("#search"))
	officer.do(chromedp.WaitVisible("#results"))
	officer.screenshot("search")
	officer.do(chromedp.Click(`a.call[href="/calls/`+icid+`"]`), chromedp.WaitVisible("#player"))

	// The player loads the audio through the console (ranges) and knows
	// its length; then it plays.
	duration := run(officer, chromedp.PollFunction[float64](`() => { const a = document.getElementById('player'); return a.duration > 0 && isFinite(a.duration) ? a.duration : 0; }`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if duration <= 0 {
		t.Fatalf("audio duration %v", duration)
	}
	playing := run(officer, chromedp.Evaluate[bool](`document.getElementById('player').play().then(() => !document.getElementById('player').paused)`, chromedp.EvalAwaitPromise))
	if !playing {
		t.Error("the player did not start")
	}
	if got := officer.text("#integrity"); got != "match" {
		t.Errorf("integrity %q, want match", got)
	}
	if got := officer.text("#outcome"); got == "" {
		t.Error("no outcome on the call page")
	}
	events := run(officer, chromedp.Evaluate[int](`document.querySelectorAll('#timeline tr.event').length`))
	if events == 0 {
		t.Error("no call event on the timeline")
	}
	officer.screenshot("call")

	// A range request, as the player seeks, and the download.
	f, body := officer.fetch("GET", "/calls/"+icid+"/audio", nil, map[string]string{"Range": "bytes=0-99"})
	if f.Status != 206 || len(body) != 100 || !bytes.HasPrefix(body, []byte("RIFF")) {
		t.Errorf("range request: %d, %d bytes %q", f.Status, len(body), body[:min(len(body), 4)])
	}
	f, body = officer.fetch("GET", "/calls/"+icid+"/download", nil, nil)
	if f.Status != 200 || !strings.Contains(f.Disposition, "attachment") || len(body) < 1000 {
		t.Errorf("download: %d %q, %d bytes", f.Status, f.Disposition, len(body))
	}

	// Legal hold.
	if got := officer.text("#hold"); got != "not held" {
		t.Errorf("hold state %q before putting the hold", got)
	}
	officer.do(chromedp.SendKeys("#hold-reason", "case 2026-117"), chromedp.Click("#put-hold"), chromedp.WaitVisible("#release"))
	if got := officer.text("#hold"); got != "held" {
		t.Errorf("hold state %q after putting the hold", got)
	}
	officer.open("/holds", "#holds")
	if got := officer.text("#holds"); !strings.Contains(got, icid) || !strings.Contains(got, "case 2026-117") {
		t.Errorf("holds view lacks the hold: %q", got)
	}
	officer.screenshot("holds")

	// Export: the case file and its manifest.
	officer.open("/calls/"+icid, "#export-call")
	f, body = officer.fetch("POST", "/export", map[string]string{"icid": icid}, nil)
	if f.Status != 200 || f.Type != "application/zip" {
		t.Fatalf("export: %d %s", f.Status, f.Type)
	}
	m, err := casefile.Verify(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("the exported case file does not verify: %v", err)
	}
	if !slices.Equal(m.ICIDs, []string{icid}) || len(m.Recordings) != 1 || !m.Recordings[0].Match || len(m.Problems) != 0 {
		t.Errorf("manifest %+v", m)
	}

	// Number search works under raw numbers.
	officer.open("/search?number="+url.QueryEscape(caller)+"&all=1", "#results")
	if got := officer.text("#results"); !strings.Contains(got, icid) {
		t.Errorf("search by the caller's number lacks %s", icid)
	}

	// A viewer sees the call but no officer action, and is refused export.
	viewer := login(t, browser, w.console(t, console.RoleViewer).URL)
	viewer.open("/calls/"+icid, "#player")
	officerControls := run(viewer, chromedp.Evaluate[int](`document.querySelectorAll('#export-call, #put-hold, #release').length`))
	if officerControls != 0 {
		t.Errorf("a viewer sees %d officer controls", officerControls)
	}
	if f, _ := viewer.fetch("POST", "/export", map[string]string{"icid": icid}, nil); f.Status != 403 {
		t.Errorf("viewer export: %d, want 403", f.Status)
	}

	// Erasure of the caller's data keeps the held call, item by item.
	officer = login(t, browser, officer.base)
	officer.open("/erase", "#erase-number")
	officer.do(chromedp.SendKeys("#erase-number", caller), chromedp.Click("#erase-confirm"), chromedp.Click("#erase"),
		chromedp.WaitVisible("#erase-summary"))
	if report := officer.text("#erasure"); !strings.Contains(report, "kept") || !strings.Contains(report, icid) {
		t.Errorf("erasure report lacks the held call %s kept:\n%s", icid, report)
	}
	officer.screenshot("erasure")

	// Release, so that the bucket can be removed.
	officer.open("/calls/"+icid, "#release-reason")
	officer.do(chromedp.SendKeys("#release-reason", "case closed"), chromedp.Click("#release"), chromedp.WaitVisible("#put-hold"))

	// The auditor's view.
	auditor := login(t, browser, w.console(t, console.RoleAuditor).URL)
	auditor.open("/audit", "#access-log")
	logText := auditor.text("#access-log")
	for _, want := range []string{"officer-user", "viewer-user", "refused", "export", "hold", "play"} {
		if !strings.Contains(logText, want) {
			t.Errorf("access log page lacks %q", want)
		}
	}
	auditor.screenshot("audit")

	// The rows: every access, by whom.
	entries, err := w.log.List(context.Background(), audit.Filter{Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	did := map[string][]string{}
	for _, e := range entries {
		did[e.Who] = append(did[e.Who], e.Action)
		if e.From == "" || e.Role == "" {
			t.Errorf("entry without origin or role: %+v", e)
		}
	}
	for who, actions := range map[string][]string{
		"officer-user": {audit.ActionLogin, audit.ActionSearch, audit.ActionView, audit.ActionPlay, audit.ActionDownload, audit.ActionHold, audit.ActionExport, audit.ActionErase, audit.ActionRelease},
		"viewer-user":  {audit.ActionLogin, audit.ActionView, audit.ActionRefused},
		"auditor-user": {audit.ActionLogin, audit.ActionAudit},
	} {
		for _, a := range actions {
			if !slices.Contains(did[who], a) {
				t.Errorf("access log: no %s by %s (has %v)", a, who, did[who])
			}
		}
	}
	refused, err := w.log.List(context.Background(), audit.Filter{Who: "viewer-user", Action: audit.ActionRefused})
	if err != nil || len(refused) != 1 || !strings.Contains(refused[0].Detail, "export") {
		t.Errorf("viewer's refusal: %+v %v", refused, err)
	}
}

// jsonArgs renders Go values as a JavaScript argument list.
func jsonArgs(t *testing.T, args ...any) string {
	t.Helper()
	var parts []string
	for _, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, string(b))
	}
	return strings.Join(parts, ", ")
}
