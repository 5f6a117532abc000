// Package infer writes a pipeline spec from a sample of an input: the
// format and compression settled as sluice run settles them, a field per
// column with the type its values fit (int, float, decimal with the
// scale they use, bool, timestamp or date with the layouts they take,
// unix and unix_ms included, or string), required when never empty,
// trimmed when padded, names made valid with from: keeping the input's,
// and suggestions (enum rules, dedup) as comments.
//
// A type tolerates a share of values that do not fit it (Options.Tolerance):
// sluice run rejects their records, and the spec lists them. Infer proves
// the spec it writes: it compiles it as sluice validate does and runs it
// over the sample with the processor sluice run uses, and the counts go
// in the spec's header.
//
// The package reads an io.Reader and imports no AWS SDK: `sluice init`
// opens the input.
package infer

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// DefaultTolerance is the share of a column's non-empty values that may
// fail to fit its type.
const DefaultTolerance = 0.05

// Options steer inference.
type Options struct {
	// Tolerance is the share of a column's non-empty sample values that
	// may fail to fit the type it gets, 0 to 1 (default DefaultTolerance).
	Tolerance float64
	// Name is the spec's name (default: the input's name without its
	// extensions).
	Name string
}

// Field is an inferred field and what the sample said about it.
type Field struct {
	spec.Field
	// Column is the input's column or key.
	Column string
	// Values counts the non-empty values; Padded those with leading or
	// trailing white space.
	Values, Padded int
	// Misfits counts the non-empty values that do not fit the type;
	// MisfitValues are the first few distinct ones, as the cast sees
	// them.
	Misfits      int
	MisfitValues []string
	// nullable says a null_if step would read every misfit as null: they
	// are all listed, and text or numbers.
	nullable bool
	// Enum is a suggested enum rule, for a column of a few short values.
	Enum []string
}

// Result is an inferred spec.
type Result struct {
	Name      string
	Tolerance float64
	Sample    *Sample
	Fields    []Field
	// Partition is the field the sink partitions by, by day, or "".
	Partition string
	// Dedup is a field that looks like a unique id, suggested as the
	// dedup key, or ""; Repeats counts its repeated values in the sample.
	Dedup   string
	Repeats int
	// Counts are what the spec does with the sample.
	Counts Counts
	// Doc is the spec: commented YAML.
	Doc []byte
}

// ErrTolerance: a tolerance outside 0 to 1.
var ErrTolerance = errors.New("tolerance must be from 0 to 1")

// Infer infers a spec from a sample, writes it, and runs it over the
// sample to count what it keeps and rejects.
func Infer(s *Sample, optFns ...func(*Options)) (*Result, error) {
	opt := Options{Tolerance: DefaultTolerance}
	for _, fn := range optFns {
		fn(&opt)
	}
	if !(opt.Tolerance >= 0 && opt.Tolerance <= 1) {
		return nil, fmt.Errorf("%w, not %v", ErrTolerance, opt.Tolerance)
	}
	r := &Result{Name: opt.Name, Tolerance: opt.Tolerance, Sample: s}
	if r.Name == "" {
		r.Name = baseName(s.Name)
	}
	if err := r.fields(); err != nil {
		return nil, err
	}
	r.suggest()
	return r, r.write()
}

// fields infers a field from each column.
func (r *Result) fields() error {
	names := fieldNames(r.Sample.Columns)
	for i, col := range r.Sample.Columns {
		cells := make([]codec.RawField, 0, len(r.Sample.Rows))
		for _, row := range r.Sample.Rows {
			if row.Err == nil {
				cells = append(cells, row.Fields[i])
			}
		}
		f, err := inferField(names[i], col, cells, r.Tolerance)
		if err != nil {
			return fmt.Errorf("column %q: %w", col, err)
		}
		r.Fields = append(r.Fields, f)
	}
	return nil
}

// maxListed is how many values that do not fit a field lists.
const maxListed = 5

