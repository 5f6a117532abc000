package plan

import (
	"bytes"

	"github.com/expr-lang/expr/ast"

	"github.com/sluice-etl/sluice/shared/core/record"
)

// A loweredBool computes a boolean expression (a check, a filter, a
// boolean derived field) straight from the row, for the common case:
// comparisons of numbers and of strings, contains, startsWith, endsWith,
// in over a list of constants, and, or and not, field ?? value and
// cond ? a : b, over fields and constants. Like a lowered number it
// reports false when the row is outside that case (a field it reads is
// null), and the VM evaluates the expression instead; when it reports
// true, its value is the VM's.
type loweredBool func(row []record.Value) (value, ok bool)

// strFn reads a string operand: a string field, or a constant.
type strFn func(row []record.Value) ([]byte, bool)

// lowerBool gives the lowered form of a boolean expression, or nil when
// it has a node outside the lowered case.
func lowerBool(node ast.Node, fields []record.Field) loweredBool {
	return newLowerer(node, fields).boolean(node)
}

func (lo *lowerer) boolean(node ast.Node) loweredBool {
	switch n := node.(type) {
	case *ast.BoolNode:
		v := n.Value
		return func([]record.Value) (bool, bool) { return v, true }
	case *ast.IdentifierNode:
		return boolField(n.Value, lo.fields)
	case *ast.UnaryNode:
		return lo.not(n)
	case *ast.BinaryNode:
		return lo.binary(n)
	case *ast.ConditionalNode:
		c, a, b := lo.boolean(n.Cond), lo.boolean(n.Exp1), lo.boolean(n.Exp2)
		if c == nil || a == nil || b == nil {
			return nil
		}
		return choose(c, a, b)
	}
	return nil
}

func (lo *lowerer) not(n *ast.UnaryNode) loweredBool {
	if n.Operator != "!" && n.Operator != "not" {
		return nil
	}
	x := lo.boolean(n.Node)
	if x == nil {
		return nil
	}
	return func(row []record.Value) (bool, bool) {
		v, ok := x(row)
		return !v, ok
	}
}

// boolField reads a bool field.
func boolField(name string, fields []record.Field) loweredBool {
	i := fieldIndex(name, fields)
	if i < 0 || fields[i].Kind != record.Bool {
		return nil
	}
	return func(row []record.Value) (bool, bool) {
		v := &row[i]
		return v.Int != 0, v.Kind == record.Bool
	}
}

func (lo *lowerer) binary(n *ast.BinaryNode) loweredBool {
	switch n.Operator {
	case "&&", "and", "||", "or":
		return lo.logic(n)
	case "??":
		return lo.boolDefault(n)
	case "in":
		return lo.in(n)
	case "==", "!=", "<", "<=", ">", ">=":
		if f := lo.numCompare(n); f != nil {
			return f
		}
	case "contains", "startsWith", "endsWith":
	default:
		return nil
	}
	return lo.strCompare(n)
}

// boolDefault lowers field ?? boolean, as numDefault does numbers.
func (lo *lowerer) boolDefault(n *ast.BinaryNode) loweredBool {
	i, l, r := lo.defaulted(n), lo.boolean(n.Left), lo.boolean(n.Right)
	if i < 0 || l == nil || r == nil {
		return nil
	}
	return orDefault(i, l, r)
}

// logic lowers and and or, evaluating the right side only when the
// VM would.
func (lo *lowerer) logic(n *ast.BinaryNode) loweredBool {
	l, r := lo.boolean(n.Left), lo.boolean(n.Right)
	if l == nil || r == nil {
		return nil
	}
	stopOn := n.Operator == "||" || n.Operator == "or" // the left value that decides
	return func(row []record.Value) (bool, bool) {
		a, ok := l(row)
		if !ok || a == stopOn {
			return a, ok
		}
		return r(row)
	}
}

// lowerNumCompare compares two numbers as expr does: two ints as ints,
// otherwise as float64.
func (lo *lowerer) numCompare(n *ast.BinaryNode) loweredBool {
	l, r := lo.num(n.Left), lo.num(n.Right)
	if l == nil || r == nil {
		return nil
	}
	var ints func(a, b int) bool
	var floats func(a, b float64) bool
	switch n.Operator {
	case "==":
		ints, floats = func(a, b int) bool { return a == b }, func(a, b float64) bool { return a == b }
	case "!=":
		ints, floats = func(a, b int) bool { return a != b }, func(a, b float64) bool { return a != b }
	case "<":
		ints, floats = func(a, b int) bool { return a < b }, func(a, b float64) bool { return a < b }
	case "<=":
		ints, floats = func(a, b int) bool { return a <= b }, func(a, b float64) bool { return a <= b }
	case ">":
		ints, floats = func(a, b int) bool { return a > b }, func(a, b float64) bool { return a > b }
	case ">=":
		ints, floats = func(a, b int) bool { return a >= b }, func(a, b float64) bool { return a >= b }
	}
	return func(row []record.Value) (bool, bool) {
		a, ok1 := l(row)
		b, ok2 := r(row)
		if !ok1 || !ok2 {
			return false, false
		}
		if a.isInt && b.isInt {
			return ints(a.i, b.i), true
		}
		return floats(a.float(), b.float()), true
	}
}

