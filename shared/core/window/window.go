// Package window is the stream path's window math, free of AWS: which
// windows a record falls in (tumbling, sliding with a hop, or count), the
// per-key aggregates (count, sum, min, max, avg), and when a window closes
// under a watermark with allowed lateness. Its State is plain data, so it
// can be stored and restored between invocations.
package window

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/sluice-etl/sluice/shared/core/enum"
)

// Kind is a window kind.
type Kind string

// Window kinds.
const (
	Tumbling Kind = "tumbling"
	Sliding  Kind = "sliding"
	Count    Kind = "count"
)

// Kinds are the window kinds.
var Kinds = enum.Set[Kind]{Name: "kind", Values: []Kind{Tumbling, Sliding, Count}}

// Check validates a kind against Kinds.
func (k Kind) Check() error { return Kinds.Check(k) }

// LatePolicy says what happens to a record for a window already closed.
type LatePolicy string

// Late policies.
const (
	LateDrop LatePolicy = "drop" // counted, not aggregated
	LateSide LatePolicy = "side" // handed back for a side output
)

// LatePolicies are the late policies.
var LatePolicies = enum.Set[LatePolicy]{Values: []LatePolicy{LateDrop, LateSide}}

// Check validates a late policy against LatePolicies.
func (p LatePolicy) Check() error { return LatePolicies.Check(p) }

// Spec declares the windows.
type Spec struct {
	Kind Kind
	// Size and Hop (sliding only) for time windows.
	Size, Hop time.Duration
	// Every is the number of records per count window (per key).
	Every int64
	// Lateness is how far behind the newest event time a record may be
	// and still count.
	Lateness time.Duration
	Late     LatePolicy
	// Fields are aggregated; count is always kept.
	Fields []string
	// ByArrival windows records by arrival time: wall-clock time then
	// closes windows even when no record comes. Otherwise only event
	// time moves the watermark, so a replay of old data closes the same
	// windows as the first pass.
	ByArrival bool
}

// A SpecError is a rule of a window Spec that it breaks: Key is the key of
// the pipeline spec's window section at fault (kind, size, hop, every or
// lateness), Msg what is wrong.
type SpecError struct {
	Key string
	Msg string
}

func (e *SpecError) Error() string { return "window." + e.Key + ": " + e.Msg }

// Check validates a spec: CheckKind, then CheckLateness. Its error is a
// *SpecError.
func (s Spec) Check() error {
	if err := s.CheckKind(); err != nil {
		return err
	}
	if err := s.CheckLateness(); err != nil {
		return err
	}
	return nil
}

// CheckKind checks the kind and what it needs: a size for tumbling
// windows, a size that is a whole multiple of a hop for sliding ones,
// every for count ones.
func (s Spec) CheckKind() *SpecError {
	switch s.Kind {
	case Tumbling:
		if s.Size <= 0 {
			return &SpecError{"size", "tumbling windows need a size"}
		}
	case Sliding:
		if s.Size <= 0 || s.Hop <= 0 || s.Hop > s.Size || s.Size%s.Hop != 0 {
			return &SpecError{"hop", "sliding windows need a size that is a whole multiple of a hop > 0"}
		}
	case Count:
		if s.Every <= 0 {
			return &SpecError{"every", "count windows need every > 0"}
		}
	default:
		return &SpecError{"kind", s.Kind.Check().Error()}
	}
	return nil
}

// CheckLateness checks that the lateness is not negative.
func (s Spec) CheckLateness() *SpecError {
	if s.Lateness < 0 {
		return &SpecError{"lateness", "must not be negative"}
	}
	return nil
}

