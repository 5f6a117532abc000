// Package spec defines sluice's declarative pipeline spec (version 1): its
// types, its YAML/JSON loader and its structural checks. Errors name the
// file, line and key. Expressions and regular expressions are compiled by
// the transform package, which reports through the same Error type.
package spec

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/window"
)

// Spec is a pipeline spec.
type Spec struct {
	Version  int      `yaml:"version" json:"version"`
	Name     string   `yaml:"name" json:"name"`
	Source   Source   `yaml:"source" json:"source"`
	Fields   []Field  `yaml:"fields" json:"fields"`
	Validate []Check  `yaml:"validate" json:"validate,omitempty"`
	Derive   []Derive `yaml:"derive" json:"derive,omitempty"`
	Filter   Filters  `yaml:"filter" json:"filter,omitempty"`
	Dedup    *Dedup   `yaml:"dedup" json:"dedup,omitempty"`
	Window   *Window  `yaml:"window" json:"window,omitempty"`
	Stream   Stream   `yaml:"stream" json:"stream"`
	Sink     Sink     `yaml:"sink" json:"sink"`
	Rejects  Rejects  `yaml:"rejects" json:"rejects"`
	Limits   Limits   `yaml:"limits" json:"limits"`
	// Tests are the spec's test cases (`sluice test`). They are left
	// out of the spec's JSON form, and so of its hash: they change
	// nothing a run does.
	Tests  []Test  `yaml:"tests" json:"-"`
	Report *Report `yaml:"report" json:"report,omitempty"`

	file string
	pos  map[string]Pos
}

// Source says how input is decoded.
type Source struct {
	Format         codec.Format      `yaml:"format" json:"format"`
	Compression    codec.Compression `yaml:"compression" json:"compression"`
	CSV            CSVOptions        `yaml:"csv" json:"csv"`
	MaxRecordBytes Size              `yaml:"max_record_bytes" json:"max_record_bytes"`
	// UnknownColumns is the schema contract for a CSV header column or a
	// JSON key that no field reads: ignore (default), reject or fail.
	UnknownColumns codec.UnknownPolicy `yaml:"unknown_columns" json:"unknown_columns,omitempty"`
	// MissingColumns is the schema contract for a field whose CSV column
	// or JSON key the input lacks: fail or null; empty keeps each
	// format's own (CSV fails, JSON reads null). A field's Missing
	// overrides it.
	MissingColumns codec.MissingPolicy `yaml:"missing_columns" json:"missing_columns,omitempty"`
}

// CSVOptions are the CSV source options.
type CSVOptions struct {
	Header    *bool    `yaml:"header" json:"header,omitempty"`
	Columns   []string `yaml:"columns" json:"columns,omitempty"`
	Delimiter string   `yaml:"delimiter" json:"delimiter,omitempty"`
	Quote     string   `yaml:"quote" json:"quote,omitempty"`
	Comment   string   `yaml:"comment" json:"comment,omitempty"`
	// BOM is strip (default) or keep.
	BOM BOMPolicy `yaml:"bom" json:"bom,omitempty"`
}

// HasHeader reports whether the CSV input starts with a header line.
func (c CSVOptions) HasHeader() bool { return c.Header == nil || *c.Header }

// Field declares one output field and how it is produced from the input.
type Field struct {
	Name     string      `yaml:"name" json:"name"`
	From     string      `yaml:"from" json:"from,omitempty"`
	Type     string      `yaml:"type" json:"type"`
	Scale    int         `yaml:"scale" json:"scale,omitempty"`
	Layouts  []string    `yaml:"layouts" json:"layouts,omitempty"`
	Timezone string      `yaml:"timezone" json:"timezone,omitempty"`
	Clean    []CleanStep `yaml:"clean" json:"clean,omitempty"`
	Required bool        `yaml:"required" json:"required,omitempty"`
	Rules    Rules       `yaml:"rules" json:"rules"`
	// Drop keeps the field for rules and expressions but leaves it out
	// of the output.
	Drop bool `yaml:"drop" json:"drop,omitempty"`
	// Missing is the field's own missing column policy (default:
	// source.missing_columns).
	Missing codec.MissingPolicy `yaml:"missing" json:"missing,omitempty"`
}

