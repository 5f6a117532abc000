package plan

import (
	"math"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"

	"github.com/sluice-etl/sluice/shared/core/record"
)

// A lowered expression computes what expr's VM would, for the common
// case, straight from the row: arithmetic (+, -, *, /, unary -) over int,
// float and decimal fields and number constants, round, floor, ceil, abs,
// len of a string field, field ?? number and cond ? a : b (and the
// boolean expressions of lowerbool.go). It reports false when the row is outside that case (a field
// is null), and the VM evaluates the expression instead; so its results,
// and errors, are the VM's.
type lowered func(row []record.Value) (any, bool)

// number is an expr number: an int, or a float64.
type number struct {
	i     int
	f     float64
	isInt bool
}

func (n number) float() float64 {
	if n.isInt {
		return float64(n.i)
	}
	return n.f
}

func (n number) value() any {
	if n.isInt {
		return n.i
	}
	return n.f
}

type numFn func(row []record.Value) (number, bool)

// lowerer lowers one expression over the fields of its place.
type lowerer struct {
	fields []record.Field
	// scanMax is the longest string a lowered contains scans: longer,
	// and the VM evaluates the expression, charging its work budget.
	// With every scan at most this long, the expression's scans together
	// cost at most half of MaxExprWork, which the VM would not exceed
	// either.
	scanMax int
}

func newLowerer(node ast.Node, fields []record.Field) *lowerer {
	var sites scanSites
	ast.Walk(&node, &sites)
	return &lowerer{fields: fields, scanMax: MaxExprWork / 2 / max(1, int(sites))}
}

// scanSites counts the strings an expression scans, charging the budget
// (the budget's sluiceScanText calls).
type scanSites int

func (c *scanSites) Visit(n *ast.Node) {
	if call, ok := (*n).(*ast.CallNode); ok && isCall(call, "sluiceScanText") {
		*c++
	}
}

func isCall(n *ast.CallNode, name string) bool {
	id, ok := n.Callee.(*ast.IdentifierNode)
	return ok && id.Value == name && len(n.Arguments) == 1
}

// lower gives the lowered form of a derived field's expression, a
// number or a boolean, or nil when it has a node outside the lowered
// case.
func lower(node ast.Node, fields []record.Field) lowered {
	lo := newLowerer(node, fields)
	if f := lo.num(node); f != nil {
		return func(row []record.Value) (any, bool) {
			n, ok := f(row)
			return n.value(), ok
		}
	}
	if b := lo.boolean(node); b != nil {
		return func(row []record.Value) (any, bool) { return b(row) }
	}
	return nil
}

func (lo *lowerer) num(node ast.Node) numFn {
	switch n := node.(type) {
	case *ast.IntegerNode:
		c := number{i: n.Value, isInt: true}
		return func([]record.Value) (number, bool) { return c, true }
	case *ast.FloatNode:
		c := number{f: n.Value}
		return func([]record.Value) (number, bool) { return c, true }
	case *ast.IdentifierNode:
		return lo.numField(n.Value)
	case *ast.UnaryNode:
		return lo.negate(n)
	case *ast.BinaryNode:
		if n.Operator == "??" {
			return lo.numDefault(n)
		}
		return lo.arith(n)
	case *ast.BuiltinNode:
		return lo.builtin(n)
	case *ast.ConditionalNode:
		return lo.numCond(n)
	}
	return nil
}

// numField reads a number field as expr's environment holds it: an int
// field as int, a float as float64, a decimal as float64. It reports
// false when the field is null.
func (lo *lowerer) numField(name string) numFn {
	i := fieldIndex(name, lo.fields)
	if i < 0 {
		return nil
	}
	switch f := lo.fields[i]; f.Kind {
	case record.Int:
		return func(row []record.Value) (number, bool) {
			v := &row[i]
			return number{i: int(v.Int), isInt: true}, v.Kind == record.Int
		}
	case record.Float:
		return func(row []record.Value) (number, bool) {
			v := &row[i]
			return number{f: v.Float}, v.Kind == record.Float
		}
	case record.Decimal:
		div := float64(record.Pow10[f.Scale])
		return func(row []record.Value) (number, bool) {
			v := &row[i]
			return number{f: float64(v.Int) / div}, v.Kind == record.Decimal
		}
	}
	return nil
}

