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