// Source returns the input column or key the field reads.
func (f Field) Source() string {
	if f.From != "" {
		return f.From
	}
	return f.Name
}

// Rules are per-field validation rules. A null value passes every rule but
// required.
type Rules struct {
	Regex  string   `yaml:"regex" json:"regex,omitempty"`
	Min    *Scalar  `yaml:"min" json:"min,omitempty"`
	Max    *Scalar  `yaml:"max" json:"max,omitempty"`
	Length *Length  `yaml:"length" json:"length,omitempty"`
	Enum   []string `yaml:"enum" json:"enum,omitempty"`
	// Expr must be true; the field's value is `value`, other fields by name.
	Expr string `yaml:"expr" json:"expr,omitempty"`
}

// Length bounds a string's length in characters.
type Length struct {
	Min *int `yaml:"min" json:"min,omitempty"`
	Max *int `yaml:"max" json:"max,omitempty"`
}

// Scalar is a YAML scalar kept as text, read according to the field type.
type Scalar string

// UnmarshalYAML accepts any scalar.
func (s *Scalar) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errAt(n, "want a single value")
	}
	*s = Scalar(n.Value)
	return nil
}

// CleanStep is one cleaning step: trim, lower, upper, collapse_spaces,
// {null_if: [..]} or {default: value}.
type CleanStep struct {
	Op     string   `json:"op"`
	Values []string `json:"values,omitempty"`
}

// Clean step names.
const (
	CleanTrim     = "trim"
	CleanLower    = "lower"
	CleanUpper    = "upper"
	CleanCollapse = "collapse_spaces"
	CleanNullIf   = "null_if"
	CleanDefault  = "default"
)

// UnmarshalYAML reads a bare step name or a one-key mapping.
func (c *CleanStep) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Value {
		case CleanTrim, CleanLower, CleanUpper, CleanCollapse:
			c.Op = n.Value
			return nil
		case CleanNullIf, CleanDefault:
			return errAt(n, "clean step %q needs a value, as {%s: ...}", n.Value, n.Value)
		}
		return errAt(n, "unknown clean step %q (want trim, lower, upper, collapse_spaces, null_if or default)", n.Value)
	case yaml.MappingNode:
		if len(n.Content) != 2 {
			return errAt(n, "a clean step mapping has exactly one key")
		}
		k, v := n.Content[0], n.Content[1]
		c.Op = k.Value
		switch k.Value {
		case CleanNullIf:
			if v.Kind == yaml.ScalarNode {
				c.Values = []string{v.Value}
				return nil
			}
			return v.Decode(&c.Values)
		case CleanDefault:
			if v.Kind != yaml.ScalarNode {
				return errAt(v, "default takes a single value")
			}
			c.Values = []string{v.Value}
			return nil
		}
		return errAt(k, "unknown clean step %q", k.Value)
	}
	return errAt(n, "a clean step is a name or a one-key mapping")
}

// Check is a record-level rule: an expression that must be true.
type Check struct {
	Name string `yaml:"name" json:"name"`
	Expr string `yaml:"expr" json:"expr"`
}

// Derive adds a field computed by an expression.
type Derive struct {
	Name  string `yaml:"name" json:"name"`
	Expr  string `yaml:"expr" json:"expr"`
	Type  string `yaml:"type" json:"type,omitempty"`
	Scale int    `yaml:"scale" json:"scale,omitempty"`
}

// Filter keeps the rows for which Expr is true; the others are counted as
// filtered under "filter:<name>".
type Filter struct {
	Name string `yaml:"name" json:"name"`
	Expr string `yaml:"expr" json:"expr"`
}

// Filters is a list of filters; a bare string is one filter named "filter".
type Filters []Filter

