// Package profile is the column profile of a run's output rows: per
// column, its null share, its min and max (numbers and times), an
// approximate distinct count, and, when values are asked for, the counts
// of a low-cardinality string column's values.
//
// A profile is computed while rows are encoded, one per chunk, and the
// chunks' profiles merge into the run's. Its JSON form is its whole state:
// a profile read back from JSON merges as the one written. Memory does not
// grow with the input: a column holds one HyperLogLog sketch (at most
// 4 KiB) and at most MaxTracked values of at most MaxValueBytes each.
//
// Guarantees:
//   - nulls and min/max are exact; min/max skip NaN and infinite floats;
//   - distinct_estimate is a HyperLogLog estimate over the non-null
//     values (github.com/axiomhq/hyperloglog, precision 12: a standard
//     error of about 1.6%, and near exact while a column has few values);
//     merging two profiles gives the estimate of their union. Strings are
//     hashed with xxh3 and numbers with MurmurHash3's finalizer, the same
//     in every process;
//   - top values are kept only with Options.Values, for string columns,
//     and exactly: the counts of every value while a column has at most
//     MaxTracked distinct values; past that the column is marked
//     high_cardinality and keeps none.
package profile

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/axiomhq/hyperloglog"
	"github.com/zeebo/xxh3"

	"github.com/sluice-etl/sluice/shared/core/record"
)

// Version is the version of the profile's JSON form.
const Version = 1

// MaxTracked is how many distinct values of a string column a profile
// counts exactly before it marks the column high-cardinality.
const MaxTracked = 32

// MaxValueBytes bounds a tracked value: a longer value is counted under
// its first MaxValueBytes bytes (cut on a rune boundary) followed by "…".
const MaxValueBytes = 128

// precision is the HyperLogLog sketches' precision: 2^12 registers, small
// enough to stay in cache beside the encoders (precision 14 halves the
// error and slows the reference job by a further 7%).
const precision = 12

// Options say what a profile keeps.
type Options struct {
	// Values keeps the counts of low-cardinality string columns' values:
	// record values, which may be personal data.
	Values bool
}

// Profile is the column profile of a chunk's or a run's output rows.
type Profile struct {
	Version int    `json:"profile_version"`
	RunID   string `json:"run_id,omitempty"`
	// Rows is the number of rows profiled: the run's records_out.
	Rows int64 `json:"rows"`
	// Values says whether top values were kept (Options.Values).
	Values  bool      `json:"values"`
	Columns []*Column `json:"columns"`
}

// New returns an empty profile of rows of schema.
func New(schema *record.Schema, opt Options) *Profile {
	p := &Profile{Version: Version, Values: opt.Values, Columns: make([]*Column, len(schema.Fields))}
	for i, f := range schema.Fields {
		p.Columns[i] = newColumn(f, opt.Values)
	}
	return p
}

// Observe adds one output row, its values in schema order.
func (p *Profile) Observe(row []record.Value) {
	p.Rows++
	row = row[:len(p.Columns)]
	for i, c := range p.Columns {
		if v := &row[i]; v.Kind == record.Null {
			c.Nulls++
		} else {
			c.observe(v)
		}
	}
}

// ErrMismatch is returned when merging profiles of different columns or
// options.
var ErrMismatch = errors.New("profiles do not match")

// Merge adds o into p. Both must profile the same columns with the same
// options.
func (p *Profile) Merge(o *Profile) error {
	if len(o.Columns) != len(p.Columns) || o.Values != p.Values {
		return fmt.Errorf("merge profile: %w: %d columns (values %v) into %d (values %v)", ErrMismatch, len(o.Columns), o.Values, len(p.Columns), p.Values)
	}
	for i, c := range p.Columns {
		if err := c.merge(o.Columns[i]); err != nil {
			return fmt.Errorf("merge profile: column %s: %w", c.Name, err)
		}
	}
	p.Rows += o.Rows
	return nil
}

