package plan_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/plan"
)

// The plan lays the schema contract out by input column: a column several
// fields read fails when any of them fails, is left to the format while
// none does and one leaves it, and reads null only when all say null.
func TestPlanContract(t *testing.T) {
	p := compile(t, `source: {unknown_columns: reject}
fields:
  - {name: a, missing: 'null'}
  - {name: a2, from: a, missing: fail}
  - {name: b, missing: 'null'}
  - {name: b2, from: b}
  - {name: c, missing: 'null'}
  - {name: c2, from: c, missing: 'null'}
  - {name: d}
`)
	want := codec.Contract{
		Unknown: codec.UnknownReject,
		Missing: []codec.MissingPolicy{codec.MissingFail, "", codec.MissingNull, ""},
		Fields:  []string{"a2", "b2", "c", "d"},
	}
	if !reflect.DeepEqual(p.Columns, []string{"a", "b", "c", "d"}) || !reflect.DeepEqual(p.Contract, want) {
		t.Fatalf("columns %v, contract %+v\nwant %+v", p.Columns, p.Contract, want)
	}
	var o codec.DecoderOptions
	p.DecodeOptions(&o)
	if !reflect.DeepEqual(o.Contract, want) {
		t.Errorf("DecodeOptions gives %+v", o.Contract)
	}
}

func TestPlanContractFromTheSource(t *testing.T) {
	p := compile(t, "source: {missing_columns: 'null'}\nfields: [{name: a}, {name: b, missing: fail}]\n")
	if want := []codec.MissingPolicy{codec.MissingNull, codec.MissingFail}; !reflect.DeepEqual(p.Contract.Missing, want) || p.Contract.Unknown != "" {
		t.Fatalf("contract %+v", p.Contract)
	}
}

// A record a decoder rejected for an unknown column counts under
// unknown_column; other decoder errors under decode.
func TestUnknownColumnRule(t *testing.T) {
	pr := compile(t, "fields: [{name: a}]\n").NewProcessor()
	unknown := fmt.Errorf("%w: key %q is not read by any field", codec.ErrUnknownColumn, "x")
	o := process(t, pr, &codec.RawRecord{Fields: []codec.RawField{missing}, Err: unknown})
	checkOutcome(t, o, reject("", plan.RuleUnknownColumn, `unknown column: key "x" is not read by any field`))
	if o.RuleKey() != "unknown_column" {
		t.Errorf("rule key %q", o.RuleKey())
	}
	o = process(t, pr, &codec.RawRecord{Fields: []codec.RawField{missing}, Err: codec.ErrInvalidJSON})
	checkOutcome(t, o, reject("", plan.RuleDecode, "invalid JSON"))
}

// A required field whose column or key the input lacks is rejected under
// required. With missing: null declared, the reason says the input lacks
// it; left to the format (JSON's null), the reason is a null's, as before
// contracts.
func TestRequiredAndAbsent(t *testing.T) {
	tests := []struct {
		name, field string
		in          codec.RawField
		want        want
	}{
		{"declared null, absent", "{name: a, from: src, required: true, missing: 'null'}", missing, reject("a", "required", `value is missing: the input has no "src"`)},
		{"declared null, JSON null", "{name: a, required: true, missing: 'null'}", jnull, reject("a", "required", "value is missing")},
		{"declared null, empty int", "{name: a, type: int, required: true, missing: 'null'}", str(""), reject("a", "required", "value is missing")},
		{"default, absent", "{name: a, required: true}", missing, reject("a", "required", "value is missing")},
		{"declared null, absent, not required", "{name: a, missing: 'null'}", missing, keep(null)},
		{"declared null, absent, with a default", "{name: a, required: true, missing: 'null', clean: [{default: x}]}", missing, keep(S("x"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := compile(t, "fields:\n  - "+tc.field+"\n")
			checkOutcome(t, process(t, p.NewProcessor(), rec(tc.in)), tc.want)
		})
	}
}