func fieldIndex(name string, fields []record.Field) int {
	for i, f := range fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

func (lo *lowerer) negate(n *ast.UnaryNode) numFn {
	x := lo.num(n.Node)
	if x == nil || n.Operator != "-" {
		return nil
	}
	return func(row []record.Value) (number, bool) {
		a, ok := x(row)
		if a.isInt {
			return number{i: -a.i, isInt: true}, ok
		}
		return number{f: -a.f}, ok
	}
}

func (lo *lowerer) arith(n *ast.BinaryNode) numFn {
	l, r := lo.num(n.Left), lo.num(n.Right)
	if l == nil || r == nil {
		return nil
	}
	var ints func(a, b int) int
	var floats func(a, b float64) float64
	switch n.Operator {
	case "+":
		ints, floats = func(a, b int) int { return a + b }, func(a, b float64) float64 { return a + b }
	case "-":
		ints, floats = func(a, b int) int { return a - b }, func(a, b float64) float64 { return a - b }
	case "*":
		ints, floats = func(a, b int) int { return a * b }, func(a, b float64) float64 { return a * b }
	case "/":
		// expr divides as float64 whatever the operands.
		floats = func(a, b float64) float64 { return a / b }
	default:
		return nil
	}
	return func(row []record.Value) (number, bool) {
		a, ok1 := l(row)
		b, ok2 := r(row)
		if !ok1 || !ok2 {
			return number{}, false
		}
		if a.isInt && b.isInt && ints != nil {
			return number{i: ints(a.i, b.i), isInt: true}, true
		}
		return number{f: floats(a.float(), b.float())}, true
	}
}

// numDefault lowers field ?? number: the field's value, or the other
// side when the field is null.
func (lo *lowerer) numDefault(n *ast.BinaryNode) numFn {
	i, l, r := lo.defaulted(n), lo.num(n.Left), lo.num(n.Right)
	if i < 0 || l == nil || r == nil {
		return nil
	}
	return orDefault(i, l, r)
}

// numCond lowers cond ? a : b over numbers.
func (lo *lowerer) numCond(n *ast.ConditionalNode) numFn {
	c, a, b := lo.boolean(n.Cond), lo.num(n.Exp1), lo.num(n.Exp2)
	if c == nil || a == nil || b == nil {
		return nil
	}
	return choose(c, a, b)
}

// defaulted is the index of the field on the left of ??, or -1 when the
// left is not a field: any other null there is an error in the VM, not
// nil.
func (lo *lowerer) defaulted(n *ast.BinaryNode) int {
	id, ok := n.Left.(*ast.IdentifierNode)
	if !ok {
		return -1
	}
	return fieldIndex(id.Value, lo.fields)
}

// orDefault is field i ?? r, l reading the field.
func orDefault[T any](i int, l, r func([]record.Value) (T, bool)) func([]record.Value) (T, bool) {
	return func(row []record.Value) (T, bool) {
		if row[i].Kind == record.Null {
			return r(row)
		}
		return l(row)
	}
}

// choose is cond ? a : b, evaluating only the branch the VM would.
func choose[T any](c loweredBool, a, b func([]record.Value) (T, bool)) func([]record.Value) (T, bool) {
	return func(row []record.Value) (T, bool) {
		v, ok := c(row)
		switch {
		case !ok:
			var zero T
			return zero, false
		case v:
			return a(row)
		}
		return b(row)
	}
}

// builtin lowers round, floor and ceil (a float64 whatever the
// argument, as expr's), abs (of the argument's type) and len of a string
// field (its runes).
func (lo *lowerer) builtin(n *ast.BuiltinNode) numFn {
	if len(n.Arguments) != 1 {
		return nil
	}
	if n.Name == "len" {
		return lo.runeCount(n.Arguments[0])
	}
	x := lo.num(n.Arguments[0])
	if x == nil {
		return nil
	}
	var fn func(float64) float64
	switch n.Name {
	case "round":
		fn = math.Round
	case "floor":
		fn = math.Floor
	case "ceil":
		fn = math.Ceil
	case "abs":
		return func(row []record.Value) (number, bool) {
			a, ok := x(row)
			if a.isInt && a.i < 0 {
				a.i = -a.i
			} else if !a.isInt && a.f < 0 {
				a.f = -a.f
			}
			return a, ok
		}
	default:
		return nil
	}
	return func(row []record.Value) (number, bool) {
		a, ok := x(row)
		return number{f: fn(a.float())}, ok
	}
}

// runeCount is len of a string field: its number of runes, as expr's.
func (lo *lowerer) runeCount(arg ast.Node) numFn {
	id, ok := arg.(*ast.IdentifierNode)
	if !ok {
		return nil
	}
	i := fieldIndex(id.Value, lo.fields)
	if i < 0 || lo.fields[i].Kind != record.String {
		return nil
	}
	return func(row []record.Value) (number, bool) {
		v := &row[i]
		return number{i: utf8.RuneCount(v.Bytes), isInt: true}, v.Kind == record.String
	}
}