// Column returns the named column, or nil.
func (p *Profile) Column(name string) *Column {
	for _, c := range p.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// NullShare is the share of the profiled rows where column c is null.
func (p *Profile) NullShare(c *Column) float64 {
	if p.Rows == 0 {
		return 0
	}
	return float64(c.Nulls) / float64(p.Rows)
}

// Column is the profile of one output column.
type Column struct {
	Name  string
	Kind  record.Kind
	Scale int
	// Nulls counts the rows where the column is null.
	Nulls int64
	// HighCardinality says the column had more than MaxTracked distinct
	// values, so none are kept (profiles with Options.Values only).
	HighCardinality bool

	// ranged says the column has a min and max: minI..maxI for ints,
	// decimals, timestamps and dates, minF..maxF for floats.
	ranged     bool
	minI, maxI int64
	minF, maxF float64
	sketch     *hyperloglog.Sketch
	// inserts counts the hashes inserted, up to denseAfter.
	inserts int
	// counts holds the exact count of each value while the column is
	// tracked (a string column of a profile with values, not yet high
	// cardinality); nil otherwise.
	counts map[string]*int64
	// last is the last string hashed into the sketch, if hasLast.
	last    []byte
	hasLast bool
}

func newColumn(f record.Field, values bool) *Column {
	c := &Column{Name: f.Name, Kind: f.Kind, Scale: f.Scale, sketch: newSketch(true)}
	if values && f.Kind == record.String {
		c.counts = map[string]*int64{}
	}
	return c
}

// newSketch returns an empty sketch: sparse, small in JSON while a
// column has few values, or dense, fast to insert into.
func newSketch(sparse bool) *hyperloglog.Sketch {
	sk, err := hyperloglog.NewSketch(precision, sparse)
	if err != nil {
		panic(err) // precision is a valid constant
	}
	return sk
}

// denseAfter is the number of hashes a column inserts into its sparse
// sketch before it moves to a dense one: a sparse insert costs several
// times a dense one.
const denseAfter = 2048

// insert adds a hash to the sketch.
func (c *Column) insert(h uint64) {
	c.sketch.InsertHash(h)
	if c.inserts++; c.inserts == denseAfter {
		dense := newSketch(false)
		if err := dense.Merge(c.sketch); err != nil {
			panic(err) // same precision
		}
		c.sketch = dense
	}
}

// Distinct is the estimated number of distinct non-null values.
func (c *Column) Distinct() uint64 { return c.sketch.Estimate() }

// Ranged reports whether the column has a min and max: a number or time
// column with at least one non-null (finite) value.
func (c *Column) Ranged() bool { return c.ranged }

// observe adds one non-null value.
func (c *Column) observe(v *record.Value) {
	switch v.Kind {
	case record.String:
		c.observeString(v.Bytes)
		return
	case record.Float:
		c.insert(mix(math.Float64bits(v.Float)))
		c.rangeFloat(v.Float)
		return
	}
	c.insert(mix(uint64(v.Int)))
	if v.Kind != record.Bool {
		c.rangeInt(v.Int)
	}
}

// observeString adds a string. A value equal to the last one, or already
// counted, is already in the sketch: it is not hashed again.
func (c *Column) observeString(b []byte) {
	if c.counts != nil && len(b) <= MaxValueBytes {
		if n, ok := c.counts[string(b)]; ok {
			*n++
			return
		}
	}
	if c.hasLast && string(b) == string(c.last) {
		if c.counts != nil {
			c.count(b)
		}
		return
	}
	c.insert(xxh3.Hash(b))
	if c.hasLast = len(b) <= maxLast; c.hasLast {
		c.last = append(c.last[:0], b...)
	}
	if c.counts != nil {
		c.count(b)
	}
}

// maxLast is the longest last value a column keeps to skip repeats.
const maxLast = 64

// mix is the 64-bit finalizer of MurmurHash3: it spreads an integer's
// bits over the whole hash, as the sketch needs. Like xxh3 for strings,
// it is the same in every process, so sketches from different chunks
// merge.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

func (c *Column) rangeInt(x int64) {
	switch {
	case !c.ranged:
		c.ranged, c.minI, c.maxI = true, x, x
	case x < c.minI:
		c.minI = x
	case x > c.maxI:
		c.maxI = x
	}
}

func (c *Column) rangeFloat(x float64) {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
	case !c.ranged:
		c.ranged, c.minF, c.maxF = true, x, x
	case x < c.minF:
		c.minF = x
	case x > c.maxF:
		c.maxF = x
	}
}

// count counts one value of a tracked column.
func (c *Column) count(b []byte) {
	if len(b) > MaxValueBytes {
		b = clip(b)
	}
	if n, ok := c.counts[string(b)]; ok {
		*n++
		return
	}
	c.add(string(b), 1)
}

// add adds n to a tracked value's count, and stops tracking a column
// with more than MaxTracked distinct values.
func (c *Column) add(v string, n int64) {
	if p, ok := c.counts[v]; ok {
		*p += n
		return
	}
	if len(c.counts) == MaxTracked {
		c.HighCardinality, c.counts = true, nil
		return
	}
	c.counts[v] = &n
}

// clip cuts a long value to MaxValueBytes on a rune boundary and marks
// the cut.
func clip(b []byte) []byte {
	n := MaxValueBytes
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return append(b[:n:n], "…"...)
}

// merge adds o into c.
func (c *Column) merge(o *Column) error {
	if o.Name != c.Name || o.Kind != c.Kind || o.Scale != c.Scale {
		return fmt.Errorf("%w: %s %s into %s %s", ErrMismatch, o.Name, o.Kind, c.Name, c.Kind)
	}
	c.Nulls += o.Nulls
	if err := c.sketch.Merge(o.sketch); err != nil {
		return fmt.Errorf("merge sketches: %w", err)
	}
	if o.ranged {
		if c.Kind == record.Float {
			c.rangeFloat(o.minF)
			c.rangeFloat(o.maxF)
		} else {
			c.rangeInt(o.minI)
			c.rangeInt(o.maxI)
		}
	}
	c.mergeCounts(o)
	return nil
}

func (c *Column) mergeCounts(o *Column) {
	if o.HighCardinality {
		c.HighCardinality, c.counts = true, nil
	}
	for v, n := range o.counts {
		if c.counts == nil {
			return
		}
		c.add(v, *n)
	}
}
