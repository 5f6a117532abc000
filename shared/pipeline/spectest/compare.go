package spectest

import (
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/core/window"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// compare lists the differences between what t expects and what its run
// produced, expectation by expectation, in a fixed order.
func compare(p *plan.Plan, t *spec.Test, g *got) []string {
	d := &differ{}
	e := t.Expect
	d.runError(e.Error, g.err)
	if e.Rows != nil {
		d.rows(comparedFields(p, e.Fields), *e.Rows, g.rows)
	}
	if e.Rejects != nil {
		d.rejects(*e.Rejects, g.rejects)
	}
	if e.Filtered != nil {
		d.counts("filtered ", *e.Filtered, g.counts.FilteredByReason)
	}
	if e.Counts != nil {
		d.totals(*e.Counts, g)
	}
	if e.Windows != nil {
		d.windows(p.Spec.Window.Kind, *e.Windows, g.windows)
	}
	return d.lines
}

// differ collects difference lines.
type differ struct{ lines []string }

func (d *differ) addf(format string, args ...any) {
	d.lines = append(d.lines, fmt.Sprintf(format, args...))
}

// runError compares the run's failure with the one expected.
func (d *differ) runError(want string, err error) {
	switch {
	case want == "" && err != nil:
		d.addf("run failed: %v", err)
	case want != "" && err == nil:
		d.addf("run: want it to fail with %q, it succeeded", want)
	case want != "" && !strings.Contains(err.Error(), want):
		d.addf("run error: want %q in it, got %q", want, err.Error())
	}
}

// comparedFields are the output fields a row comparison reads, in
// output order.
func comparedFields(p *plan.Plan, names []string) []record.Field {
	var out []record.Field
	for _, f := range p.Out.Fields {
		if len(names) == 0 || slices.Contains(names, f.Name) {
			out = append(out, f)
		}
	}
	return out
}

// rows compares the rows in order. Rows that match whole stay paired (a
// longest common subsequence); between them, the others pair up in
// order and differ field by field, and the rest are missing or extra.
func (d *differ) rows(fields []record.Field, want []spec.TestRow, got []row) {
	same := func(i, j int) bool { return len(fieldDiffs(fields, want[i], got[j])) == 0 }
	for _, pr := range align(len(want), len(got), same) {
		switch {
		case pr.got < 0:
			d.addf("row %d: missing %s", pr.want+1, renderWant(fields, want[pr.want]))
		case pr.want < 0:
			d.addf("row %d: not expected %s", pr.got+1, renderGot(fields, got[pr.got]))
		default:
			for _, fd := range fieldDiffs(fields, want[pr.want], got[pr.got]) {
				d.addf("row %d field %s", pr.want+1, fd)
			}
		}
	}
}

// pair is a want index and a got index; -1 for none.
type pair struct{ want, got int }

// align pairs n wanted and m got items: a longest common subsequence of
// equal ones, and between two of its items, the others in order.
func align(n, m int, same func(i, j int) bool) []pair {
	// lcs[i][j] is the LCS length of want[i:] and got[j:].
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if same(i, j) {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []pair
	var wantRun, gotRun []int
	flush := func() {
		k := min(len(wantRun), len(gotRun))
		for x := range k {
			out = append(out, pair{wantRun[x], gotRun[x]})
		}
		for _, i := range wantRun[k:] {
			out = append(out, pair{i, -1})
		}
		for _, j := range gotRun[k:] {
			out = append(out, pair{-1, j})
		}
		wantRun, gotRun = wantRun[:0], gotRun[:0]
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && same(i, j) && lcs[i][j] == lcs[i+1][j+1]+1:
			flush()
			out = append(out, pair{i, j})
			i, j = i+1, j+1
		case j >= m || (i < n && lcs[i+1][j] >= lcs[i][j+1]):
			wantRun = append(wantRun, i)
			i++
		default:
			gotRun = append(gotRun, j)
			j++
		}
	}
	flush()
	return out
}

// fieldDiffs are the compared fields where got differs from want.
func fieldDiffs(fields []record.Field, want spec.TestRow, got row) []string {
	var out []string
	for _, f := range fields {
		w, ok := want[f.Name]
		if !ok {
			continue // checked when the spec was loaded: never for a valid case
		}
		g, present := got[f.Name]
		if !present {
			g = cell{null: true}
		}
		if !equalValue(f, w, g) {
			out = append(out, fmt.Sprintf("%s: want %s, got %s", f.Name, render(f.Kind, w.Text, w.Null), render(f.Kind, g.text, g.null)))
		}
	}
	return out
}

// equalValue compares a wanted value with an output value as the field's
// kind reads them: 250 and 250.00 are the same decimal, and
// 2026-11-01T09:00:00Z the same timestamp as 2026-11-01T09:00:00.000000Z.
func equalValue(f record.Field, want spec.TestValue, got cell) bool {
	if want.Null || got.null {
		return want.Null == got.null
	}
	w, g := want.Text, got.text
	switch f.Kind {
	case record.Int:
		a, err1 := strconv.ParseInt(w, 10, 64)
		b, err2 := strconv.ParseInt(g, 10, 64)
		return err1 == nil && err2 == nil && a == b
	case record.Float:
		a, err1 := strconv.ParseFloat(w, 64)
		b, err2 := strconv.ParseFloat(g, 64)
		return err1 == nil && err2 == nil && a == b
	case record.Decimal:
		a, ok1 := new(big.Rat).SetString(w)
		b, ok2 := new(big.Rat).SetString(g)
		return ok1 && ok2 && a.Cmp(b) == 0
	case record.Bool:
		a, err1 := strconv.ParseBool(w)
		b, err2 := strconv.ParseBool(g)
		return err1 == nil && err2 == nil && a == b
	case record.Timestamp, record.Date:
		a, ok1 := parseTime(w)
		b, ok2 := parseTime(g)
		return ok1 && ok2 && a.Equal(b)
	}
	return w == g
}

// timeLayouts are the forms a wanted timestamp or date may take.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", time.DateOnly}

func parseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// render writes a value as the diff shows it: text quoted for strings,
// timestamps and dates, bare for numbers and booleans.
func render(k record.Kind, text string, null bool) string {
	switch {
	case null:
		return "null"
	case k == record.String || k == record.Timestamp || k == record.Date:
		return strconv.Quote(text)
	}
	return text
}

func renderWant(fields []record.Field, r spec.TestRow) string {
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		if v, ok := r[f.Name]; ok {
			parts = append(parts, f.Name+": "+render(f.Kind, v.Text, v.Null))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func renderGot(fields []record.Field, r row) string {
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		c, ok := r[f.Name]
		if !ok {
			c = cell{null: true}
		}
		parts = append(parts, f.Name+": "+render(f.Kind, c.text, c.null))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// rejects compares the rejects record by record, in record order.
func (d *differ) rejects(want []spec.ExpectReject, got []output.RejectRecord) {
	wanted, gotBy := map[int64]spec.ExpectReject{}, map[int64]*output.RejectRecord{}
	for _, w := range want {
		wanted[w.Record] = w
	}
	for i := range got {
		gotBy[got[i].Record] = &got[i]
	}
	records := slices.Collect(maps.Keys(wanted))
	for r := range gotBy {
		if _, ok := wanted[r]; !ok {
			records = append(records, r)
		}
	}
	slices.Sort(records)
	for _, r := range records {
		w, isWanted := wanted[r]
		g, isGot := gotBy[r]
		switch {
		case !isGot:
			d.addf("reject of record %d: missing (want %s)", r, ruleName(w.Field, w.Rule))
		case !isWanted:
			d.addf("reject of record %d: not expected (%s, line %d)", r, ruleName(g.Field, g.Rule), g.Line)
		default:
			d.reject(w, g)
		}
	}
}

func (d *differ) reject(w spec.ExpectReject, g *output.RejectRecord) {
	at := fmt.Sprintf("reject of record %d", w.Record)
	if w.Field != g.Field {
		d.addf("%s field: want %q, got %q", at, w.Field, g.Field)
	}
	if w.Rule != g.Rule {
		d.addf("%s rule: want %q, got %q", at, w.Rule, g.Rule)
	}
	if w.Line != 0 && w.Line != g.Line {
		d.addf("%s line: want %d, got %d", at, w.Line, g.Line)
	}
	if w.Reason != "" && w.Reason != g.Reason {
		d.addf("%s reason: want %q, got %q", at, w.Reason, g.Reason)
	}
}

// ruleName is a reject's rule as the manifest counts it.
func ruleName(field, rule string) string {
	if field == "" {
		return rule
	}
	return field + "." + rule
}

// counts compares two counts by name, every name of either.
func (d *differ) counts(what string, want, got map[string]int64) {
	names := map[string]bool{}
	for k := range want {
		names[k] = true
	}
	for k := range got {
		names[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(names)) {
		if want[k] != got[k] {
			d.addf("%s%s: want %d, got %d", what, k, want[k], got[k])
		}
	}
}

// totals compares the manifest counts named.
func (d *differ) totals(want spec.ExpectCounts, g *got) {
	c := g.counts
	for _, n := range []struct {
		name string
		want *int64
		got  int64
	}{{"in", want.In, c.In}, {"out", want.Out, c.Out}, {"rejected", want.Rejected, c.Rejected}, {"filtered", want.Filtered, c.Filtered}} {
		if n.want != nil && *n.want != n.got {
			d.addf("counts %s: want %d, got %d", n.name, *n.want, n.got)
		}
	}
	if want.RejectedByRule != nil {
		d.counts("counts rejected_by_rule ", want.RejectedByRule, c.RejectedByRule)
	}
}

// windows compares the closed windows by their bounds and key.
func (d *differ) windows(kind window.Kind, want []spec.ExpectWindow, got []window.Cell) {
	byID := map[string]*window.Cell{}
	for i := range got {
		byID[cellName(kind, got[i])] = &got[i]
	}
	wanted := map[string]bool{}
	for _, w := range want {
		id := wantName(kind, w)
		wanted[id] = true
		g, ok := byID[id]
		if !ok {
			d.addf("window %s: missing", id)
			continue
		}
		d.window(id, w, g)
	}
	for _, g := range got {
		if id := cellName(kind, g); !wanted[id] {
			d.addf("window %s: not expected (count %d)", id, g.Count)
		}
	}
}

func (d *differ) window(id string, w spec.ExpectWindow, g *window.Cell) {
	if w.Count != nil && *w.Count != g.Count {
		d.addf("window %s count: want %d, got %d", id, *w.Count, g.Count)
	}
	for _, f := range slices.Sorted(maps.Keys(w.Fields)) {
		wa, ga := w.Fields[f], g.Fields[f]
		if wa.Count != nil && *wa.Count != ga.Count {
			d.addf("window %s %s count: want %d, got %d", id, f, *wa.Count, ga.Count)
		}
		for _, a := range []struct {
			name string
			want *spec.TestNumber
			got  float64
		}{{"sum", wa.Sum, ga.Sum}, {"min", wa.Min, ga.Min}, {"max", wa.Max, ga.Max}, {"avg", wa.Avg, ga.Avg()}} {
			if a.want != nil && !a.want.Matches(a.got) {
				d.addf("window %s %s %s: want %s, got %s", id, f, a.name, a.want.Text, strconv.FormatFloat(a.got, 'f', -1, 64))
			}
		}
	}
}

// cellName names a closed window as the diff shows it: its bounds in
// RFC 3339 (or a count window's number) and its key.
func cellName(kind window.Kind, c window.Cell) string {
	if kind == window.Count {
		return fmt.Sprintf("%d key %q", c.Window.Start, c.Key)
	}
	ms := func(v int64) string { return time.UnixMilli(v).UTC().Format(time.RFC3339Nano) }
	return fmt.Sprintf("%s..%s key %q", ms(c.Window.Start), ms(c.Window.End), c.Key)
}

// wantName names an expected window as cellName names a closed one.
func wantName(kind window.Kind, w spec.ExpectWindow) string {
	if kind == window.Count {
		n, _ := strconv.ParseInt(w.Start, 10, 64)
		return cellName(kind, window.Cell{Window: window.Bounds{Start: n, End: n + 1}, Key: w.Key})
	}
	ms := func(s string) int64 {
		t, _ := time.Parse(time.RFC3339Nano, s)
		return t.UnixMilli()
	}
	return cellName(kind, window.Cell{Window: window.Bounds{Start: ms(w.Start), End: ms(w.End)}, Key: w.Key})
}