// UnmarshalYAML accepts a string or a list of {name, expr}.
func (f *Filters) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*f = Filters{{Name: "filter", Expr: n.Value}}
		return nil
	}
	// Node.Decode does not inherit the decoder's KnownFields, so unknown
	// keys are found here.
	if n.Kind == yaml.SequenceNode {
		var unknown []string
		for _, item := range n.Content {
			if item.Kind != yaml.MappingNode {
				continue
			}
			for i := 0; i+1 < len(item.Content); i += 2 {
				if k := item.Content[i]; k.Value != "name" && k.Value != "expr" {
					unknown = append(unknown, fmt.Sprintf("line %d: field %s not found in type spec.Filter", k.Line, k.Value))
				}
			}
		}
		if len(unknown) > 0 {
			return &yaml.TypeError{Errors: unknown}
		}
	}
	var list []Filter
	if err := n.Decode(&list); err != nil {
		return err
	}
	*f = list
	return nil
}

// Dedup drops rows whose key was already seen in the run.
type Dedup struct {
	Keys    []string `yaml:"keys" json:"keys"`
	MaxKeys int      `yaml:"max_keys" json:"max_keys,omitempty"`
}

// Window declares the stream path's windowed aggregates: per group key,
// count, sum, min, max and avg of each aggregated field.
type Window struct {
	// Kind is tumbling, sliding or count.
	Kind window.Kind `yaml:"kind" json:"kind"`
	// Size and Hop (sliding only) of time windows.
	Size Duration `yaml:"size" json:"size,omitempty"`
	Hop  Duration `yaml:"hop" json:"hop,omitempty"`
	// Every is the number of records per count window, per key.
	Every int64 `yaml:"every" json:"every,omitempty"`
	// Time is event (TimeField's value) or arrival (the stream's
	// arrival timestamp). The default is event when TimeField is set.
	Time      WindowTime `yaml:"time" json:"time,omitempty"`
	TimeField string     `yaml:"time_field" json:"time_field,omitempty"`
	// GroupBy fields make up the key; none: one group.
	GroupBy []string `yaml:"group_by" json:"group_by,omitempty"`
	// Aggregate lists the numeric fields to aggregate.
	Aggregate []string `yaml:"aggregate" json:"aggregate,omitempty"`
	// Lateness is how far behind the newest event time a record may be
	// and still count; Late says what becomes of later ones: drop
	// (counted) or side (written to the late/ side output).
	Lateness Duration          `yaml:"lateness" json:"lateness,omitempty"`
	Late     window.LatePolicy `yaml:"late" json:"late,omitempty"`
	// Native uses Lambda's own tumbling windows (TumblingWindowInSeconds
	// = Size): Lambda carries the aggregates between invocations.
	Native bool `yaml:"native" json:"native,omitempty"`
	// Keep is how long closed-window results are kept (default 30 days).
	Keep Duration `yaml:"keep" json:"keep,omitempty"`
}

// MaxNativeWindow is Lambda's limit on TumblingWindowInSeconds.
const MaxNativeWindow = 15 * time.Minute

// Stream configures the Kinesis path.
type Stream struct {
	// OnFailure is report (default: a failed shard's uncommitted
	// records are returned as batch item failures) or fail_fast (every
	// record from the first failure on, across the batch, is returned).
	OnFailure FailureMode `yaml:"on_failure" json:"on_failure,omitempty"`
	// CommitInterval and CommitFiles bound an iceberg sink's commits on
	// the stream path: a shard's data files are held back and committed
	// together once the oldest has waited CommitInterval (default 1m) or
	// CommitFiles of them are held (default 100).
	CommitInterval Duration `yaml:"commit_interval" json:"commit_interval,omitempty"`
	CommitFiles    int      `yaml:"commit_files" json:"commit_files,omitempty"`
}

// Stream commit bounds and defaults.
const (
	DefaultCommitInterval = Duration(time.Minute)
	DefaultCommitFiles    = 100
	MinCommitInterval     = Duration(time.Second)
	MaxCommitInterval     = Duration(24 * time.Hour)
	MaxCommitFiles        = 10000
)

// Duration is a time span written as Go duration text: 90s, 5m, 1h30m.
type Duration time.Duration

// UnmarshalYAML parses a duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return errAt(n, "bad duration %q (want e.g. 90s, 5m or 1h)", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

