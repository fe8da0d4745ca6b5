package report

import (
	"fmt"
	"html/template"
	"io"
	"time"

	"github.com/pnstream/pnstream/internal/privatenumber"
)

// page is the HTML of a report. Everything is inline; the SVG namespace URI
// is an identifier, not a fetch.
var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>pnstream report {{.From}} to {{.To}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;color:#212121}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #e0e0e0;padding-bottom:4px}
.meta{color:#616161;font-size:13px} svg{width:100%;height:auto}
.kpis{display:flex;gap:16px;flex-wrap:wrap;margin-top:16px}
.kpi{border:1px solid #e0e0e0;border-radius:6px;padding:10px 16px;min-width:150px}
.kpi b{display:block;font-size:24px} .kpi span{color:#616161;font-size:12px}
.legend span{display:inline-block;margin-right:14px;font-size:12px} .legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
table{border-collapse:collapse;font-size:13px;width:100%} td,th{border-bottom:1px solid #eeeeee;padding:4px 8px;text-align:left} td.n{text-align:right}
</style></head><body>
<h1>pnstream: calls and recording archive</h1>
<div class="meta">Calls from {{.From}} to {{.To}} (UTC) · generated {{.Generated}}</div>
<div class="kpis">
<div class="kpi"><b id="seizures">{{.T.Seizures}}</b><span>calls (seizures)</span></div>
<div class="kpi"><b id="asr">{{.ASR}}</b><span>answer-seizure ratio</span></div>
<div class="kpi"><b>{{.T.Unanswered}}</b><span>unanswered</span></div>
<div class="kpi"><b>{{.T.Failed}}</b><span>failed</span></div>
<div class="kpi"><b id="archived">{{.Archived}}</b><span>of {{.T.Recorded}} recordings archived</span></div>
<div class="kpi"><b id="unusable">{{len .Unusable}}</b><span>X numbers not usable now</span></div>
</div>
<h2>Calls per hour</h2>
<div class="legend"><span><i style="background:#2e7d32"></i>answered</span><span><i style="background:#f9a825"></i>unanswered</span><span><i style="background:#c62828"></i>failed</span></div>
{{.CallsChart}}
<h2>Answer rate per hour</h2>
{{.ASRChart}}
<h2>Top failure reasons</h2>
{{.ReasonsChart}}
<table><tr><th>code</th><th>description</th><th>category</th><th>calls</th></tr>
{{range .Reasons}}<tr><td>{{.Kind}} {{.Code}}</td><td>{{.Description}}</td><td>{{.Category}}</td><td class="n">{{.Calls}}</td></tr>
{{end}}</table>
<h2>Recording archive coverage per day</h2>
<div class="legend"><span><i style="background:#2e7d32"></i>archived</span><span><i style="background:#c62828"></i>failed</span><span><i style="background:#9e9e9e"></i>pending</span></div>
{{.CoverageChart}}
<table><tr><th>day</th><th>recorded</th><th>archived</th><th>failed</th><th>pending</th></tr>
{{range .Coverage}}<tr><td>{{.Day.Format "2006-01-02"}}</td><td class="n">{{.Recorded}}</td><td class="n">{{.Archived}}</td><td class="n">{{.Failed}}</td><td class="n">{{.Pending}}</td></tr>
{{end}}</table>
<h2>X numbers not usable now</h2>
<div class="meta">From the platform's X-number status pushes. Not usable: any cause but 6 (restriction lifted), an UNCONFIRMED reading of the platform's documentation; status codes as sent. Since: when that state was last pushed (UTC).</div>
{{if .Unusable}}<table><tr><th>number</th><th>status</th><th>cause</th><th>meaning</th><th>since</th></tr>
{{range .Unusable}}<tr><td>{{.Number}}</td><td>{{.Status}}</td><td>{{.Cause}}</td><td>{{.Meaning}}</td><td>{{.Since}}</td></tr>
{{end}}</table>{{else}}<p id="all-usable">Every X number the platform reported is usable.</p>{{end}}
</body></html>
`))

// unusableRow is an X number not usable, as the report shows it.
type unusableRow struct{ Number, Status, Cause, Meaning, Since string }

// Render writes d as a self-contained HTML page.
func Render(w io.Writer, d Data) error {
	t := d.Totals()
	hourLabels := make([]string, len(d.Hours))
	answered, unanswered, failed, asr := make([]float64, len(d.Hours)), make([]float64, len(d.Hours)), make([]float64, len(d.Hours)), make([]float64, len(d.Hours))
	for i, h := range d.Hours {
		hourLabels[i] = h.Hour.Format("01-02 15h")
		answered[i], unanswered[i], failed[i] = float64(h.Answered), float64(h.Unanswered), float64(h.Failed)
		asr[i] = ratio(h.Answered, h.Seizures())
	}
	reasonLabels, reasonCalls := make([]string, len(d.Reasons)), make([]float64, len(d.Reasons))
	for i, r := range d.Reasons {
		reasonLabels[i] = fmt.Sprintf("%s %d %s", r.Kind, r.Code, r.Description)
		reasonCalls[i] = float64(r.Calls)
	}
	dayLabels := make([]string, len(d.Coverage))
	arch, fail, pend := make([]float64, len(d.Coverage)), make([]float64, len(d.Coverage)), make([]float64, len(d.Coverage))
	for i, c := range d.Coverage {
		dayLabels[i] = c.Day.Format("2006-01-02")
		arch[i], fail[i], pend[i] = float64(c.Archived), float64(c.Failed), float64(c.Pending)
	}
	unusable := make([]unusableRow, len(d.Unusable))
	for i, n := range d.Unusable {
		unusable[i] = unusableRow{Number: n.Number, Status: n.Status, Cause: n.Cause,
			Meaning: privatenumber.CauseMeaning(n.Cause), Since: n.Since.UTC().Format(time.DateTime)}
	}
	view := struct {
		Data
		Unusable                                          []unusableRow
		T                                                 Totals
		From, To, Generated                               string
		ASR, Archived                                     string
		CallsChart, ASRChart, ReasonsChart, CoverageChart template.HTML
	}{
		Data: d, T: t, Unusable: unusable,
		From: d.From.Format(time.DateTime), To: d.To.Format(time.DateTime), Generated: d.Generated.Format(time.RFC3339),
		ASR: fmt.Sprintf("%.1f%%", t.ASR()*100), Archived: fmt.Sprintf("%.1f%%", t.ArchivedShare()*100),
		CallsChart: stackedBars("calls per hour by outcome", hourLabels, []series{
			{"answered", colorAnswered, answered}, {"unanswered", colorUnanswered, unanswered}, {"failed", colorFailed, failed}}),
		ASRChart:     line("answer-seizure ratio per hour", hourLabels, asr),
		ReasonsChart: hbars("top failure reasons", reasonLabels, reasonCalls, colorFailed),
		CoverageChart: stackedBars("recording coverage per day", dayLabels, []series{
			{"archived", colorAnswered, arch}, {"failed", colorFailed, fail}, {"pending", colorPending, pend}}),
	}
	if err := page.Execute(w, view); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return nil
}
