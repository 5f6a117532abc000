package infer

import (
	"fmt"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// trial casts a column's values as sluice run casts a field declared as
// f (its type, scale, layouts and clean steps), and returns the indexes
// of the values that do not fit. It stops, reporting false, once more
// than limit do not.
func trial(f spec.Field, cells []codec.RawField, limit int) ([]int, bool, error) {
	f.Name, f.From = "v", ""
	p, err := plan.Compile(&spec.Spec{Version: 1, Fields: []spec.Field{f}})
	if err != nil {
		return nil, false, fmt.Errorf("try type %s: %w", f.Type, err)
	}
	pr := p.NewProcessor()
	rec := codec.RawRecord{Fields: make([]codec.RawField, 1)}
	var bad []int
	for i, c := range cells {
		rec.Fields[0] = c
		o, err := pr.Process(&rec)
		if err != nil {
			return nil, false, fmt.Errorf("try type %s: %w", f.Type, err)
		}
		if o.Verdict == plan.Reject {
			if bad = append(bad, i); len(bad) > limit {
				return bad, false, nil
			}
		}
	}
	return bad, true, nil
}

// kind is a field of a kind.
func kind(k record.Kind) spec.Field { return spec.Field{Type: k.String()} }
