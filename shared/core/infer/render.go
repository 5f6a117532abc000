package infer

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/record"
)

// write renders the spec, runs it over the sample, and renders it again
// with the counts in its header; the second document is checked too.
func (r *Result) write() error {
	name := r.Name + ".yaml"
	doc, err := r.render()
	if err != nil {
		return err
	}
	if r.Counts, err = r.Sample.Check(name, doc); err != nil {
		return fmt.Errorf("the inferred spec does not hold: %w", err)
	}
	if r.Doc, err = r.render(); err != nil {
		return err
	}
	if _, err := r.Sample.Check(name, r.Doc); err != nil {
		return fmt.Errorf("the inferred spec does not hold: %w", err)
	}
	return nil
}

// render writes the spec as commented YAML.
func (r *Result) render() ([]byte, error) {
	top := mapping(
		pair("version", scalar("1")),
		pair("name", str(r.Name)),
		pair("source", r.source()),
		pair("fields", r.fieldList()),
		pair("sink", r.sink()),
		r.rejects(),
	)
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: r.header(), Content: []*yaml.Node{top}}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("write the spec: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write the spec: %w", err)
	}
	return b.Bytes(), nil
}

// header says where the spec comes from, how types were chosen, and what
// the spec does with the sample.
func (r *Result) header() string {
	s := r.Sample
	var h []string
	which := "the " + plural(len(s.Rows), "record")
	if s.Truncated {
		which = "the first " + plural(len(s.Rows), "record")
	}
	h = append(h, fmt.Sprintf("Written by sluice init from %s of %s (%s).", which, baseOf(s.Name), s.Describe()))
	h = append(h, "",
		fmt.Sprintf("Each field has the first type that at least %s of its non-empty", percent(1-r.Tolerance)),
		fmt.Sprintf("values in the sample fit (tolerance %s, sluice init --tolerance).", strconv.FormatFloat(r.Tolerance, 'f', -1, 64)),
		"sluice run rejects the records whose values do not fit, and keeps",
		"them in rejects/ with their line and reason: each field lists them.",
		"Suggestions are comments: uncomment those that hold for all your data.",
		"")
	c := r.Counts
	h = append(h, fmt.Sprintf("On the sample this spec keeps %s and rejects %d.", plural(c.Kept, "record"), c.Rejected))
	if len(c.RejectedByRule) > 0 {
		h = append(h, "Rejected by rule: "+byRule(c.RejectedByRule)+".")
	}
	for i, l := range h {
		h[i] = strings.TrimSpace("# " + l)
	}
	return strings.Join(h, "\n")
}

// Describe says what the spec was inferred from, naming no record value:
// "9 fields from 25 records of orders.csv (csv, uncompressed)".
func (r *Result) Describe() string {
	s := r.Sample
	return fmt.Sprintf("%s from %s of %s (%s)", plural(len(r.Fields), "field"), plural(len(s.Rows), "record"), baseOf(s.Name), s.Describe())
}

func (r *Result) source() *yaml.Node {
	s := r.Sample
	how := "by the name, as sluice run settles it"
	if codec.FormatFromName(s.Name) == "" {
		how = "by the data, as sluice run settles it"
	}
	comp := scalar(string(codec.CompressionAuto))
	comp.LineComment = fmt.Sprintf("the sample is %s; gzip, zstd and plain are all read", compressionText(s.Compression))
	n := mapping(pair("format", comment(scalar(string(s.Format)), how)), pair("compression", comp))
	if s.Format == codec.FormatCSV && s.Delimiter != ',' {
		d := comment(quoted(delimiterOption(s.Delimiter)), "found in the header line")
		n.Content = append(n.Content, pair("csv", mapping(pair("delimiter", d)))...)
	}
	return n
}

func (r *Result) fieldList() *yaml.Node {
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, f := range r.Fields {
		seq.Content = append(seq.Content, r.field(f))
	}
	return seq
}

// field writes one field with its notes.
func (r *Result) field(f Field) *yaml.Node {
	n := mapping(pair("name", str(f.Name)))
	if f.From != "" {
		n.Content = append(n.Content, pair("from", str(f.From))...)
	}
	typ := pair("type", scalar(f.Type))
	typ[0].HeadComment = misfitNote(f)
	if len(f.Layouts) == 1 && strings.HasPrefix(f.Layouts[0], "unix") {
		typ[1].LineComment = unixNote(f.Layouts[0])
	}
	n.Content = append(n.Content, typ...)
	if f.Type == record.Decimal.String() {
		n.Content = append(n.Content, pair("scale", comment(scalar(strconv.Itoa(f.Scale)), "places after the point, as the values are written"))...)
	}
	if len(f.Layouts) > 0 {
		n.Content = append(n.Content, pair("layouts", layouts(f))...)
	}
	if len(f.Clean) > 0 {
		note := fmt.Sprintf("%s padded with white space", plural(f.Padded, "value"))
		n.Content = append(n.Content, pair("clean", comment(flow("trim"), note))...)
	}
	if f.Required {
		n.Content = append(n.Content, pair("required", comment(scalar("true"), "never empty in the sample"))...)
	}
	if note := enumNote(f); note != "" {
		n.Content[len(n.Content)-1].FootComment = note
	}
	return n
}

func layouts(f Field) *yaml.Node {
	n := flow(f.Layouts...)
	for _, l := range n.Content {
		l.Style = yaml.DoubleQuotedStyle
	}
	if len(f.Layouts) > 1 {
		n.LineComment = "tried in order"
	}
	return n
}