// Sink says where and how output is written.
type Sink struct {
	Format          codec.SinkFormat  `yaml:"format" json:"format"`
	Compression     codec.Compression `yaml:"compression" json:"compression,omitempty"`
	PartitionBy     []Partition       `yaml:"partition_by" json:"partition_by,omitempty"`
	MaxRowsPerFile  int64             `yaml:"max_rows_per_file" json:"max_rows_per_file,omitempty"`
	MaxBytesPerFile Size              `yaml:"max_bytes_per_file" json:"max_bytes_per_file,omitempty"`
	MaxOpenFiles    int               `yaml:"max_open_files" json:"max_open_files,omitempty"`
	// Compact tunes `sluice compact` and the stack's scheduled compaction
	// of this sink's output.
	Compact Compact `yaml:"compact" json:"compact,omitzero"`
	CSV     struct {
		Delimiter string `yaml:"delimiter" json:"delimiter,omitempty"`
	} `yaml:"csv" json:"csv"`
	// Table and Key configure the dynamodb sink: rows are upserted into
	// Table, whose primary key attributes are Key (partition key, then
	// the sort key if the table has one). The iceberg sink's Table is a
	// namespace and a name; so is a jsonl, csv or parquet sink's with
	// catalog glue: the Glue database and table its output is
	// registered in.
	Table TableRef `yaml:"table" json:"table,omitzero"`
	Key   []string `yaml:"key" json:"key,omitempty"`
	// Catalog is where the iceberg sink's table lives (default local).
	// On a jsonl, csv or parquet sink, glue registers each run's output
	// in the Glue table Table (the default is no catalog).
	Catalog CatalogKind `yaml:"catalog" json:"catalog,omitempty"`
	// Warehouse is the local catalog's folder (default: the run's output
	// folder, with the catalog in _catalog.db and the tables under
	// warehouse/), or the glue catalog's s3://bucket[/prefix], under
	// which each table is namespace/name. sluice run needs it for glue;
	// the AWS functions default it to the stack's warehouse.
	Warehouse string `yaml:"warehouse" json:"warehouse,omitempty"`
}

// Compact says which files compaction merges, and into what.
type Compact struct {
	// TargetBytes is the size of a merged file (default 128MiB); files at
	// or above it are left alone.
	TargetBytes Size `yaml:"target_bytes" json:"target_bytes,omitempty"`
	// MinFiles is the fewest small files worth a merge (default 2).
	MinFiles int `yaml:"min_files" json:"min_files,omitempty"`
	// MinAge leaves newer files for a later compaction (default 0).
	MinAge Duration `yaml:"min_age" json:"min_age,omitempty"`
}

// TargetBytesOrDefault is the size of a merged file.
func (k Compact) TargetBytesOrDefault() int64 {
	if k.TargetBytes == 0 {
		return int64(DefaultCompactTargetBytes)
	}
	return int64(k.TargetBytes)
}

// MinFilesOrDefault is the fewest small files worth a merge.
func (k Compact) MinFilesOrDefault() int {
	if k.MinFiles == 0 {
		return DefaultCompactMinFiles
	}
	return k.MinFiles
}

// Compaction defaults and bounds.
const (
	DefaultCompactTargetBytes = Size(128 << 20)
	DefaultCompactMinFiles    = 2
	MinCompactTargetBytes     = Size(1 << 20)
)

// TableRef names a table: a bare name (the dynamodb sink) or a namespace
// and a name (the iceberg sink, and Glue registration).
type TableRef struct {
	Namespace string `yaml:"namespace" json:"namespace,omitempty"`
	Name      string `yaml:"name" json:"name"`
}

// UnmarshalYAML accepts a name or a mapping {namespace, name}.
func (t *TableRef) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*t = TableRef{Name: n.Value}
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				return errAt(v, "want a single value")
			}
			switch k.Value {
			case "namespace":
				t.Namespace = v.Value
			case "name":
				t.Name = v.Value
			default:
				return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: field %s not found in type spec.TableRef", k.Line, k.Value)}}
			}
		}
		return nil
	}
	return errAt(n, "want a table name or {namespace, name}")
}

// MarshalJSON writes a bare name as a string, as the dynamodb sink's
// table always was, and a namespaced name as an object.
func (t TableRef) MarshalJSON() ([]byte, error) {
	if t.Namespace == "" {
		return []byte(strconv.Quote(t.Name)), nil
	}
	return []byte(`{"namespace":` + strconv.Quote(t.Namespace) + `,"name":` + strconv.Quote(t.Name) + `}`), nil
}

