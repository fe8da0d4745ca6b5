package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Target is what a figure must reach: at least Value times the raw limit
// ("ratio"), or an absolute bound on pnstream's figure ("max", "min").
type Target struct {
	Kind  string  `json:"kind"`
	Value float64 `json:"value"`
}

func (t Target) String() string {
	switch t.Kind {
	case "ratio":
		return fmt.Sprintf("≥ %.2g × raw", t.Value)
	case "max":
		return fmt.Sprintf("< %g", t.Value)
	case "min":
		return fmt.Sprintf("≥ %g", t.Value)
	}
	return ""
}

// Row is one line of the table: a figure of pnstream beside the raw limit
// measured in the same run, one sample per repetition.
type Row struct {
	Stage  string    `json:"stage"`
	Metric string    `json:"metric"`
	RawBy  string    `json:"raw_by,omitempty"` // how the raw limit was measured
	Raw    []float64 `json:"raw,omitempty"`
	PN     []float64 `json:"pnstream"`
	Ratio  []float64 `json:"ratio,omitempty"` // PN/Raw of each repetition
	Target *Target   `json:"target,omitempty"`
	Met    *bool     `json:"met,omitempty"` // on the medians
}

// Report is the outcome of a run.
type Report struct {
	Started  time.Time `json:"started"`
	Machine  string    `json:"machine"`
	Repeat   int       `json:"repeat"`
	Stages   []string  `json:"stages"` // as chosen with -stages, for comparing runs
	Settings string    `json:"settings"`
	Rows     []*Row    `json:"rows"`
}

// add records one repetition's figures; raw 0 means no raw limit.
func (r *Report) add(stage, metric, rawBy string, raw, pn float64, target *Target) {
	var row *Row
	for _, x := range r.Rows {
		if x.Stage == stage && x.Metric == metric {
			row = x
		}
	}
	if row == nil {
		row = &Row{Stage: stage, Metric: metric, RawBy: rawBy, Target: target}
		r.Rows = append(r.Rows, row)
	}
	row.PN = append(row.PN, pn)
	if raw > 0 {
		row.Raw = append(row.Raw, raw)
		row.Ratio = append(row.Ratio, pn/raw)
	}
	row.Met = row.met()
}

func (row *Row) met() *bool {
	if row.Target == nil {
		return nil
	}
	var ok bool
	switch row.Target.Kind {
	case "ratio":
		if len(row.Ratio) == 0 {
			return nil
		}
		ok = median(row.Ratio) >= row.Target.Value
	case "max":
		ok = median(row.PN) < row.Target.Value
	case "min":
		ok = median(row.PN) >= row.Target.Value
	}
	return &ok
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cell formats the median of xs and, with several samples, their range.
func cell(xs []float64, format string) string {
	if len(xs) == 0 {
		return "—"
	}
	s := fmt.Sprintf(format, median(xs))
	if len(xs) > 1 {
		s += fmt.Sprintf(" ["+format+"–"+format+"]", slices.Min(xs), slices.Max(xs))
	}
	return s
}

// format picks a precision that suits the figure's size.
func format(xs []float64) string {
	if len(xs) > 0 && median(xs) < 10 {
		return "%.2f"
	}
	return "%.0f"
}

// WriteTable prints the report as one aligned table.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "pnstream benchmark %s — %s; medians of %d run(s), [min–max] when more\n%s\n\n",
		r.Started.Format(time.RFC3339), r.Machine, r.Repeat, r.Settings)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "stage\tmetric\traw limit\tpnstream\tratio\ttarget\tmet\traw limit measured as")
	for _, row := range r.Rows {
		met := ""
		if row.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*row.Met]
		}
		target := ""
		if row.Target != nil {
			target = row.Target.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.Stage, row.Metric,
			cell(row.Raw, format(row.Raw)), cell(row.PN, format(row.PN)), cell(row.Ratio, "%.2f"),
			target, met, row.RawBy)
	}
	return tw.Flush()
}

// WriteJSON prints the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return nil
}

// machine describes this machine for the report.
func machine(cpus int, model string) string {
	return fmt.Sprintf("%d CPU %s", cpus, strings.TrimSpace(model))
}
