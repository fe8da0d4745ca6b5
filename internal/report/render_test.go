package report

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pnstream/pnstream/internal/warehouse"
)

// fixed is a Source with known rows.
type fixed struct{}

var day = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func (fixed) CallsPerHour(context.Context, time.Time, time.Time) ([]warehouse.HourCalls, error) {
	return []warehouse.HourCalls{
		{Hour: day.Add(8 * time.Hour), Answered: 30, Unanswered: 6, Failed: 4},
		{Hour: day.Add(9 * time.Hour), Answered: 10, Unanswered: 5, Failed: 5},
	}, nil
}

func (fixed) TopFailureReasons(context.Context, int) ([]warehouse.FailureReason, error) {
	return []warehouse.FailureReason{
		{Kind: "ulFailReason", Code: 8101, Description: "no answer", Category: "callee", Calls: 7},
		{Kind: "ulFailReason", Code: 9999, Description: "<undocumented & odd>", Category: "", Calls: 2},
	}, nil
}

func (fixed) RecordingCoverage(context.Context, time.Time, time.Time) ([]warehouse.DayCoverage, error) {
	return []warehouse.DayCoverage{{Day: day, Recorded: 20, Archived: 17, Failed: 2, Pending: 1}}, nil
}

func (fixed) NumberStates(_ context.Context, unusableOnly bool) ([]warehouse.NumberState, error) {
	if !unusableOnly {
		panic("the report lists the unusable numbers only")
	}
	return []warehouse.NumberState{
		{Number: "+8617000000001", Status: "9", Cause: "2", Since: day.Add(7 * time.Hour)},
		{Number: "+8617000000002", Status: "10", Cause: "42", Since: day.Add(9 * time.Hour)},
	}, nil
}

func TestRenderIsSelfContainedAndShowsTheNumbers(t *testing.T) {
	d, err := Load(t.Context(), fixed{}, day, day.Add(24*time.Hour), day.Add(25*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := Render(&b, d); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{
		`<b id="seizures">60</b>`,    // 40 + 20 calls
		`<b id="asr">66.7%</b>`,      // 40 answered of 60
		`<b id="archived">85.0%</b>`, // 17 of 20
		"Calls per hour", "Answer rate per hour", "Top failure reasons", "Recording archive coverage per day",
		"<td>ulFailReason 8101</td><td>no answer</td>",
		"&lt;undocumented &amp; odd&gt;", // descriptions are escaped
		"<td>2026-11-20</td><td class=\"n\">20</td><td class=\"n\">17</td><td class=\"n\">2</td><td class=\"n\">1</td>",
		"11-20 08h: 75.0%",       // the answer rate point of the first hour
		`<b id="unusable">2</b>`, // html/template writes + as &#43;
		"<td>&#43;8617000000001</td><td>9</td><td>2</td><td>account in arrears</td><td>2026-11-20 07:00:00</td>",
		"<td>&#43;8617000000002</td><td>10</td><td>42</td><td>unknown cause</td><td>2026-11-20 09:00:00</td>",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if n := strings.Count(html, "<svg"); n != 4 {
		t.Errorf("%d charts, want 4", n)
	}
	// Stacked bars: 2 hours x 3 outcomes, 1 day x 3 states, 2 reasons.
	if n := strings.Count(html, "<rect"); n != 2*3+3+2 {
		t.Errorf("%d bars, want 11", n)
	}
	// Nothing is fetched: no script, stylesheet, image or frame source, and
	// the only URL is the SVG namespace.
	for _, banned := range []string{"<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import"} {
		if strings.Contains(html, banned) {
			t.Errorf("report contains %q: it must be self-contained", banned)
		}
	}
	for _, u := range regexp.MustCompile(`https?://[^"'\s)]+`).FindAllString(html, -1) {
		if u != "http://www.w3.org/2000/svg" {
			t.Errorf("report refers to %s", u)
		}
	}
}

func TestRenderWithoutData(t *testing.T) {
	var b strings.Builder
	if err := Render(&b, Data{From: day, To: day.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `<b id="asr">0.0%</b>`) {
		t.Error("an empty report does not show a 0% answer rate")
	}
	if !strings.Contains(b.String(), `<p id="all-usable">`) {
		t.Error("an empty report does not say every X number is usable")
	}
}