// String is namespace.name, or the bare name.
func (t TableRef) String() string {
	if t.Namespace == "" {
		return t.Name
	}
	return t.Namespace + "." + t.Name
}

// Partition is one Hive-style partition level: key=value.
type Partition struct {
	Key   string `yaml:"key" json:"key"`
	Field string `yaml:"field" json:"field"`
	// Layout formats timestamp and date fields (Go layout; default
	// 2006-01-02).
	Layout string `yaml:"layout" json:"layout,omitempty"`
	// Transform is the iceberg sink's partition transform: identity,
	// hour, day or month (default day for timestamps, identity else).
	Transform PartitionTransform `yaml:"transform" json:"transform,omitempty"`
}

// Rejects is the reject policy.
type Rejects struct {
	// Policy is quarantine (default) or fail.
	Policy RejectPolicy `yaml:"policy" json:"policy"`
	// MaxRatio fails the run when rejected/in exceeds it (0: no limit).
	MaxRatio float64 `yaml:"max_ratio" json:"max_ratio,omitempty"`
}

// Report says what a run's report holds, and whether the AWS functions
// write one. Without it a run writes its column profile, with no record
// values, and no report page.
type Report struct {
	// HTML has the load function write the report page and its JSON twin
	// beside the run's manifest (sluice run writes them with --report).
	HTML bool `yaml:"html" json:"html,omitempty"`
	// ShowValues keeps record values in the profile (the top values of
	// low-cardinality string columns) and shows them and sample rejected
	// rows in the report. Values may be personal data.
	ShowValues bool `yaml:"show_values" json:"show_values,omitempty"`
}

// ShowValues reports whether the spec asks for record values in the
// profile and the report.
func (s *Spec) ShowValues() bool { return s.Report != nil && s.Report.ShowValues }

// ReportHTML reports whether the spec asks the functions for a report page.
func (s *Spec) ReportHTML() bool { return s.Report != nil && s.Report.HTML }

// Limits bound resource use.
type Limits struct {
	MaxInputBytes        Size    `yaml:"max_input_bytes" json:"max_input_bytes,omitempty"`
	MaxDecompressedBytes Size    `yaml:"max_decompressed_bytes" json:"max_decompressed_bytes,omitempty"`
	MaxCompressionRatio  float64 `yaml:"max_compression_ratio" json:"max_compression_ratio,omitempty"`
	ExprMaxNodes         int     `yaml:"expr_max_nodes" json:"expr_max_nodes,omitempty"`
	// MaxZstdWindow caps the window a zstd frame may need, which the
	// decoder's memory grows with (0: DefaultMaxZstdWindow).
	MaxZstdWindow Size `yaml:"max_zstd_window" json:"max_zstd_window,omitempty"`
}

// Defaults for limits.
const (
	DefaultMaxCompressionRatio  = 200
	DefaultMaxDecompressedBytes = 64 << 30
	DefaultExprMaxNodes         = 500
	DefaultMaxRowsPerFile       = 5_000_000
	DefaultMaxOpenFiles         = 64
)

// Size is a byte count written as a number or with a unit (KiB, MiB, GiB,
// KB, MB, GB).
type Size int64

var sizeRE = regexp.MustCompile(`^\s*(\d+)\s*([KMGT]i?B|B)?\s*$`)

// UnmarshalYAML parses a size.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return errAt(n, "bad size %q (want a number of bytes or e.g. 64MiB)", n.Value)
	}
	*s = Size(v)
	return nil
}

// ParseSize parses "123", "64KiB", "10MB" and the like.
func ParseSize(str string) (int64, error) {
	m := sizeRE.FindStringSubmatch(str)
	if m == nil {
		return 0, fmt.Errorf("bad size %q", str)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q: too large", str)
	}
	mult := map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[m[2]]
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("bad size %q: too large", str)
	}
	return n * mult, nil
}

// Pos is a place in a spec file.
type Pos struct{ Line, Col int }