// Bounds are a time window [Start, End) in Unix milliseconds, or for a
// count window, its sequence number in Start (End = Start+1).
type Bounds struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// Assign returns the time windows a record at t belongs to, oldest first.
func (s Spec) Assign(t time.Time) []Bounds {
	ms := t.UnixMilli()
	size := s.Size.Milliseconds()
	switch s.Kind {
	case Tumbling:
		start := floorDiv(ms, size) * size
		return []Bounds{{start, start + size}}
	case Sliding:
		hop := s.Hop.Milliseconds()
		last := floorDiv(ms, hop) * hop
		var out []Bounds
		for start := last - size + hop; start <= last; start += hop {
			out = append(out, Bounds{start, start + size})
		}
		return out
	}
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Agg is one field's running aggregate.
type Agg struct {
	Count int64   `json:"count"`
	Sum   float64 `json:"sum"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
}

// Add folds v in.
func (a *Agg) Add(v float64) {
	if a.Count == 0 || v < a.Min {
		a.Min = v
	}
	if a.Count == 0 || v > a.Max {
		a.Max = v
	}
	a.Count++
	a.Sum += v
}

// Avg is the mean, or NaN for an empty aggregate.
func (a Agg) Avg() float64 {
	if a.Count == 0 {
		return math.NaN()
	}
	return a.Sum / float64(a.Count)
}

// Cell is one window and key's aggregates.
type Cell struct {
	Window Bounds `json:"window"`
	Key    string `json:"key"`
	// Shard is the stream shard whose records the cell holds; cells of
	// several shards for one window and key are merged on reading.
	Shard  string         `json:"shard,omitempty"`
	Count  int64          `json:"count"`
	Fields map[string]Agg `json:"fields"`
}

// State is everything a Windower keeps: open cells, the newest event time
// and, for count windows, records seen per key.
type State struct {
	Open      map[string]*Cell `json:"open"`
	MaxEvent  int64            `json:"max_event"`
	Seen      map[string]int64 `json:"seen,omitempty"`
	LateCount int64            `json:"late"`
}

// Windower applies a Spec to records.
type Windower struct {
	Spec  Spec
	State State
}

// New returns a Windower with empty state.
func New(s Spec) (*Windower, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	return &Windower{Spec: s, State: State{Open: map[string]*Cell{}, Seen: map[string]int64{}, MaxEvent: math.MinInt64}}, nil
}

// Record is one input record: its event (or arrival) time, group key and
// numeric field values (a missing field is not aggregated).
type Record struct {
	Time   time.Time
	Key    string
	Values map[string]float64
}

func cellID(b Bounds, key string) string { return fmt.Sprintf("%d/%d/%s", b.Start, b.End, key) }

// Add folds a record into its windows. It reports true when the record is
// late: every window it belongs to has closed (by the watermark, newest
// event time minus lateness); it is then not aggregated.
func (w *Windower) Add(r Record) (late bool) {
	st := &w.State
	if w.Spec.Kind == Count {
		n := st.Seen[r.Key]
		st.Seen[r.Key] = n + 1
		w.fold(Bounds{n / w.Spec.Every, n/w.Spec.Every + 1}, r)
		return false
	}
	ms := r.Time.UnixMilli()
	if ms > st.MaxEvent {
		st.MaxEvent = ms
	}
	mark := st.MaxEvent - w.Spec.Lateness.Milliseconds()
	added := false
	for _, b := range w.Spec.Assign(r.Time) {
		if b.End <= mark {
			continue // closed
		}
		w.fold(b, r)
		added = true
	}
	if !added {
		st.LateCount++
	}
	return !added
}

func (w *Windower) fold(b Bounds, r Record) {
	id := cellID(b, r.Key)
	c, ok := w.State.Open[id]
	if !ok {
		c = &Cell{Window: b, Key: r.Key, Fields: map[string]Agg{}}
		w.State.Open[id] = c
	}
	c.Count++
	for _, f := range w.Spec.Fields {
		if v, ok := r.Values[f]; ok {
			a := c.Fields[f]
			a.Add(v)
			c.Fields[f] = a
		}
	}
}

var zeroTime time.Time

// Close removes and returns the cells that are complete: time windows
// whose end is at or before the watermark (newest event time minus
// lateness; for arrival-time windows, now minus lateness when later), and
// count windows that have Every records. Results are sorted by window
// then key.
func (w *Windower) Close(now time.Time) []Cell {
	st := &w.State
	mark := st.MaxEvent
	if n := now.UnixMilli(); w.Spec.ByArrival && n > mark {
		mark = n
	}
	mark -= w.Spec.Lateness.Milliseconds()
	var out []Cell
	for id, c := range st.Open {
		done := false
		if w.Spec.Kind == Count {
			done = c.Count >= w.Spec.Every
		} else {
			done = c.Window.End <= mark
		}
		if done {
			out = append(out, *c)
			delete(st.Open, id)
		}
	}
	sortCells(out)
	return out
}

// Merge adds o's aggregates into c.
func (c *Cell) Merge(o Cell) {
	c.Count += o.Count
	if c.Fields == nil {
		c.Fields = map[string]Agg{}
	}
	for f, b := range o.Fields {
		a, ok := c.Fields[f]
		switch {
		case !ok || a.Count == 0:
			a = b
		case b.Count > 0:
			a.Count += b.Count
			a.Sum += b.Sum
			a.Min = math.Min(a.Min, b.Min)
			a.Max = math.Max(a.Max, b.Max)
		}
		c.Fields[f] = a
	}
}

// MergeShards folds the cells of one window and key from several shards
// into one cell each (Shard cleared), sorted by window then key.
func MergeShards(cells []Cell) []Cell {
	byKey := map[string]*Cell{}
	var order []string
	for _, c := range cells {
		id := cellID(c.Window, c.Key)
		m, ok := byKey[id]
		if !ok {
			m = &Cell{Window: c.Window, Key: c.Key, Fields: map[string]Agg{}}
			byKey[id] = m
			order = append(order, id)
		}
		m.Merge(c)
	}
	out := make([]Cell, 0, len(order))
	for _, id := range order {
		out = append(out, *byKey[id])
	}
	sortCells(out)
	return out
}

func sortCells(out []Cell) {
	sort.Slice(out, func(i, j int) bool {
		if out[i].Window.Start != out[j].Window.Start {
			return out[i].Window.Start < out[j].Window.Start
		}
		if out[i].Window.End != out[j].Window.End {
			return out[i].Window.End < out[j].Window.End
		}
		return strings.Compare(out[i].Key, out[j].Key) < 0
	})
}