// inferField gives a column the first type whose misfits are within the
// tolerance, or string.
func inferField(name, col string, cells []codec.RawField, tol float64) (Field, error) {
	c := scanColumn(cells)
	f := Field{Field: spec.Field{Name: name, Type: record.String.String()}, Column: col, Values: c.values, Padded: c.padded}
	if name != col {
		f.From = col
	}
	if c.trim {
		f.Clean = []spec.CleanStep{{Op: spec.CleanTrim}}
	}
	limit := int(tol * float64(c.values))
	var bad []int
	for _, cand := range append(c.candidates(name), kind(record.String)) {
		cand.Clean = f.Clean
		if cand.Type == record.String.String() {
			limit = len(cells) // the last resort holds what it can
		}
		b, ok, err := trial(cand, cells, limit)
		if err != nil {
			return f, err
		}
		if ok && len(b) < c.values || cand.Type == record.String.String() {
			f.Type, f.Scale, f.Layouts, bad = cand.Type, cand.Scale, cand.Layouts, b
			break
		}
	}
	f.Misfits = len(bad)
	f.MisfitValues, f.nullable = listed(c, bad)
	if c.empty() == 0 && len(cells) > 0 {
		f.Required = true
	}
	if f.Type == record.String.String() {
		f.Enum = enum(c, len(bad))
	}
	return f, nil
}

// listed are the first distinct values at the indexes bad, and whether
// they are all of them, each text or a number.
func listed(c *column, bad []int) ([]string, bool) {
	var out []string
	all := true
	for _, i := range bad {
		if k := c.cells[i].Kind; k != codec.RawString && k != codec.RawNumber {
			all = false
		}
		if t := c.texts[i]; !slices.Contains(out, t) {
			if len(out) == maxListed {
				all = false
				continue
			}
			out = append(out, t)
		}
	}
	return out, all
}

// Enum suggestions: a column of at least enumMinValues values that take
// at most enumMaxDistinct distinct short values, each repeated on average.
const (
	enumMinValues   = 10
	enumMaxDistinct = 10
	enumMaxLen      = 32
)

func enum(c *column, misfits int) []string {
	n := len(c.firstSeen)
	if misfits > 0 || c.values < enumMinValues || n < 2 || n > enumMaxDistinct || 2*n > c.values {
		return nil
	}
	out := make([]string, 0, n)
	for t := range c.firstSeen {
		if len(t) > enumMaxLen || strings.ContainsFunc(t, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil
		}
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// idWords are the last words of names that say a column is an id.
var idWords = []string{"id", "uuid", "guid"}

// suggest picks the partition field (the first timestamp, else the first
// date) and the dedup key (the first field named as an id that is never
// empty and whose values repeat no more than the tolerance allows).
func (r *Result) suggest() {
	for _, k := range []record.Kind{record.Timestamp, record.Date} {
		for _, f := range r.Fields {
			if r.Partition == "" && f.Type == k.String() {
				r.Partition = f.Name
			}
		}
	}
	for i, f := range r.Fields {
		w := words(f.Name)
		if len(w) == 0 || !slices.Contains(idWords, w[len(w)-1]) || !f.Required || f.Values < 2 ||
			(f.Type != record.Int.String() && f.Type != record.String.String()) {
			continue
		}
		repeats := f.Values - distinct(r.Sample, i, f.Clean != nil)
		if float64(repeats) <= r.Tolerance*float64(f.Values) {
			r.Dedup, r.Repeats = f.Name, repeats
			return
		}
	}
}

// distinct counts the distinct values of column i.
func distinct(s *Sample, i int, trim bool) int {
	seen := map[string]bool{}
	for _, row := range s.Rows {
		if row.Err == nil {
			seen[string(cleaned(row.Fields[i], trim))] = true
		}
	}
	return len(seen)
}

func cleaned(f codec.RawField, trim bool) []byte {
	if trim && f.Kind == codec.RawString {
		return []byte(strings.TrimSpace(string(f.Bytes)))
	}
	return f.Bytes
}

// baseName is an object's name without its folders and extensions.
func baseName(name string) string {
	b := path.Base(strings.ReplaceAll(name, "\\", "/"))
	if i := strings.IndexByte(b, '.'); i > 0 {
		b = b[:i]
	}
	return b
}
