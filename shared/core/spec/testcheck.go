package spec

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/window"
)

// testChecker checks the test cases of one document against the spec.
type testChecker struct {
	s    *Spec
	d    doc
	errs Errors
	// out are the output field names in order; declared are every field
	// and derived name; reasons the filtered reasons the spec can give.
	out      []string
	declared map[string]bool
	reasons  map[string]bool
	names    map[string]string // case name: the key of the case that has it
}

// checkTests checks the cases of document d, and notes where each is.
// Case names are unique across the spec's tests section and d.
func (s *Spec) checkTests(d doc, tests []Test) Errors {
	c := &testChecker{s: s, d: d, declared: map[string]bool{}, reasons: map[string]bool{}, names: map[string]string{}}
	for _, f := range s.Fields {
		c.declared[f.Name] = true
		if !f.Drop {
			c.out = append(c.out, f.Name)
		}
	}
	for _, dv := range s.Derive {
		c.declared[dv.Name] = true
		c.out = append(c.out, dv.Name)
	}
	for _, f := range s.Filter {
		c.reasons["filter:"+f.Name] = true
	}
	if s.Dedup != nil {
		c.reasons["dedup"] = true
	}
	if d.file != s.file {
		for _, t := range s.Tests {
			c.names[t.Name] = "the spec's tests"
		}
	}
	for i := range tests {
		t := &tests[i]
		key := fmt.Sprintf("tests[%d]", i)
		t.file, t.at = d.file, d.pos[key]
		c.test(key, t)
	}
	return c.errs
}

func (c *testChecker) add(key, format string, args ...any) {
	c.errs = append(c.errs, c.d.errorf(key, format, args...))
}

func (c *testChecker) test(key string, t *Test) {
	switch prev, dup := c.names[t.Name]; {
	case t.Name == "":
		c.add(key, "a test case needs a name")
	case dup:
		c.add(key+".name", "test name %q is already used by %s", t.Name, prev)
	default:
		c.names[t.Name] = key
	}
	c.input(key+".input", t.Input)
	c.context(key+".context", t)
	c.expect(key+".expect", t)
}

// input checks that the case gives CSV text or JSON records, as the
// spec's source reads.
func (c *testChecker) input(key string, in TestInput) {
	f := c.s.Source.Format
	switch {
	case (in.CSV == nil) == (in.JSON == nil):
		c.add(key, "give the input records as csv (text) or json (a list of objects), one of them")
	case in.CSV != nil && (f == codec.FormatJSON || f == codec.FormatJSONL):
		c.add(key+".csv", "the spec's source.format is %s: give the records as json", f)
	case in.JSON != nil && f == codec.FormatCSV:
		c.add(key+".json", "the spec's source.format is csv: give the records as csv")
	}
}

func (c *testChecker) context(key string, t *Test) {
	cx := t.Context
	if k := cx.SourceKey; k != "" && (strings.HasPrefix(k, "/") || strings.TrimSpace(k) != k || slices.Contains(strings.Split(k, "/"), "..")) {
		c.add(key+".source_key", "%q is not an object key (no leading /, no .., no surrounding spaces)", k)
	}
	if cx.Now != nil && !cx.Stream() {
		c.add(key+".now", "now applies to stream cases: give arrivals too")
	}
	if !cx.Stream() {
		return
	}
	if n := t.Input.Records(c.s.Source.CSV.HasHeader()); n != len(cx.Arrivals) {
		c.add(key+".arrivals", "%d arrival times for %d input records: give one per record", len(cx.Arrivals), n)
	}
	f := c.s.Source.Format
	if f == "" {
		f = codec.FormatAuto
	}
	switch {
	case f == codec.FormatJSON:
		c.add(key+".arrivals", "a stream message is one record: source.format json (one document) does not stream; use jsonl")
	case t.Input.CSV != nil && f != codec.FormatCSV:
		c.add(key+".arrivals", "the stream path reads source.format %s as JSON: set source.format csv for CSV messages", f)
	case t.Input.CSV != nil && len(c.s.Source.CSV.Columns) == 0:
		c.add(key+".arrivals", "CSV stream messages have no header: source.csv.columns must name the columns")
	}
}

func (c *testChecker) expect(key string, t *Test) {
	e := t.Expect
	if e.Rows == nil && e.Rejects == nil && e.Filtered == nil && e.Counts == nil && e.Windows == nil && e.Error == "" {
		c.add(key, "nothing to check: give rows, rejects, filtered, counts, windows or error")
	}
	c.fields(key+".fields", e.Fields)
	if e.Rows != nil {
		c.rows(key, *e.Rows, e.Fields)
	}
	if e.Rejects != nil {
		c.rejects(key+".rejects", *e.Rejects, t.Context.Stream())
	}
	if e.Filtered != nil {
		c.filtered(key+".filtered", *e.Filtered)
	}
	if e.Counts != nil {
		c.counts(key+".counts", *e.Counts)
	}
	if e.Windows != nil {
		c.windows(key+".windows", t)
	}
}

