package plan

// VMOnly has pr evaluate every expression with the VM, for tests that
// compare lowered expressions with it.
func VMOnly(pr *Processor) { pr.vmOnly = true }

// Lowered reports which of the plan's derived fields have a lowered form.
func (p *Plan) Lowered() []bool {
	out := make([]bool, len(p.derives))
	for i, d := range p.derives {
		out[i] = d.lowered != nil
	}
	return out
}

// LoweredChecks reports which of the plan's checks, then its filters,
// have a lowered form.
func (p *Plan) LoweredChecks() []bool {
	var out []bool
	for _, list := range [][]exprPlan{p.checks, p.filters} {
		for _, e := range list {
			out = append(out, e.lowBool != nil)
		}
	}
	return out
}
