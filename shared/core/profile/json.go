package profile

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-etl/sluice/shared/core/record"
)

// ValueCount is one value of a column and how many rows hold it.
type ValueCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// columnJSON is a column's JSON form. min and max are JSON numbers for
// int, decimal and float columns (a decimal with exactly its scale's
// digits), and strings for timestamps (RFC 3339, UTC, microseconds) and
// dates (2006-01-02). sketch is the HyperLogLog sketch in
// github.com/axiomhq/hyperloglog's binary form, base64: hashes, no values.
type columnJSON struct {
	Name            string          `json:"name"`
	Type            string          `json:"type"`
	Scale           int             `json:"scale,omitempty"`
	Nulls           int64           `json:"nulls"`
	Min             json.RawMessage `json:"min,omitempty"`
	Max             json.RawMessage `json:"max,omitempty"`
	Distinct        uint64          `json:"distinct_estimate"`
	HighCardinality bool            `json:"high_cardinality,omitempty"`
	Top             []ValueCount    `json:"top,omitempty"`
	Sketch          []byte          `json:"sketch"`
}

// Top is the counts of a tracked column's values, most frequent first
// (ties by value); nil for a column whose values are not kept.
func (c *Column) Top() []ValueCount {
	if c.counts == nil {
		return nil
	}
	top := make([]ValueCount, 0, len(c.counts))
	for v, n := range c.counts {
		top = append(top, ValueCount{Value: v, Count: *n})
	}
	slices.SortFunc(top, func(a, b ValueCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Value, b.Value))
	})
	return top
}

// Min is the column's smallest value as text ("" when it has none).
func (c *Column) Min() string { return c.bound(c.minI, c.minF) }

// Max is the column's largest value as text ("" when it has none).
func (c *Column) Max() string { return c.bound(c.maxI, c.maxF) }

func (c *Column) bound(i int64, f float64) string {
	if !c.ranged {
		return ""
	}
	if c.Kind == record.Float {
		return string(record.AppendFloat(nil, f))
	}
	return string(record.AppendText(nil, record.Value{Kind: c.Kind, Int: i}, c.Scale))
}

// boundJSON is a bound's JSON form: a number, or a string for times.
func (c *Column) boundJSON(text string) json.RawMessage {
	if text == "" {
		return nil
	}
	if c.Kind == record.Timestamp || c.Kind == record.Date {
		return strconv.AppendQuote(nil, text)
	}
	return json.RawMessage(text)
}

// MarshalJSON writes the column's whole state.
func (c *Column) MarshalJSON() ([]byte, error) {
	sk, err := c.sketch.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("column %s: encode sketch: %w", c.Name, err)
	}
	return json.Marshal(columnJSON{
		Name: c.Name, Type: c.Kind.String(), Scale: c.Scale, Nulls: c.Nulls,
		Min: c.boundJSON(c.Min()), Max: c.boundJSON(c.Max()),
		Distinct: c.Distinct(), HighCardinality: c.HighCardinality, Top: c.Top(), Sketch: sk,
	})
}

// UnmarshalJSON reads a column written by MarshalJSON. A string column
// that is not high-cardinality reads its top values back as its tracked
// counts; Profile.UnmarshalJSON drops them for a profile without values.
func (c *Column) UnmarshalJSON(data []byte) error {
	var j columnJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	kind, ok := record.ParseKind(j.Type)
	if !ok {
		return fmt.Errorf("column %s: unknown type %q", j.Name, j.Type)
	}
	*c = Column{Name: j.Name, Kind: kind, Scale: j.Scale, Nulls: j.Nulls, HighCardinality: j.HighCardinality, sketch: newSketch(true)}
	if err := c.sketch.UnmarshalBinary(j.Sketch); err != nil {
		return fmt.Errorf("column %s: sketch: %w", j.Name, err)
	}
	if err := c.readBounds(j.Min, j.Max); err != nil {
		return fmt.Errorf("column %s: %w", j.Name, err)
	}
	if kind == record.String && !j.HighCardinality {
		c.counts = map[string]*int64{}
		for _, vc := range j.Top {
			c.add(vc.Value, vc.Count)
		}
	}
	return nil
}

// readBounds reads min and max back into the column's range.
func (c *Column) readBounds(lo, hi json.RawMessage) error {
	if (lo == nil) != (hi == nil) {
		return fmt.Errorf("min and max must both be present or both absent")
	}
	if lo == nil {
		return nil
	}
	for _, b := range []json.RawMessage{lo, hi} {
		if err := c.readBound(b); err != nil {
			return err
		}
	}
	return nil
}

func (c *Column) readBound(raw json.RawMessage) error {
	text := string(raw)
	if c.Kind == record.Timestamp || c.Kind == record.Date {
		if err := json.Unmarshal(raw, &text); err != nil {
			return fmt.Errorf("bound %s: %w", raw, err)
		}
	}
	switch c.Kind {
	case record.Float:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return fmt.Errorf("bound %s: %w", raw, err)
		}
		c.rangeFloat(f)
		return nil
	case record.Int, record.Decimal, record.Timestamp, record.Date:
		i, err := parseBound(c.Kind, text, c.Scale)
		if err != nil {
			return fmt.Errorf("bound %s: %w", raw, err)
		}
		c.rangeInt(i)
		return nil
	}
	return fmt.Errorf("a %s column has no min or max", c.Kind)
}

// parseBound reads the text Min and Max write for an int-valued kind.
func parseBound(kind record.Kind, text string, scale int) (int64, error) {
	switch kind {
	case record.Timestamp:
		t, err := time.Parse(time.RFC3339Nano, text)
		return t.UnixMicro(), err
	case record.Date:
		t, err := time.Parse(time.DateOnly, text)
		return t.Unix() / 86400, err
	case record.Decimal:
		whole, frac, _ := strings.Cut(text, ".")
		if len(frac) != scale {
			return 0, fmt.Errorf("want %d digits after the point", scale)
		}
		text = whole + frac
	}
	return strconv.ParseInt(text, 10, 64)
}

// UnmarshalJSON reads a profile written by json.Marshal.
func (p *Profile) UnmarshalJSON(data []byte) error {
	type plain Profile
	var q plain
	if err := json.Unmarshal(data, &q); err != nil {
		return err
	}
	if q.Version != Version {
		return fmt.Errorf("profile version %d: this sluice reads version %d", q.Version, Version)
	}
	for i, c := range q.Columns {
		if c == nil {
			return fmt.Errorf("profile column %d is null", i)
		}
		if !q.Values {
			c.counts, c.HighCardinality = nil, false
		}
	}
	*p = Profile(q)
	return nil
}
