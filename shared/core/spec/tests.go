package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Test is one test case of a spec: inline input records, the context
// they arrive in, and what the run must produce. `sluice test` runs each
// case through the compiled plan in memory. Tests are not part of the
// spec's hash: they change nothing a run does.
type Test struct {
	Name    string      `yaml:"name"`
	Input   TestInput   `yaml:"input"`
	Context TestContext `yaml:"context"`
	Expect  Expect      `yaml:"expect"`

	file string
	at   Pos
}

// File is the file the case is in: the spec, or its test file.
func (t *Test) File() string { return t.file }

// Line is the line the case starts on (0: not known).
func (t *Test) Line() int { return t.at.Line }

// Where is the file and line the case starts at.
func (t *Test) Where() string {
	if t.at.Line == 0 {
		return t.file
	}
	return fmt.Sprintf("%s:%d", t.file, t.at.Line)
}

// TestInput is a case's input records: CSV text (with its header line,
// if the spec's CSV has one), or JSON objects.
type TestInput struct {
	CSV  *string      `yaml:"csv"`
	JSON []TestObject `yaml:"json"`
}

// Records is the number of input records: JSON objects, or CSV lines
// other than blank ones and the header. A quoted line break counts as a
// line.
func (in TestInput) Records(hasHeader bool) int {
	if in.CSV == nil {
		return len(in.JSON)
	}
	n := 0
	for _, l := range strings.Split(*in.CSV, "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	if hasHeader && n > 0 {
		n--
	}
	return n
}

// TestObject is one JSON input record, written in the case as a YAML
// mapping; its keys keep their order.
type TestObject struct {
	data []byte
}

// UnmarshalYAML accepts a mapping and keeps it as JSON.
func (o *TestObject) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return errAt(n, "a JSON input record is a mapping")
	}
	var b bytes.Buffer
	if err := appendJSON(&b, n); err != nil {
		return err
	}
	o.data = b.Bytes()
	return nil
}

// JSON is the record as one line of JSON.
func (o TestObject) JSON() []byte { return o.data }

// appendJSON writes a YAML node as JSON: mappings keep their key order,
// numbers and booleans are written as such, timestamps as strings.
func appendJSON(b *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.AliasNode:
		return appendJSON(b, n.Alias)
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			b.Write(k)
			b.WriteByte(':')
			if err := appendJSON(b, n.Content[i+1]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := appendJSON(b, c); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	default:
		return appendJSONScalar(b, n)
	}
	return nil
}

func appendJSONScalar(b *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!null":
		b.WriteString("null")
		return nil
	case "!!bool", "!!int", "!!float":
		if n.ShortTag() != "!!bool" && json.Valid([]byte(n.Value)) {
			b.WriteString(n.Value) // the number as written: 2.50 stays 2.50
			return nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return err
		}
		data, err := json.Marshal(v)
		if err != nil {
			return errAt(n, "%q has no JSON form", n.Value)
		}
		b.Write(data)
		return nil
	}
	s, _ := json.Marshal(n.Value)
	b.Write(s)
	return nil
}

// TestContext is what the records arrive with.
type TestContext struct {
	// SourceKey is the input object's key (default input.csv, or
	// input.jsonl / input.json): its extension settles source.format
	// auto, and rejects name it.
	SourceKey string `yaml:"source_key"`
	// Arrivals are the records' arrival times, one per record. With them
	// the case runs on the stream path: one message per record, applied
	// as one batch of one shard.
	Arrivals []TestTime `yaml:"arrivals"`
	// Now is the clock when the stream batch is applied (default: the
	// latest arrival); windows by arrival time close against it.
	Now *TestTime `yaml:"now"`
}

// Stream reports whether the case runs on the stream path.
func (c TestContext) Stream() bool { return len(c.Arrivals) > 0 }

// TestTime is an RFC 3339 time.
type TestTime time.Time

// UnmarshalYAML parses an RFC 3339 time.
func (t *TestTime) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.Parse(time.RFC3339Nano, n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return errAt(n, "bad time %q (want RFC 3339, e.g. 2026-11-01T09:00:00Z)", n.Value)
	}
	*t = TestTime(v)
	return nil
}

// Expect is what a case checks; each part given is checked, the others
// are not.
type Expect struct {
	// Rows are every output row, in output order (partition by
	// partition, in input order within one).
	Rows *[]TestRow `yaml:"rows"`
	// Fields, if given, are the only fields of each row compared;
	// otherwise every output field is.
	Fields []string `yaml:"fields"`
	// Rejects are every rejected record, in input order.
	Rejects *[]ExpectReject `yaml:"rejects"`
	// Filtered counts the filtered records by reason (filter:<name> or
	// dedup), all of them.
	Filtered *map[string]int64 `yaml:"filtered"`
	// Counts are the manifest's counts named.
	Counts *ExpectCounts `yaml:"counts"`
	// Windows are every closed window, by start, end, then key.
	Windows *[]ExpectWindow `yaml:"windows"`
	// Error, if given, is the error the run must fail with, or a part of
	// it.
	Error string `yaml:"error"`
}

// TestRow is an expected output row: field name to value.
type TestRow map[string]TestValue

// UnmarshalYAML reads a mapping of field names to single values. (A
// null value never reaches TestValue's own UnmarshalYAML.)
func (r *TestRow) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return errAt(n, "a row is a mapping of field names to values")
	}
	row := TestRow{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		var tv TestValue
		if err := tv.UnmarshalYAML(v); err != nil {
			return err
		}
		row[k.Value] = tv
	}
	*r = row
	return nil
}

