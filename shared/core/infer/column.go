package infer

import (
	"bytes"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// maxDecimalScale is the largest scale inferred as a decimal: with more
// places a column is a float (a decimal keeps 18 digits in all).
const maxDecimalScale = 9

// column is what a scan of one column's sample values found.
type column struct {
	cells []codec.RawField
	// trim says some values carry leading or trailing white space: the
	// field trims them, and texts are trimmed.
	trim bool
	// texts are the values as the cast sees them, "" for an empty one.
	texts  []string
	values int // non-empty values
	padded int // values with leading or trailing white space
	// places are the numbers of places after the point that plain
	// decimals are written with; exp says a number has an exponent;
	// zeros that an integer has a leading zero (a code, not a number).
	places    map[int]bool
	exp       bool
	zeros     bool
	hasBool   bool // a JSON true or false
	textOnly  bool // a JSON object or array: only a string holds it
	firstSeen map[string]int
}

var (
	plainDecimal = regexp.MustCompile(`^[+-]?[0-9]*\.?[0-9]*$`)
	leadingZero  = regexp.MustCompile(`^[+-]?0[0-9]`)
	exponent     = regexp.MustCompile(`^[+-]?[0-9.]+[eE][+-]?[0-9]+$`)
)

// scanColumn reads a column's values.
func scanColumn(cells []codec.RawField) *column {
	c := &column{cells: cells, texts: make([]string, len(cells)), firstSeen: map[string]int{}, places: map[int]bool{}}
	for _, f := range cells {
		if f.Kind == codec.RawString && len(bytes.TrimSpace(f.Bytes)) != len(f.Bytes) {
			c.padded++
		}
	}
	c.trim = c.padded > 0
	for i, f := range cells {
		c.read(i, f)
	}
	return c
}

func (c *column) read(i int, f codec.RawField) {
	switch f.Kind {
	case codec.RawMissing, codec.RawNull:
		return
	case codec.RawBool:
		c.hasBool = true
	case codec.RawJSON:
		c.textOnly = true
	}
	b := f.Bytes
	if c.trim && f.Kind == codec.RawString {
		b = bytes.TrimSpace(b)
	}
	if len(b) == 0 {
		return
	}
	t := string(b)
	c.texts[i] = t
	c.values++
	if _, ok := c.firstSeen[t]; !ok {
		c.firstSeen[t] = i
	}
	switch {
	case leadingZero.MatchString(t):
		c.zeros = true
	case plainDecimal.MatchString(t):
		if dot := strings.IndexByte(t, '.'); dot >= 0 && dot < len(t)-1 {
			c.places[len(t)-dot-1] = true
		}
	case exponent.MatchString(t):
		c.exp = true
	}
}

// empty is how many values are missing, null or empty once cleaned.
func (c *column) empty() int { return len(c.cells) - c.values }

// candidates are the types to try, in order; a string holds anything
// and is the last resort. name is the field's name, which may say that
// integers are times.
func (c *column) candidates(name string) []spec.Field {
	if c.textOnly {
		return nil
	}
	var out []spec.Field
	if l := c.unixLayout(name); l != "" {
		out = append(out, spec.Field{Type: record.Timestamp.String(), Layouts: []string{l}})
	}
	if !c.zeros {
		out = append(out, kind(record.Int))
		out = append(out, c.decimals()...)
		if c.exp || slices.ContainsFunc(slices.Collect(maps.Keys(c.places)), func(p int) bool { return p > maxDecimalScale }) {
			out = append(out, kind(record.Float))
		}
	}
	out = append(out, kind(record.Bool))
	if ls := c.timeLayouts(); len(ls) > 0 {
		k := record.Date
		for _, l := range ls {
			if !dateOnly[l] {
				k = record.Timestamp
			}
		}
		out = append(out, spec.Field{Type: k.String(), Layouts: ls})
	}
	return out
}

// decimals are a decimal of each scale the values are written with, the
// smallest first: the first that all but the tolerated share fit wins.
func (c *column) decimals() []spec.Field {
	var out []spec.Field
	for _, p := range slices.Sorted(maps.Keys(c.places)) {
		if p <= maxDecimalScale {
			out = append(out, spec.Field{Type: record.Decimal.String(), Scale: p})
		}
	}
	return out
}

// timeLayouts are the layouts tried for text times, in order. Go's
// parser takes fractional seconds after the seconds of any of them.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
	"2006/01/02 15:04:05",
	"2006/01/02",
	time.RFC1123Z,
	time.RFC1123,
}

// dateOnly are the layouts without a time of day.
var dateOnly = map[string]bool{"2006-01-02": true, "2006/01/02": true}

// timeLayouts are the layouts the column's values take, each value its
// first that fits, in the order they are tried: sluice run, trying them
// in that order, reads each value with the same one.
func (c *column) timeLayouts() []string {
	used := make([]bool, len(timeLayouts))
	for t := range c.firstSeen {
		for j, l := range timeLayouts {
			if _, err := time.ParseInLocation(l, t, time.UTC); err == nil {
				used[j] = true
				break
			}
		}
	}
	var out []string
	for j, l := range timeLayouts {
		if used[j] {
			out = append(out, l)
		}
	}
	return out
}

// Integers read as times: seconds or milliseconds from 2000 to 2100.
var (
	unixFrom, unixTo = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// timeWords are the words of a name that say a column holds times.
var timeWords = []string{"time", "timestamp", "ts", "date", "datetime", "at", "epoch", "created", "updated", "modified"}

// unixLayout is unix or unix_ms when the field's name says it holds times
// and every integer value is a time from 2000 to 2100 in that unit.
func (c *column) unixLayout(name string) string {
	if !hasWord(name, timeWords...) {
		return ""
	}
	secs, millis, n := true, true, 0
	for t := range c.firstSeen {
		v, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			continue
		}
		n++
		secs = secs && v >= unixFrom.Unix() && v < unixTo.Unix()
		millis = millis && v >= unixFrom.UnixMilli() && v < unixTo.UnixMilli()
	}
	switch {
	case n == 0:
		return ""
	case secs:
		return "unix"
	case millis:
		return "unix_ms"
	}
	return ""
}
