package plan_test

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/plan"
)

// lowerSpec derives fields with expressions that are lowered (and one
// that is not), over int, float and decimal fields that may be null.
const lowerSpec = `version: 1
name: lower
source: {format: csv}
fields:
  - {name: i, type: int}
  - {name: f, type: float}
  - {name: d, type: decimal, scale: 2}
derive:
  - {name: cents, expr: round(d * 100), type: int}
  - {name: mix, expr: 'i * 3 - f + d', type: float}
  - {name: ints, expr: 'i * i + 7 - -i', type: int}
  - {name: neg, expr: '-f * 2.5', type: float}
  - {name: shapes, expr: 'floor(f) + ceil(d) + abs(i) + abs(f) + round(i)', type: float}
  - {name: chained, expr: 'ints - cents', type: int}
  - {name: whole, expr: 'round(f)', type: int}
  - {name: ratio, expr: 'i / 4 + f / d', type: float}
  - {name: dflt, expr: 'i ?? 7', type: int}
  - {name: pick, expr: 'i > 3 ? f : d', type: float}
  - {name: text, expr: 'string(i)', type: string}
`

// TestLoweredExpressions: the lowered derived fields are those in the
// lowered case, and on a row of ordinary values they give the VM's.
func TestLoweredExpressions(t *testing.T) {
	p := compile(t, lowerSpec)
	if got, want := p.Lowered(), []bool{true, true, true, true, true, true, true, true, true, true, false}; !slices.Equal(got, want) {
		t.Fatalf("lowered %v, want %v", got, want)
	}
	compareLowered(t, p, []string{"12", "2.5", "19.99"})
	compareLowered(t, p, []string{"-3", "-0.5", "-0.01"})
	compareLowered(t, p, []string{"", "1.5", "2.00"})
}

// FuzzLoweredMatchesVM: for any values of the fields, null, huge or
// malformed included, the processor with lowered expressions gives the
// outcome (kept row, or reject rule and reason) of the VM alone.
func FuzzLoweredMatchesVM(f *testing.F) {
	for _, s := range [][3]string{{"1", "2.5", "3.10"}, {"", "", ""}, {"9223372036854775807", "1e308", "92233720368547758.07"},
		{"-9223372036854775808", "-1e-300", "-0.01"}, {"x", "NaN", "1.234"}, {"0", "-0", "0.00"}, {"3037000500", "4.5", "-2.5"}} {
		f.Add(s[0], s[1], s[2])
	}
	p, err := plan.FromBytes("lower.yaml", []byte(lowerSpec))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, i, fl, d string) {
		compareLowered(t, p, []string{i, fl, d})
	})
}

// compareLowered processes one record of the three raw values (an empty
// one null) both ways and requires the same outcome.
func compareLowered(t *testing.T, p *plan.Plan, vals []string) {
	t.Helper()
	r := rec()
	for _, v := range vals {
		if v == "" {
			r.Fields = append(r.Fields, codec.RawField{Kind: codec.RawMissing})
		} else {
			r.Fields = append(r.Fields, str(v))
		}
	}
	low := p.NewProcessor()
	vm := p.NewProcessor()
	plan.VMOnly(vm)
	a, errA := low.Process(r)
	b, errB := vm.Process(r)
	if fmt.Sprint(errA) != fmt.Sprint(errB) {
		t.Fatalf("%q: errors %v and %v", vals, errA, errB)
	}
	if got, want := describe(a), describe(b); got != want {
		t.Fatalf("%q:\nlowered %s\nVM      %s", vals, got, want)
	}
}

// describe is an outcome in words, values exactly (floats by their bits).
func describe(o *plan.Outcome) string {
	if o == nil {
		return "nil"
	}
	s := fmt.Sprintf("%v %s %s %s %s", o.Verdict, o.Field, o.Rule, o.Reason, o.FilterReason)
	for _, v := range o.Full {
		s += fmt.Sprintf(" [%v %d %s %q]", v.Kind, v.Int, strconv.FormatUint(math.Float64bits(v.Float), 16), v.Bytes)
	}
	return s
}
