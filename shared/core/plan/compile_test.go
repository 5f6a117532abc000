package plan_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// doc joins lines into a spec document; a line's number is its position.
func doc(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

func compileErrors(t *testing.T, err error) spec.Errors {
	t.Helper()
	var es spec.Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v (%T) is not spec.Errors", err, err)
	}
	return es
}

type wantErr struct {
	line int
	key  string
	msg  string // a substring of the message
}

func TestCompileErrors(t *testing.T) {
	const fields = "fields:\n" + // line 1
		"  - {name: id, type: int}\n" + // 2
		"  - {name: amount, type: decimal, scale: 2}\n" + // 3
		"  - {name: email}\n" // 4
	tests := []struct {
		name string
		doc  string
		want []wantErr
	}{
		{"bad regex", doc(
			"fields:",
			"  - name: email",
			"    rules:",
			"      regex: '^[a-z+$'",
		), []wantErr{{4, "fields[0].rules.regex", "bad regex: error parsing regexp: missing closing ]: `[a-z+$`"}}},
		{"expression does not parse", fields + doc(
			"validate:",
			"  - name: c",
			"    expr: 'id >'",
		), []wantErr{{7, "validate[0].expr", "unexpected token EOF"}}},
		{"expression does not type-check", fields + doc(
			"derive:",
			`  - {name: d, expr: 'amount + "x"'}`,
		), []wantErr{{6, "derive[0].expr", "invalid operation: + (mismatched types float64 and string)"}}},
		{"filter gives a string", fields + doc(
			"filter: email",
		), []wantErr{{5, "filter[0].expr", "expected bool, but got string"}}},
		{"named filter gives an int", fields + doc(
			"filter:",
			"  - {name: f, expr: 'id'}",
		), []wantErr{{6, "filter[0].expr", "expected bool, but got int"}}},
		{"check gives a string", fields + doc(
			"validate:",
			"  - {expr: email}",
		), []wantErr{{6, "validate[0].expr", "expected bool, but got string"}}},
		{"rule expression gives a number", doc(
			"fields:",
			"  - name: id",
			"    type: int",
			"    rules: {expr: value + 1}",
		), []wantErr{{4, "fields[0].rules.expr", "expected bool, but got int"}}},
		{"derive declared int gives a string", fields + doc(
			"derive:",
			"  - name: d",
			"    expr: email + '!'",
			"    type: int",
		), []wantErr{{7, "derive[0].expr", "expression gives string, which cannot be stored as int"}}},
		{"derive declared timestamp gives a number", fields + doc(
			"derive:",
			"  - {name: d, expr: id * 2, type: timestamp}",
		), []wantErr{{6, "derive[0].expr", "expression gives int, which cannot be stored as timestamp"}}},
		{"derive type cannot be inferred", fields + doc(
			"derive:",
			"  - {name: d, expr: 'id > 0 ? id : email'}",
		), []wantErr{{6, "derive[0].type", "cannot infer a type from the expression (it gives an unknown type); set type"}}},
		{"derive gives a list", fields + doc(
			"derive:",
			"  - {name: d, expr: '[id]'}",
		), []wantErr{{6, "derive[0].type", "cannot infer a type from the expression (it gives []interface {}); set type"}}},
		{"unknown identifier", fields + doc(
			"derive:",
			"  - {name: d, expr: zz + 1}",
		), []wantErr{{6, "derive[0].expr", "unknown name zz"}}},
		{"derive reads a later derive", fields + doc(
			"derive:",
			"  - {name: d1, expr: d2 + 1}",
			"  - {name: d2, expr: id + 1}",
		), []wantErr{{6, "derive[0].expr", "unknown name d2"}}},
		{"rule expression reads a derived field", doc(
			"fields:",
			"  - {name: id, type: int, rules: {expr: value < d}}",
			"derive:",
			"  - {name: d, expr: id + 1}",
		), []wantErr{{2, "fields[0].rules.expr", "unknown name d"}}},
		{"now is disabled", fields + doc(
			"derive:",
			"  - {name: d, expr: now()}",
		), []wantErr{{6, "derive[0].expr", "unknown name now"}}},
		{"repeat is disabled", fields + doc(
			"derive:",
			`  - {name: d, expr: 'repeat("x", 1000000)'}`,
		), []wantErr{{6, "derive[0].expr", "unknown name repeat"}}},
		{"min bound is not an int", doc(
			"fields:",
			"  - name: id",
			"    type: int",
			"    rules:",
			"      min: one",
		), []wantErr{{5, "fields[0].rules.min", `bound "one" is not an integer for a int field`}}},
		{"max bound has too many places", doc(
			"fields:",
			"  - name: amount",
			"    type: decimal",
			"    scale: 2",
			"    rules: {max: 1.234}",
		), []wantErr{{5, "fields[0].rules.max", `bound "1.234" is more decimal places than the scale allows for a decimal field`}}},
		{"min bound is not a float", doc(
			"fields:",
			"  - {name: f, type: float, rules: {min: NaN}}",
		), []wantErr{{2, "fields[0].rules.min", `bound "NaN" is not a number for a float field`}}},
		{"timestamp bound outside the layouts", doc(
			"fields:",
			"  - name: at",
			"    type: timestamp",
			"    layouts: [unix]",
			"    rules:",
			"      min: '2020-01-01'",
		), []wantErr{{6, "fields[0].rules.min", `bound "2020-01-01" is not a timestamp in the accepted layouts for a timestamp field`}}},
		{"date bound", doc(
			"fields:",
			"  - {name: d, type: date, rules: {max: 31/12/2020}}",
		), []wantErr{{2, "fields[0].rules.max", `bound "31/12/2020" is not a date in the accepted layouts for a date field`}}},
		{"enum value not of the type", doc(
			"fields:",
			"  - name: id",
			"    type: int",
			"    rules:",
			"      enum: [1, two, 3]",
		), []wantErr{{5, "fields[0].rules.enum", `value "two" is not an integer for a int field`}}},
		{"several errors", doc(
			"fields:",
			"  - {name: a, rules: {regex: '('}}",
			"  - {name: b, type: int, rules: {max: x}}",
			"validate:",
			"  - {name: c, expr: 'a +'}",
			"filter:",
			"  - {name: f, expr: b}",
		), []wantErr{
			{2, "fields[0].rules.regex", "bad regex"},
			{3, "fields[1].rules.max", `bound "x" is not an integer`},
			{5, "validate[0].expr", "unexpected token EOF"},
			{7, "filter[0].expr", "expected bool, but got int"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := plan.FromBytes("bad.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatalf("Parse succeeded; want %v", tc.want)
			}
			if p != nil {
				t.Errorf("Parse returned a plan with an error")
			}
			got := compileErrors(t, err)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(got), len(tc.want), err)
			}
			for i, w := range tc.want {
				e := got[i]
				if e.File != "bad.yaml" || e.Line != w.line || e.Key != w.key || !strings.Contains(e.Msg, w.msg) {
					t.Errorf("error %d = {File:%q Line:%d Key:%q Msg:%q}\nwant {Line:%d Key:%q Msg containing %q}",
						i, e.File, e.Line, e.Key, e.Msg, w.line, w.key, w.msg)
				}
				if !strings.HasPrefix(e.Error(), fmt.Sprintf("bad.yaml:%d:", w.line)) {
					t.Errorf("error %d text %q does not start with file:line", i, e.Error())
				}
			}
		})
	}
}

