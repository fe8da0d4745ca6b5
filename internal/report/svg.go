package report

import (
	"fmt"
	"html/template"
	"strings"
)

// Colours of the outcomes, the same in every chart and legend.
const (
	colorAnswered   = "#2e7d32"
	colorUnanswered = "#f9a825"
	colorFailed     = "#c62828"
	colorPending    = "#9e9e9e"
	colorLine       = "#1565c0"
)

// series is one stacked part of a bar chart.
type series struct {
	name   string
	color  string
	values []float64
}

// chart geometry, in SVG user units; the page scales the SVG to its width.
const (
	chartW, chartH = 1000.0, 260.0
	padL, padB     = 50.0, 40.0
	padT, padR     = 10.0, 10.0
)

// stackedBars draws one bar per label, its series stacked, with a y axis
// and up to about 12 x labels. The SVG is built from numbers and escaped
// labels only.
func stackedBars(title string, labels []string, ss []series) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, template.HTMLEscapeString(title))
	maxV := 0.0
	for i := range labels {
		sum := 0.0
		for _, s := range ss {
			sum += s.values[i]
		}
		maxV = max(maxV, sum)
	}
	if maxV == 0 {
		maxV = 1
	}
	plotW, plotH := chartW-padL-padR, chartH-padT-padB
	axes(&b, maxV, plotH, "%.0f")
	n := float64(max(len(labels), 1))
	barW := plotW / n
	every := max(1, len(labels)/12)
	for i, l := range labels {
		x := padL + float64(i)*barW
		y := padT + plotH
		for _, s := range ss {
			h := s.values[i] / maxV * plotH
			y -= h
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %.0f</title></rect>`,
				x+barW*0.1, y, barW*0.8, h, s.color, template.HTMLEscapeString(l), s.name, s.values[i])
		}
		if i%every == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%s</text>`, x+barW/2, chartH-padB+16, template.HTMLEscapeString(l))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec: built above from numbers and escaped text
}

// line draws values (0..1) as a polyline with a percent axis.
func line(title string, labels []string, values []float64) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, template.HTMLEscapeString(title))
	plotW, plotH := chartW-padL-padR, chartH-padT-padB
	axes(&b, 1, plotH, "%.1f")
	step := plotW / float64(max(len(values), 1))
	var pts []string
	for i, v := range values {
		x, y := padL+step*(float64(i)+0.5), padT+plotH-v*plotH
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %.1f%%</title></circle>`, x, y, colorLine, template.HTMLEscapeString(labels[i]), v*100)
	}
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.Join(pts, " "), colorLine)
	every := max(1, len(labels)/12)
	for i, l := range labels {
		if i%every == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle">%s</text>`, padL+step*(float64(i)+0.5), chartH-padB+16, template.HTMLEscapeString(l))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec: built above from numbers and escaped text
}

// hbars draws one horizontal bar per label, longest first as given.
func hbars(title string, labels []string, values []float64, color string) template.HTML {
	const rowH, labelW = 24.0, 420.0
	h := rowH*float64(len(labels)) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, chartW, h, template.HTMLEscapeString(title))
	maxV := 1.0
	for _, v := range values {
		maxV = max(maxV, v)
	}
	for i, l := range labels {
		y := 5 + rowH*float64(i)
		w := values[i] / maxV * (chartW - labelW - 60)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="12" text-anchor="end">%s</text>`, labelW-8, y+16, template.HTMLEscapeString(l))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, labelW, y+3, w, rowH-6, color)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" font-size="12">%.0f</text>`, labelW+w+6, y+16, values[i])
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // #nosec: built above from numbers and escaped text
}

// axes draws the y axis with five ticks from 0 to maxV and the x axis.
func axes(b *strings.Builder, maxV, plotH float64, format string) {
	for i := 0; i <= 4; i++ {
		v := maxV * float64(i) / 4
		y := padT + plotH - plotH*float64(i)/4
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`, padL, y, chartW-padR, y)
		label := fmt.Sprintf(format, v)
		if format == "%.1f" {
			label = fmt.Sprintf("%.0f%%", v*100)
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="11" text-anchor="end">%s</text>`, padL-6, y+4, label)
	}
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#616161"/>`, padL, padT+plotH, chartW-padR, padT+plotH)
}
