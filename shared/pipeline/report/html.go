package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strconv"

	"github.com/sluice-etl/sluice/shared/core/profile"
)

//go:embed page.html.tmpl
var pageSource string

// MaxPartitionRows is the most partitions the page lists, and MaxTopRows
// the most top values it lists per column; the JSON twin lists them all.
const (
	MaxPartitionRows = 500
	MaxTopRows       = 10
)

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"num":    num,
	"share":  share,
	"width":  width,
	"widthf": widthf,
	"pct":    func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" },
	"pctw":   func(f float64) float64 { return clampPct(100 * f) },
	"bytes":  humanBytes,
	"ms":     humanMS,
	"minus":  func(a, b int) int { return a - b },
}).Parse(pageSource))

// page is what the template reads: the report and the scales of its bars.
type page struct {
	*Report
	MaxRows           int
	MaxTop            int
	MaxTracked        int
	MaxPartitionBytes int64
	MaxStageMS        float64
}

// WriteHTML writes the report's page: one HTML document with its styles
// inline, no scripts and no external assets. Every value is escaped.
func (r *Report) WriteHTML(w io.Writer) error {
	pg := page{Report: r, MaxRows: MaxPartitionRows, MaxTop: MaxTopRows, MaxTracked: profile.MaxTracked}
	for _, p := range r.Partitions {
		pg.MaxPartitionBytes = max(pg.MaxPartitionBytes, p.Bytes)
	}
	for _, s := range r.Stages {
		pg.MaxStageMS = max(pg.MaxStageMS, s.DurationMS)
	}
	if err := pageTemplate.Execute(w, pg); err != nil {
		return fmt.Errorf("write report page: %w", err)
	}
	return nil
}

// num writes an integer with thousands separators.
func num(v any) string {
	var s string
	switch n := v.(type) {
	case int:
		s = strconv.Itoa(n)
	case int64:
		s = strconv.FormatInt(n, 10)
	case uint64:
		s = strconv.FormatUint(n, 10)
	default:
		return fmt.Sprint(v)
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// share is a of b as a percentage with one decimal.
func share(a, b int64) string {
	if b == 0 {
		return "0.0%"
	}
	return strconv.FormatFloat(100*float64(a)/float64(b), 'f', 1, 64) + "%"
}

// width is a bar's width: a of b in percent, from 0 to 100.
func width(a, b int64) float64 { return widthf(float64(a), float64(b)) }

func widthf(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return clampPct(100 * a / b)
}

func clampPct(p float64) float64 {
	p = min(max(p, 0), 100)
	// Two decimals are plenty for a bar.
	v, _ := strconv.ParseFloat(strconv.FormatFloat(p, 'f', 2, 64), 64)
	return v
}

// humanBytes writes a byte count in B, KiB, MiB or GiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, i := float64(n), -1
	for f >= unit && i < 3 {
		f /= unit
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + [...]string{"KiB", "MiB", "GiB", "TiB"}[i]
}

// humanMS writes a duration in milliseconds as ms, s or min.
func humanMS(ms float64) string {
	switch {
	case ms < 1000:
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	case ms < 60_000:
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + " s"
	}
	return strconv.FormatFloat(ms/60_000, 'f', 1, 64) + " min"
}
