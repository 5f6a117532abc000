// Package report builds a run's report from its manifest and its column
// profile: a self-contained HTML page (no scripts, no external assets, so
// it opens offline) and its JSON twin, which holds the same figures.
//
// Record values are shown only when asked for (Options.ShowValues): the
// min and max of number and time columns (each is one record's value),
// the top values of low-cardinality string columns, which the profile
// holds only when the run kept them, and sample rejected rows. By default
// the report holds counts, rules, reasons' names, partitions, sizes,
// timings, and per column its null share and distinct estimate.
package report

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sluice-etl/sluice/shared/core/profile"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// Version is the version of the report's JSON form.
const Version = 1

// MaxSamples is the most rejected rows a report shows.
const MaxSamples = 10

// Report is a run report: the JSON twin of the page.
type Report struct {
	ReportVersion int            `json:"report_version"`
	RunID         string         `json:"run_id"`
	Status        output.Status  `json:"status"`
	Error         string         `json:"error,omitempty"`
	Spec          string         `json:"spec"`
	SpecHash      string         `json:"spec_hash"`
	Source        output.Source  `json:"source"`
	Format        string         `json:"format"`
	Compression   string         `json:"compression"`
	StartedAt     time.Time      `json:"started_at"`
	FinishedAt    time.Time      `json:"finished_at"`
	DurationMS    float64        `json:"duration_ms"`
	ShowValues    bool           `json:"show_values"`
	Flow          Flow           `json:"flow"`
	Partitions    []Partition    `json:"partitions"`
	Files         Files          `json:"files"`
	Rejects       Files          `json:"reject_files"`
	Stages        []Stage        `json:"stages"`
	Profile       *Profile       `json:"profile"`
	Samples       []RejectSample `json:"sample_rejects,omitempty"`
	// Notes say what the report lacks and why.
	Notes []string `json:"notes,omitempty"`
}

// Flow is the accounting: in = out + rejected + filtered, with the
// rejects per rule and the filtered records per reason, largest first.
type Flow struct {
	In               int64   `json:"records_in"`
	Out              int64   `json:"records_out"`
	Rejected         int64   `json:"records_rejected"`
	Filtered         int64   `json:"records_filtered"`
	RejectRatio      float64 `json:"reject_ratio"`
	RejectedByRule   []Count `json:"rejected_by_rule"`
	FilteredByReason []Count `json:"filtered_by_reason"`
}

// Count is a number of records under a name (a rule or a reason).
type Count struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// Partition sums a partition's data files.
type Partition struct {
	Partition string `json:"partition"`
	Files     int    `json:"files"`
	Records   int64  `json:"records"`
	Bytes     int64  `json:"bytes"`
	MinBytes  int64  `json:"min_file_bytes"`
	MaxBytes  int64  `json:"max_file_bytes"`
}

// Files sums a set of files' sizes.
type Files struct {
	Count    int   `json:"count"`
	Records  int64 `json:"records"`
	Bytes    int64 `json:"bytes"`
	MinBytes int64 `json:"min_bytes"`
	MaxBytes int64 `json:"max_bytes"`
}

// Stage is one stage's timing.
type Stage struct {
	Name       string  `json:"name"`
	DurationMS float64 `json:"duration_ms"`
	Records    int64   `json:"records"`
	Bytes      int64   `json:"bytes"`
}

// Profile is the output columns' profile as the report shows it.
type Profile struct {
	Rows    int64    `json:"rows"`
	Columns []Column `json:"columns"`
}

// Column is one output column's profile.
type Column struct {
	Name      string  `json:"name"`
	Type      string  `json:"type"`
	Nulls     int64   `json:"nulls"`
	NullShare float64 `json:"null_share"`
	Min       string  `json:"min,omitempty"`
	Max       string  `json:"max,omitempty"`
	Distinct  uint64  `json:"distinct_estimate"`
	// HighCardinality: more than profile.MaxTracked distinct values, so
	// no top values (known only when the run kept values).
	HighCardinality bool                 `json:"high_cardinality,omitempty"`
	Top             []profile.ValueCount `json:"top,omitempty"`
}

// RejectSample is one rejected record as the report shows it.
type RejectSample struct {
	Line   int64  `json:"line,omitempty"`
	Record int64  `json:"record"`
	Field  string `json:"field,omitempty"`
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
	Raw    string `json:"raw"`
}

// Options say what a report shows.
type Options struct {
	// ShowValues shows record values: top values the profile kept, and
	// the samples.
	ShowValues bool
	// Samples are rejected records to show (ShowValues only; at most
	// MaxSamples are kept).
	Samples []output.RejectRecord
}

