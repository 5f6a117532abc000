package stream

import (
	"errors"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/core/window"
)

// ErrArrivalWindows is returned for a file run of a spec whose windows
// are by arrival time: a file has no arrival times.
var ErrArrivalWindows = errors.New("windows by arrival time need a stream; a file has no arrival times")

// Folder computes a spec's windows over a file, for `sluice run`: each
// chunk folds its kept rows into its own windower, and Cells merges them.
// A file is complete, so no record is late and every window closes.
type Folder struct {
	plan   *plan.Plan
	spec   window.Spec
	fields windowFields
	mu     sync.Mutex
	chunks map[int]*window.Windower
}

// NewFolder returns a Folder for p's window section (event time, or
// count windows over a single chunk).
func NewFolder(p *plan.Plan) (*Folder, error) {
	w := p.Spec.Window
	if w == nil {
		return nil, errors.New("the spec has no window section")
	}
	if w.Kind != window.Count && (w.Time == spec.WindowArrivalTime || w.Native) {
		return nil, ErrArrivalWindows
	}
	ws, wf, err := WindowOf(p)
	if err != nil {
		return nil, err
	}
	ws.Lateness = time.Duration(math.MaxInt64) // nothing is late in a file
	return &Folder{plan: p, spec: ws, fields: wf, chunks: map[int]*window.Windower{}}, nil
}

// Chunk returns the callback for one chunk's kept rows, replacing any
// earlier one for the chunk (a chunk transformed again).
func (f *Folder) Chunk(i int) func(*plan.Outcome) {
	w, _ := window.New(f.spec)
	f.mu.Lock()
	f.chunks[i] = w
	f.mu.Unlock()
	return func(o *plan.Outcome) {
		w.Add(f.fields.record(o.Full, &f.plan.Full))
	}
}

// Cells returns every window's aggregates, the chunks merged, sorted by
// window then key.
func (f *Folder) Cells() []window.Cell {
	f.mu.Lock()
	defer f.mu.Unlock()
	idx := make([]int, 0, len(f.chunks))
	for i := range f.chunks {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var all []window.Cell
	for _, i := range idx {
		for _, c := range f.chunks[i].State.Open {
			all = append(all, *c)
		}
	}
	return window.MergeShards(all)
}