// Error is a spec error at a key.
type Error struct {
	File string
	Line int
	Col  int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is a list of spec errors; it unwraps to each.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the errors.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// File returns the file the spec was loaded from.
func (s *Spec) File() string { return s.file }

// Errorf builds an Error at key (a path such as fields[2].rules.regex).
// The line is that of the key, or of the nearest enclosing key.
func (s *Spec) Errorf(key, format string, args ...any) *Error {
	return doc{file: s.file, pos: s.pos}.errorf(key, format, args...)
}

func parentKey(k string) string {
	i := strings.LastIndexAny(k, ".[")
	if i < 0 {
		return ""
	}
	return k[:i]
}

// LoadFile reads and checks a spec file.
func LoadFile(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return Parse(path, data)
}

// MaxSpecBytes bounds the size of a spec document.
const MaxSpecBytes = 1 << 20

// Parse parses and checks a spec. name is used in error messages.
func Parse(name string, data []byte) (*Spec, error) {
	if len(data) > MaxSpecBytes {
		return nil, &Error{File: name, Msg: fmt.Sprintf("spec is larger than %d bytes", MaxSpecBytes)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err, nil)
	}
	if len(root.Content) == 0 {
		return nil, &Error{File: name, Msg: "spec is empty"}
	}
	s := &Spec{file: name, pos: map[string]Pos{}}
	var places []place
	index(root.Content[0], "", s.pos, &places)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(s); err != nil {
		return nil, yamlError(name, err, places)
	}
	s.file, s.pos = name, s.posOrInit()
	s.nullPolicies(places)
	s.applyDefaults()
	if errs := s.check(); len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// nullPolicies reads a bare null written as a missing column policy
// (`missing: null`, or ~) as the policy null: YAML reads it as no value,
// which would leave the key at its default. An empty value stays empty.
func (s *Spec) nullPolicies(places []place) {
	for _, pl := range places {
		v := pl.val
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!null" || v.Value == "" {
			continue
		}
		if pl.path == "source.missing_columns" {
			s.Source.MissingColumns = codec.MissingNull
			continue
		}
		rest, inFields := strings.CutPrefix(pl.path, "fields[")
		num, key, _ := strings.Cut(rest, "]")
		if i, err := strconv.Atoi(num); inFields && err == nil && key == ".missing" && i < len(s.Fields) {
			s.Fields[i].Missing = codec.MissingNull
		}
	}
}

func (s *Spec) posOrInit() map[string]Pos {
	if s.pos == nil {
		return map[string]Pos{}
	}
	return s.pos
}

// A place is a key path in the document: a mapping key or a list item,
// and the node that holds its value.
type place struct {
	path string
	key  string // the mapping key; "" for a list item
	at   Pos    // where the key or list item starts
	val  *yaml.Node
}

// index records the position of every key path, and every place.
func index(n *yaml.Node, path string, pos map[string]Pos, places *[]place) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			pos[p] = Pos{k.Line, k.Column}
			*places = append(*places, place{path: p, key: k.Value, at: pos[p], val: v})
			index(v, p, pos, places)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			pos[p] = Pos{c.Line, c.Column}
			*places = append(*places, place{path: p, at: pos[p], val: c})
			index(c, p, pos, places)
		}
	}
}

// nodeError is an error at one node, from an UnmarshalYAML method.
type nodeError struct {
	at  Pos
	msg string
}

func (e *nodeError) Error() string { return fmt.Sprintf("line %d: %s", e.at.Line, e.msg) }

func errAt(n *yaml.Node, format string, args ...any) error {
	return &nodeError{at: Pos{n.Line, n.Column}, msg: fmt.Sprintf(format, args...)}
}

var yamlLineRE = regexp.MustCompile(`^\s*(?:yaml: )?line (\d+): (.*)$`)
var typeNameRE = regexp.MustCompile(` in type [\w.\[\]* ]+$| into [\w.\[\]*]+$`)
var unmarshalRE = regexp.MustCompile("(?s)^cannot unmarshal (!!\\w+)(?: `(.*)`)? into ")

