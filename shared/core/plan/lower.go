package plan

import (
	"math"

	"github.com/expr-lang/expr/ast"

	"github.com/sluice-etl/sluice/shared/core/record"
)

// A lowered expression computes what expr's VM would, for the common
// case, straight from the row: arithmetic (+, -, *, /, unary -) over int,
// float and decimal fields and number constants, and round, floor, ceil
// and abs. It reports false when the row is outside that case (a field
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

// lower gives the lowered form of a derived field's expression, a
// number or a boolean, or nil when it has a node outside the lowered
// case.
func lower(node ast.Node, fields []record.Field) lowered {
	f := lowerNum(node, fields)
	if f == nil {
		if b := lowerBool(node, fields); b != nil {
			return func(row []record.Value) (any, bool) { return b(row) }
		}
		return nil
	}
	return func(row []record.Value) (any, bool) {
		n, ok := f(row)
		return n.value(), ok
	}
}

func lowerNum(node ast.Node, fields []record.Field) numFn {
	switch n := node.(type) {
	case *ast.IntegerNode:
		c := number{i: n.Value, isInt: true}
		return func([]record.Value) (number, bool) { return c, true }
	case *ast.FloatNode:
		c := number{f: n.Value}
		return func([]record.Value) (number, bool) { return c, true }
	case *ast.IdentifierNode:
		return lowerField(n.Value, fields)
	case *ast.UnaryNode:
		return lowerUnary(n, fields)
	case *ast.BinaryNode:
		return lowerBinary(n, fields)
	case *ast.BuiltinNode:
		return lowerBuiltin(n, fields)
	}
	return nil
}

// lowerField reads a number field as expr's environment holds it: an
// int field as int, a float as float64, a decimal as float64.
func lowerField(name string, fields []record.Field) numFn {
	for i, f := range fields {
		if f.Name != name {
			continue
		}
		switch f.Kind {
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
	return nil
}

func lowerUnary(n *ast.UnaryNode, fields []record.Field) numFn {
	x := lowerNum(n.Node, fields)
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

func lowerBinary(n *ast.BinaryNode, fields []record.Field) numFn {
	l, r := lowerNum(n.Left, fields), lowerNum(n.Right, fields)
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

// lowerBuiltin lowers round, floor and ceil (a float64 whatever the
// argument, as expr's) and abs (of the argument's type).
func lowerBuiltin(n *ast.BuiltinNode, fields []record.Field) numFn {
	if len(n.Arguments) != 1 {
		return nil
	}
	x := lowerNum(n.Arguments[0], fields)
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