// str reads a string field or a string constant, or a string the VM
// would charge its budget for scanning, when it is at most scanMax long.
func (lo *lowerer) str(node ast.Node) strFn {
	fields := lo.fields
	switch n := node.(type) {
	case *ast.CallNode:
		if !isCall(n, "sluiceScanText") {
			return nil
		}
		x, limit := lo.str(n.Arguments[0]), lo.scanMax
		if x == nil {
			return nil
		}
		return func(row []record.Value) ([]byte, bool) {
			b, ok := x(row)
			return b, ok && len(b) <= limit
		}
	case *ast.StringNode:
		c := []byte(n.Value)
		return func([]record.Value) ([]byte, bool) { return c, true }
	case *ast.IdentifierNode:
		i := fieldIndex(n.Value, fields)
		if i < 0 || fields[i].Kind != record.String {
			return nil
		}
		return func(row []record.Value) ([]byte, bool) {
			v := &row[i]
			return v.Bytes, v.Kind == record.String
		}
	case *ast.BinaryNode:
		return lo.strDefault(n)
	case *ast.ConditionalNode:
		c, a, b := lo.boolean(n.Cond), lo.str(n.Exp1), lo.str(n.Exp2)
		if c == nil || a == nil || b == nil {
			return nil
		}
		return choose(c, a, b)
	}
	return nil
}

// strDefault lowers field ?? string, as numDefault does numbers.
func (lo *lowerer) strDefault(n *ast.BinaryNode) strFn {
	if n.Operator != "??" {
		return nil
	}
	i, l, r := lo.defaulted(n), lo.str(n.Left), lo.str(n.Right)
	if i < 0 || l == nil || r == nil {
		return nil
	}
	return orDefault(i, l, r)
}

// lowerStrCompare compares two strings byte by byte, as Go compares
// strings, or tests one for the other with contains, startsWith or
// endsWith.
func (lo *lowerer) strCompare(n *ast.BinaryNode) loweredBool {
	l, r := lo.str(n.Left), lo.str(n.Right)
	if l == nil || r == nil {
		return nil
	}
	var test func(a, b []byte) bool
	switch n.Operator {
	case "==":
		test = bytes.Equal
	case "!=":
		test = func(a, b []byte) bool { return !bytes.Equal(a, b) }
	case "<":
		test = func(a, b []byte) bool { return bytes.Compare(a, b) < 0 }
	case "<=":
		test = func(a, b []byte) bool { return bytes.Compare(a, b) <= 0 }
	case ">":
		test = func(a, b []byte) bool { return bytes.Compare(a, b) > 0 }
	case ">=":
		test = func(a, b []byte) bool { return bytes.Compare(a, b) >= 0 }
	case "contains":
		test = bytes.Contains
	case "startsWith":
		test = bytes.HasPrefix
	case "endsWith":
		test = bytes.HasSuffix
	default:
		return nil
	}
	return func(row []record.Value) (bool, bool) {
		a, ok1 := l(row)
		b, ok2 := r(row)
		if !ok1 || !ok2 {
			return false, false
		}
		return test(a, b), true
	}
}

// lowerIn lowers field in [constants], which expr's optimizer has turned
// into a set: of strings for a string field, of ints for an int field.
func (lo *lowerer) in(n *ast.BinaryNode) loweredBool {
	c, ok := n.Right.(*ast.ConstantNode)
	if !ok {
		return nil
	}
	switch set := c.Value.(type) {
	case map[string]struct{}:
		x := lo.str(n.Left)
		if x == nil {
			return nil
		}
		return func(row []record.Value) (bool, bool) {
			b, ok := x(row)
			_, in := set[string(b)]
			return in, ok
		}
	case map[int]struct{}:
		x := lo.num(n.Left)
		if x == nil {
			return nil
		}
		return func(row []record.Value) (bool, bool) {
			a, ok := x(row)
			if !a.isInt {
				return false, false
			}
			_, in := set[a.i]
			return in, ok
		}
	}
	return nil
}