// fields checks expect.fields: output fields, each once.
func (c *testChecker) fields(key string, names []string) {
	seen := map[string]bool{}
	for i, n := range names {
		k := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case !slices.Contains(c.out, n):
			c.add(k, "%q is not an output field (%s)", n, strings.Join(c.out, ", "))
		case seen[n]:
			c.add(k, "%q is named twice", n)
		}
		seen[n] = true
	}
}

// rows checks that each row names output fields: the compared ones, and
// all of them.
func (c *testChecker) rows(key string, rows []TestRow, fields []string) {
	compared := c.out
	if len(fields) > 0 {
		compared = fields
	}
	for i, r := range rows {
		k := fmt.Sprintf("%s.rows[%d]", key, i)
		for _, n := range slices.Sorted(maps.Keys(r)) {
			if !slices.Contains(compared, n) {
				c.add(k+"."+n, "%q is not a compared field (%s)", n, strings.Join(compared, ", "))
			}
		}
		var lacks []string
		for _, n := range compared {
			if _, ok := r[n]; !ok {
				lacks = append(lacks, n)
			}
		}
		if len(lacks) > 0 {
			c.add(k, "the row lacks %s: give every compared field (list the compared ones in expect.fields)", strings.Join(lacks, ", "))
		}
	}
}

func (c *testChecker) rejects(key string, rejects []ExpectReject, stream bool) {
	seen := map[int64]bool{}
	for i, r := range rejects {
		k := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case r.Record < 1:
			c.add(k+".record", "the record's number in the input, from 1, is required")
		case seen[r.Record]:
			c.add(k+".record", "record %d is listed twice: a record is rejected once", r.Record)
		}
		seen[r.Record] = true
		switch {
		case r.Line < 0:
			c.add(k+".line", "must not be negative")
		case r.Line > 0 && stream:
			c.add(k+".line", "a stream message has no line: leave line out")
		}
		if r.Rule == "" {
			c.add(k+".rule", "the rule is required")
		}
		if r.Field != "" && !c.declared[r.Field] {
			c.add(k+".field", "unknown field %q", r.Field)
		}
	}
}

func (c *testChecker) filtered(key string, byReason map[string]int64) {
	for _, r := range slices.Sorted(maps.Keys(byReason)) {
		switch {
		case !c.reasons[r]:
			c.add(key+"."+r, "the spec filters for no reason %q (%s)", r, c.reasonList())
		case byReason[r] < 0:
			c.add(key+"."+r, "must not be negative")
		}
	}
}

func (c *testChecker) reasonList() string {
	if len(c.reasons) == 0 {
		return "it has no filter and no dedup"
	}
	return "its reasons: " + strings.Join(slices.Sorted(maps.Keys(c.reasons)), ", ")
}

func (c *testChecker) counts(key string, n ExpectCounts) {
	for name, v := range map[string]*int64{"in": n.In, "out": n.Out, "rejected": n.Rejected, "filtered": n.Filtered} {
		if v != nil && *v < 0 {
			c.add(key+"."+name, "must not be negative")
		}
	}
}

// windows checks expected windows: the spec must have windows a case can
// close, and each window names its bounds and aggregated fields.
func (c *testChecker) windows(key string, t *Test) {
	w := c.s.Window
	switch {
	case w == nil:
		c.add(key, "the spec has no window section")
		return
	case w.Kind != window.Count && (w.Time == WindowArrivalTime || w.Native) && !t.Context.Stream():
		c.add(key, "windows by arrival time need arrival times: give context.arrivals")
	}
	for i, ew := range *t.Expect.Windows {
		k := fmt.Sprintf("%s[%d]", key, i)
		c.bounds(k, w.Kind, ew)
		for _, f := range slices.Sorted(maps.Keys(ew.Fields)) {
			if !slices.Contains(w.Aggregate, f) {
				c.add(k+".fields."+f, "%q is not aggregated (window.aggregate: %s)", f, strings.Join(w.Aggregate, ", "))
			}
		}
	}
}

// bounds checks a window's start and end: RFC 3339 times, or a count
// window's number.
func (c *testChecker) bounds(key string, kind window.Kind, ew ExpectWindow) {
	if kind == window.Count {
		if n, err := strconv.ParseInt(ew.Start, 10, 64); err != nil || n < 0 {
			c.add(key+".start", "a count window's start is its number (0, 1, ...), not %q", ew.Start)
		}
		if ew.End != "" {
			c.add(key+".end", "count windows have no end: give start only")
		}
		return
	}
	for _, b := range []struct{ name, v string }{{"start", ew.Start}, {"end", ew.End}} {
		if _, err := time.Parse(time.RFC3339Nano, b.v); err != nil {
			c.add(key+"."+b.name, "want an RFC 3339 time, e.g. 2026-11-01T09:00:00Z, not %q", b.v)
		}
	}
}
