package infer

import (
	"fmt"
	"slices"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/plan"
)

// Counts are what a spec does with a sample's records: sluice run's
// counts for an input that is only the sample.
type Counts struct {
	In, Kept, Rejected, Filtered int
	// RejectedByRule counts the rejects by rule key (amount.type).
	RejectedByRule map[string]int
}

// Check compiles a spec document as sluice validate does, and processes
// the sample's records with it as sluice run's transform stage does.
func (s *Sample) Check(name string, doc []byte) (Counts, error) {
	p, err := plan.FromBytes(name, doc)
	if err != nil {
		return Counts{}, err
	}
	cols := make([]int, len(p.Columns))
	for i, c := range p.Columns {
		if cols[i] = slices.Index(s.Columns, c); cols[i] < 0 {
			return Counts{}, fmt.Errorf("%s: the sample has no column %q", name, c)
		}
	}
	pr := p.NewProcessor()
	n := Counts{RejectedByRule: map[string]int{}}
	rec := codec.RawRecord{Fields: make([]codec.RawField, len(cols))}
	for _, row := range s.Rows {
		rec.Err = row.Err
		for i, c := range cols {
			if row.Err == nil {
				rec.Fields[i] = row.Fields[c]
			}
		}
		o, err := pr.Process(&rec)
		if err != nil {
			return Counts{}, fmt.Errorf("%s: %w", name, err)
		}
		n.In++
		switch o.Verdict {
		case plan.Keep:
			n.Kept++
		case plan.Reject:
			n.Rejected++
			n.RejectedByRule[o.RuleKey()]++
		case plan.Filtered:
			n.Filtered++
		}
	}
	return n, nil
}