// Build makes the report of a run from its manifest and its profile (nil
// when the run has none, or it belongs to another run).
func Build(m *output.Manifest, p *profile.Profile, opt Options) *Report {
	r := &Report{
		ReportVersion: Version, RunID: m.RunID, Status: m.Status, Error: m.Error,
		Spec: m.Spec, SpecHash: m.SpecHash, Source: m.Source, Format: m.Format, Compression: m.Compression,
		StartedAt: m.StartedAt, FinishedAt: m.FinishedAt, DurationMS: m.DurationMS, ShowValues: opt.ShowValues,
		Flow: Flow{In: m.In, Out: m.Out, Rejected: m.Rejected, Filtered: m.Filtered, RejectRatio: m.RejectRatio,
			RejectedByRule: counts(m.RejectedByRule), FilteredByReason: counts(m.FilteredByReason)},
		Partitions: partitions(m.Parts), Files: files(m.Parts), Rejects: files(m.Rejects),
		Stages: stages(m.Stages),
	}
	r.profile(p, opt.ShowValues)
	if opt.ShowValues {
		r.samples(opt.Samples)
	}
	return r
}

// counts lists a count map, largest first (ties by name).
func counts(m map[string]int64) []Count {
	out := make([]Count, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, Count{Name: k, Count: m[k]})
	}
	slices.SortStableFunc(out, func(a, b Count) int { return cmp.Compare(b.Count, a.Count) })
	return out
}

// partitions sums the parts per partition, in partition order.
func partitions(parts []output.Part) []Partition {
	byName := map[string]*Partition{}
	for _, p := range parts {
		s, ok := byName[p.Partition]
		if !ok {
			s = &Partition{Partition: p.Partition, MinBytes: p.Bytes}
			byName[p.Partition] = s
		}
		s.Files++
		s.Records += p.Records
		s.Bytes += p.Bytes
		s.MinBytes, s.MaxBytes = min(s.MinBytes, p.Bytes), max(s.MaxBytes, p.Bytes)
	}
	out := make([]Partition, 0, len(byName))
	for _, k := range slices.Sorted(maps.Keys(byName)) {
		out = append(out, *byName[k])
	}
	return out
}

func files(parts []output.Part) Files {
	var f Files
	for i, p := range parts {
		if i == 0 {
			f.MinBytes = p.Bytes
		}
		f.Count++
		f.Records += p.Records
		f.Bytes += p.Bytes
		f.MinBytes, f.MaxBytes = min(f.MinBytes, p.Bytes), max(f.MaxBytes, p.Bytes)
	}
	return f
}

// stageOrder is the order stages run in; others follow by name.
var stageOrder = []string{"extract", "transform", "load"}

func stages(m map[string]output.StageStats) []Stage {
	names := slices.Sorted(maps.Keys(m))
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(stageRank(a), stageRank(b)) })
	out := make([]Stage, 0, len(names))
	for _, n := range names {
		s := m[n]
		out = append(out, Stage{Name: n, DurationMS: s.DurationMS, Records: s.Records, Bytes: s.Bytes})
	}
	return out
}

func stageRank(name string) int {
	if i := slices.Index(stageOrder, name); i >= 0 {
		return i
	}
	return len(stageOrder)
}

// profile sets the report's columns from p.
func (r *Report) profile(p *profile.Profile, showValues bool) {
	if p == nil {
		r.Notes = append(r.Notes, "This run has no column profile (it failed before its rows were committed, or an earlier sluice ran it).")
		return
	}
	if showValues && !p.Values {
		r.Notes = append(r.Notes, "Top values were asked for, but the run did not keep them: run with --show-values, or set report.show_values in the spec.")
	}
	r.Profile = &Profile{Rows: p.Rows, Columns: make([]Column, 0, len(p.Columns))}
	for _, c := range p.Columns {
		col := Column{Name: c.Name, Type: c.Kind.String(), Nulls: c.Nulls, NullShare: p.NullShare(c), Distinct: c.Distinct()}
		if showValues {
			col.Min, col.Max = c.Min(), c.Max()
			col.HighCardinality, col.Top = c.HighCardinality, c.Top()
		}
		r.Profile.Columns = append(r.Profile.Columns, col)
	}
}

func (r *Report) samples(rr []output.RejectRecord) {
	for _, s := range rr[:min(len(rr), MaxSamples)] {
		r.Samples = append(r.Samples, RejectSample{Line: s.Line, Record: s.Record, Field: s.Field, Rule: s.Rule, Reason: s.Reason, Raw: s.Raw})
	}
}

// TwinPath is the JSON twin's path of a report page's path: its
// extension replaced by .json.
func TwinPath(html string) string {
	base := html
	if i := strings.LastIndexByte(html, '.'); i > strings.LastIndexByte(html, '/') {
		base = html[:i]
	}
	return base + ".json"
}