// TestValue is an expected value: a scalar's text, or null.
type TestValue struct {
	Text string
	Null bool
}

// UnmarshalYAML accepts a scalar; null and ~ are null.
func (v *TestValue) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errAt(n, "want a single value")
	}
	*v = TestValue{Text: n.Value, Null: n.ShortTag() == "!!null"}
	return nil
}

// ExpectReject is an expected reject: the record's position, the rule
// and field that rejected it and, if given, the reason.
type ExpectReject struct {
	// Record is the record's number in the input, from 1.
	Record int64 `yaml:"record"`
	// Line is the CSV line the record starts on (the header is line 1);
	// compared when given.
	Line   int64  `yaml:"line"`
	Field  string `yaml:"field"`
	Rule   string `yaml:"rule"`
	Reason string `yaml:"reason"`
}

// ExpectCounts are manifest counts; those given are compared.
type ExpectCounts struct {
	In       *int64 `yaml:"in"`
	Out      *int64 `yaml:"out"`
	Rejected *int64 `yaml:"rejected"`
	Filtered *int64 `yaml:"filtered"`
	// RejectedByRule, if given, is compared whole.
	RejectedByRule map[string]int64 `yaml:"rejected_by_rule"`
}

// ExpectWindow is an expected closed window: its bounds and key always
// compared, its count and the aggregates named when given.
type ExpectWindow struct {
	// Start and End are RFC 3339 times; for count windows, Start is the
	// window's number and End is left out.
	Start string `yaml:"start"`
	End   string `yaml:"end"`
	// Key is the group key ("" without group_by).
	Key    string               `yaml:"key"`
	Count  *int64               `yaml:"count"`
	Fields map[string]ExpectAgg `yaml:"fields"`
}

// ExpectAgg is a field's expected aggregates; those given are compared.
type ExpectAgg struct {
	Count *int64      `yaml:"count"`
	Sum   *TestNumber `yaml:"sum"`
	Min   *TestNumber `yaml:"min"`
	Max   *TestNumber `yaml:"max"`
	Avg   *TestNumber `yaml:"avg"`
}

// TestNumber is an expected number and the text it was written as.
type TestNumber struct {
	Text  string
	Value float64
}

// UnmarshalYAML parses a number.
func (n *TestNumber) UnmarshalYAML(node *yaml.Node) error {
	v, err := strconv.ParseFloat(node.Value, 64)
	if err != nil || node.Kind != yaml.ScalarNode || math.IsNaN(v) || math.IsInf(v, 0) {
		return errAt(node, "want a number, not %q", node.Value)
	}
	*n = TestNumber{Text: node.Value, Value: v}
	return nil
}

// Matches reports whether v, rounded to as many decimals as the number
// was written with, is the number: avg 83.33 matches 83.3333.
func (n TestNumber) Matches(v float64) bool {
	_, frac, ok := strings.Cut(n.Text, ".")
	if strings.ContainsAny(n.Text, "eE") {
		return v == n.Value
	}
	places := 0
	if ok {
		places = len(frac)
	}
	scale := math.Pow10(places)
	return math.Round(v*scale) == math.Round(n.Value*scale)
}

// TestFileFor is the test file beside a spec: spec.yaml has
// spec.test.yaml.
func TestFileFor(specPath string) string {
	ext := filepath.Ext(specPath)
	return strings.TrimSuffix(specPath, ext) + ".test.yaml"
}

// LoadTests returns the spec's test cases: its tests section, then those
// of the test file beside it, if there is one.
func (s *Spec) LoadTests() ([]Test, error) {
	tests := s.Tests
	if s.file == "" {
		return tests, nil
	}
	path := TestFileFor(s.file)
	data, err := os.ReadFile(path)
	switch {
	case os.IsNotExist(err):
		return tests, nil
	case err != nil:
		return nil, fmt.Errorf("read tests: %w", err)
	}
	more, err := s.ParseTests(path, data)
	if err != nil {
		return nil, err
	}
	return append(append([]Test(nil), tests...), more...), nil
}

// testFile is a test file: a tests section alone.
type testFile struct {
	Tests []Test `yaml:"tests"`
}

// ParseTests parses and checks a test file (a document with a tests
// section) against the spec. name is used in error messages.
func (s *Spec) ParseTests(name string, data []byte) ([]Test, error) {
	if len(data) > MaxSpecBytes {
		return nil, &Error{File: name, Msg: fmt.Sprintf("test file is larger than %d bytes", MaxSpecBytes)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err, nil)
	}
	if len(root.Content) == 0 {
		return nil, &Error{File: name, Msg: "test file is empty"}
	}
	d := doc{file: name, pos: map[string]Pos{}}
	var places []place
	index(root.Content[0], "", d.pos, &places)
	var f testFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, yamlError(name, err, places)
	}
	if len(f.Tests) == 0 {
		return nil, d.errorf("tests", "no test cases")
	}
	if errs := s.checkTests(d, f.Tests); len(errs) > 0 {
		return nil, errs
	}
	return f.Tests, nil
}

// doc is a document's name and the positions of its keys.
type doc struct {
	file string
	pos  map[string]Pos
}

// errorf builds an Error at key; the line is that of the key, or of the
// nearest enclosing key.
func (d doc) errorf(key, format string, args ...any) *Error {
	e := &Error{File: d.file, Key: key, Msg: fmt.Sprintf(format, args...)}
	for k := key; k != ""; k = parentKey(k) {
		if p, ok := d.pos[k]; ok {
			e.Line, e.Col = p.Line, p.Col
			break
		}
	}
	return e
}