func TestCompileMaxNodes(t *testing.T) {
	sum := func(n int) string { return strings.Repeat("id + ", n) + "id" } // 2n+1 nodes
	tests := []struct {
		name  string
		limit string
		expr  string
		ok    bool
	}{
		{"default limit, small", "", sum(10), true},
		{"default limit 500, 501 nodes", "", sum(250), false},
		{"default limit 500, 499 nodes", "", sum(249), true},
		{"raised limit", "limits: {expr_max_nodes: 1000}\n", sum(300), true},
		{"lowered limit", "limits: {expr_max_nodes: 10}\n", sum(5), false},
		{"limit above expr's own default of 10000", "limits: {expr_max_nodes: 30000}\n", sum(6000), true},
		{"far too large", "limits: {expr_max_nodes: 30000}\n", sum(16000), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "fields: [{name: id, type: int}]\n" + tc.limit + "derive:\n  - name: d\n    expr: '" + tc.expr + "'\n"
			_, err := plan.FromBytes("n.yaml", []byte(src))
			if tc.ok {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			es := compileErrors(t, err)
			if len(es) != 1 || es[0].Key != "derive[0].expr" || !strings.Contains(es[0].Msg, "exceeds maximum allowed nodes") {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestCompileOrdersExample(t *testing.T) {
	p, err := plan.FromFile("../../../examples/orders/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []string{"order_id", "user_id", "email", "amount", "currency", "status", "country", "created_at"}
	if strings.Join(p.Columns, ",") != strings.Join(wantCols, ",") {
		t.Errorf("columns = %v", p.Columns)
	}
	want := []record.Field{
		{Name: "order_id", Kind: record.Int}, {Name: "customer_id", Kind: record.Int}, {Name: "email", Kind: record.String},
		{Name: "amount", Kind: record.Decimal, Scale: 2}, {Name: "currency", Kind: record.String}, {Name: "status", Kind: record.String},
		{Name: "country", Kind: record.String}, {Name: "created_at", Kind: record.Timestamp},
		{Name: "amount_cents", Kind: record.Int}, {Name: "large_order", Kind: record.Bool},
	}
	if fmt.Sprint(p.Full.Fields) != fmt.Sprint(want) || fmt.Sprint(p.Out.Fields) != fmt.Sprint(want) {
		t.Errorf("full = %v\nout = %v", p.Full.Fields, p.Out.Fields)
	}
}

func TestCompileColumns(t *testing.T) {
	p, err := plan.FromBytes("c.yaml", []byte(doc(
		"fields:",
		"  - {name: a, from: x}",
		"  - {name: b, from: x, type: int}", // the same column twice
		"  - {name: c, drop: true}",
		"derive:",
		"  - {name: d, expr: c + a}",
	)))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Columns, ","); got != "x,c" {
		t.Errorf("columns = %s", got)
	}
	var full, out []string
	for _, f := range p.Full.Fields {
		full = append(full, f.Name+":"+f.Kind.String())
	}
	for _, f := range p.Out.Fields {
		out = append(out, f.Name)
	}
	if strings.Join(full, ",") != "a:string,b:int,c:string,d:string" || strings.Join(out, ",") != "a,b,d" {
		t.Errorf("full = %v, out = %v", full, out)
	}
}