func yamlError(name string, err error, places []place) error {
	var ne *nodeError
	if errors.As(err, &ne) {
		e := &Error{File: name, Line: ne.at.Line, Col: ne.at.Col, Msg: ne.msg}
		for _, pl := range places {
			if pl.at == ne.at || (pl.val.Line == ne.at.Line && pl.val.Column == ne.at.Col) {
				e.Key = pl.path
				break
			}
		}
		return Errors{e}
	}
	var te *yaml.TypeError
	var msgs []string
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	// The places on each line, by the line of the key or of the value.
	onLine := map[int][]*place{}
	for i := range places {
		pl := &places[i]
		onLine[pl.at.Line] = append(onLine[pl.at.Line], pl)
		if pl.val.Line != pl.at.Line {
			onLine[pl.val.Line] = append(onLine[pl.val.Line], pl)
		}
	}
	var errs Errors
	for _, m := range msgs {
		e := &Error{File: name, Msg: strings.TrimPrefix(m, "yaml: ")}
		if g := yamlLineRE.FindStringSubmatch(m); g != nil {
			e.Line, _ = strconv.Atoi(g[1])
			e.Msg = g[2]
			if pl := placeOf(onLine[e.Line], e.Line, e.Msg); pl != nil {
				e.Key = pl.path
				if pl.at.Line == e.Line {
					e.Col = pl.at.Col
				}
			}
		}
		if strings.HasPrefix(e.Msg, "field ") && strings.Contains(e.Msg, " not found in type") {
			f := strings.Fields(e.Msg)[1]
			e.Msg = fmt.Sprintf("unknown key %q", f)
		} else if strings.HasPrefix(e.Msg, "cannot unmarshal") {
			e.Msg = "wrong type: " + typeNameRE.ReplaceAllStringFunc(e.Msg, func(s string) string {
				if strings.HasPrefix(s, " into ") {
					return " into " + goTypeToSpec(strings.TrimPrefix(s, " into "))
				}
				return ""
			})
		}
		errs = append(errs, e)
	}
	return errs
}

// placeOf finds, among the places on line, the one a yaml error message
// refers to: the unknown key it names, or the value it could not decode.
// Failing that, it is the deepest key on the line.
func placeOf(places []*place, line int, msg string) *place {
	if f := strings.Fields(msg); len(f) > 1 && f[0] == "field" && strings.Contains(msg, " not found in type") {
		for _, pl := range places {
			if pl.at.Line == line && pl.key == f[1] {
				return pl
			}
		}
	} else if g := unmarshalRE.FindStringSubmatch(msg); g != nil {
		var best *place
		for _, pl := range places {
			if pl.val.Line != line {
				continue
			}
			var match bool
			switch {
			case g[1] == "!!map":
				match = pl.val.Kind == yaml.MappingNode
			case g[1] == "!!seq":
				match = pl.val.Kind == yaml.SequenceNode
			case strings.HasSuffix(g[2], "..."):
				match = pl.val.Kind == yaml.ScalarNode && strings.HasPrefix(pl.val.Value, strings.TrimSuffix(g[2], "..."))
			default:
				match = pl.val.Kind == yaml.ScalarNode && pl.val.Value == g[2]
			}
			if match && (best == nil || len(pl.path) > len(best.path)) {
				best = pl
			}
		}
		if best != nil {
			return best
		}
	}
	var best *place
	for _, pl := range places {
		if pl.at.Line == line && (best == nil || (pl.key != "" && len(pl.path) > len(best.path))) {
			best = pl
		}
	}
	return best
}

func goTypeToSpec(t string) string {
	switch {
	case stringTypes[t]:
		return "a string"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "spec.Size"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool", t == "*bool":
		return "a boolean"
	}
	return "a mapping"
}

// stringTypes are the names yaml gives the string types of the spec's
// fields: string and the enumerated types (codec.Format, window.Kind,
// ...).
var stringTypes = stringTypesOf(reflect.TypeFor[Spec](), map[string]bool{})

func stringTypesOf(t reflect.Type, names map[string]bool) map[string]bool {
	switch t.Kind() {
	case reflect.String:
		names[t.String()] = true
	case reflect.Pointer, reflect.Slice:
		stringTypesOf(t.Elem(), names)
	case reflect.Struct:
		for i := range t.NumField() {
			stringTypesOf(t.Field(i).Type, names)
		}
	}
	return names
}
