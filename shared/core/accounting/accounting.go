// Package accounting keeps the exact record counts of a run: every record
// that comes in is either written out, rejected (quarantined) or filtered
// (dropped on purpose), and the counts say why.
package accounting

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Counts are the record counts of one chunk or one run.
type Counts struct {
	In       int64 `json:"records_in"`
	Out      int64 `json:"records_out"`
	Rejected int64 `json:"records_rejected"`
	Filtered int64 `json:"records_filtered"`
	// RejectedByRule counts rejects by "field.rule" or record-level rule.
	RejectedByRule map[string]int64 `json:"rejected_by_rule"`
	// FilteredByReason counts filtered records by "filter:<name>" or "dedup".
	FilteredByReason map[string]int64 `json:"filtered_by_reason"`
}

// AddOut counts a record written out.
func (c *Counts) AddOut() { c.In++; c.Out++ }

// AddRejected counts a quarantined record under rule.
func (c *Counts) AddRejected(rule string) {
	c.In++
	c.Rejected++
	if c.RejectedByRule == nil {
		c.RejectedByRule = map[string]int64{}
	}
	c.RejectedByRule[rule]++
}

// AddFiltered counts a record dropped on purpose for reason.
func (c *Counts) AddFiltered(reason string) {
	c.In++
	c.Filtered++
	if c.FilteredByReason == nil {
		c.FilteredByReason = map[string]int64{}
	}
	c.FilteredByReason[reason]++
}

// Merge adds o into c.
func (c *Counts) Merge(o Counts) {
	c.In += o.In
	c.Out += o.Out
	c.Rejected += o.Rejected
	c.Filtered += o.Filtered
	for k, v := range o.RejectedByRule {
		if c.RejectedByRule == nil {
			c.RejectedByRule = map[string]int64{}
		}
		c.RejectedByRule[k] += v
	}
	for k, v := range o.FilteredByReason {
		if c.FilteredByReason == nil {
			c.FilteredByReason = map[string]int64{}
		}
		c.FilteredByReason[k] += v
	}
}

// Check verifies that the counts balance: in = out + rejected + filtered,
// and the per-rule and per-reason detail adds up to the totals.
func (c Counts) Check() error {
	var problems []string
	if c.In != c.Out+c.Rejected+c.Filtered {
		problems = append(problems, fmt.Sprintf("in %d != out %d + rejected %d + filtered %d", c.In, c.Out, c.Rejected, c.Filtered))
	}
	if s := sum(c.RejectedByRule); s != c.Rejected {
		problems = append(problems, fmt.Sprintf("rejects by rule add to %d, not %d", s, c.Rejected))
	}
	if s := sum(c.FilteredByReason); s != c.Filtered {
		problems = append(problems, fmt.Sprintf("filtered by reason add to %d, not %d", s, c.Filtered))
	}
	if len(problems) > 0 {
		return fmt.Errorf("accounting does not balance: %s", strings.Join(problems, "; "))
	}
	return nil
}

func sum(m map[string]int64) int64 {
	var s int64
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s += m[k]
	}
	return s
}

// RejectRatio is rejected/in, or 0 for an empty run.
func (c Counts) RejectRatio() float64 {
	if c.In == 0 {
		return 0
	}
	return float64(c.Rejected) / float64(c.In)
}