func unixNote(layout string) string {
	unit := "seconds"
	if layout == "unix_ms" {
		unit = "milliseconds"
	}
	return fmt.Sprintf("integers: %s since 1970, by the values and the name", unit)
}

// misfitNote lists the values that do not fit f's type, and how to read
// them as null instead.
func misfitNote(f Field) string {
	if f.Misfits == 0 {
		return ""
	}
	verb := "are"
	if f.Misfits == 1 {
		verb = "is"
	}
	lines := []string{
		fmt.Sprintf("%d of %d values %s not %s; sluice run rejects", f.Misfits, f.Values, verb, typeText(f)),
		fmt.Sprintf("the records that hold such values (rule %s.%s):", f.Name, castRule(f)),
		"  " + quoteAll(f.MisfitValues),
	}
	if steps, ok := nullIf(f); ok {
		lines = append(lines, "To read them as null instead: clean: "+steps)
	}
	return strings.Join(lines, "\n")
}

// typeText names what f's values should be, singular for one misfit.
func typeText(f Field) string {
	one := f.Misfits == 1
	switch f.Type {
	case record.String.String():
		return "valid UTF-8"
	case record.Int.String():
		return pick(one, "an integer", "integers")
	case record.Decimal.String():
		return pick(one, "a decimal", "decimals") + fmt.Sprintf(" of scale %d", f.Scale)
	case record.Float.String():
		return pick(one, "a number", "numbers")
	case record.Bool.String():
		return pick(one, "a boolean", "booleans")
	}
	return pick(one, "a "+f.Type, f.Type+"s") + " in these layouts"
}

func pick(one bool, singular, plural string) string {
	if one {
		return singular
	}
	return plural
}

func castRule(f Field) string {
	if f.Type == record.String.String() {
		return "utf8"
	}
	return "type"
}

// nullIf is the clean steps that read f's misfits as null, when each
// can be written on one line.
func nullIf(f Field) (string, bool) {
	if !f.nullable || f.Type == record.String.String() {
		return "", false
	}
	vals := flow(f.MisfitValues...)
	for _, v := range f.MisfitValues {
		if !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 }) {
			return "", false
		}
	}
	steps := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	if len(f.Clean) > 0 {
		steps.Content = append(steps.Content, scalar("trim"))
	}
	steps.Content = append(steps.Content, &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle, Content: pair("null_if", vals)})
	b, err := yaml.Marshal(steps)
	if err != nil || bytes.Count(b, []byte("\n")) > 1 {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

func enumNote(f Field) string {
	if len(f.Enum) == 0 {
		return ""
	}
	b, err := yaml.Marshal(flow(f.Enum...))
	if err != nil || bytes.Count(b, []byte("\n")) > 1 {
		return ""
	}
	return fmt.Sprintf("%d distinct values in the sample; to allow only these, uncomment:\nrules:\n  enum: %s",
		len(f.Enum), strings.TrimSpace(string(b)))
}

func (r *Result) sink() *yaml.Node {
	n := mapping(pair("format", scalar(string(codec.SinkJSONL))))
	if r.Partition != "" {
		part := mapping(pair("key", scalar("dt")), pair("field", comment(str(r.Partition), "a folder per day")))
		n.Content = append(n.Content, pair("partition_by", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{part}})...)
	}
	return n
}

// rejects is the rejects section, with the dedup suggestion above it.
func (r *Result) rejects() []*yaml.Node {
	p := pair("rejects", mapping(pair("policy", comment(scalar("quarantine"), "the run goes on; rejected records are kept aside"))))
	if r.Dedup != "" {
		seen := "unique in the sample"
		if r.Repeats > 0 {
			seen = fmt.Sprintf("%s repeated in the sample", plural(r.Repeats, "value"))
		}
		p[0].HeadComment = fmt.Sprintf("%s looks like an id (%s); to keep the first\nrecord of each, uncomment:\ndedup:\n  keys: [%s]", r.Dedup, seen, r.Dedup)
	}
	return p
}

// YAML node helpers.

// scalar is a value YAML resolves by its text (1, true, decimal).
func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }

// quoted is a string in double quotes.
func quoted(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: v}
}

// str is a string, quoted when YAML would read its text as another type.
func str(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func comment(n *yaml.Node, line string) *yaml.Node {
	n.LineComment = line
	return n
}

func pair(key string, v *yaml.Node) []*yaml.Node { return []*yaml.Node{scalar(key), v} }

func mapping(pairs ...[]*yaml.Node) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, p := range pairs {
		n.Content = append(n.Content, p...)
	}
	return n
}

func flow(vals ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, v := range vals {
		n.Content = append(n.Content, str(v))
	}
	return n
}

// Text helpers.

// maxShown bounds a value shown in a comment, in characters.
const maxShown = 24

// quoteAll quotes values for a comment: cut to maxShown characters and
// escaped, so a comment stays on its line.
func quoteAll(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		if utf8.RuneCountInString(v) > maxShown {
			v = string([]rune(v)[:maxShown]) + "..."
		}
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

func compressionText(c codec.Compression) string {
	if c == codec.CompressionNone {
		return "uncompressed"
	}
	return string(c)
}

func percent(x float64) string { return strconv.FormatFloat(x*100, 'g', 4, 64) + "%" }

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func byRule(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func baseOf(name string) string {
	if i := strings.LastIndexAny(name, "/\\"); i >= 0 {
		return name[i+1:]
	}
	return name
}
