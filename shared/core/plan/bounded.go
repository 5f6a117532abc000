package plan

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm/runtime"
)

// MaxExprString bounds every string an expression builds: concatenation
// with +, join and replace. With let bindings, doubling a string takes a
// few nodes, so the node limit alone would let a spec ask for terabytes.
const MaxExprString = 1 << 20

var errLongString = fmt.Errorf("string longer than %d bytes", MaxExprString)

// Builtins that are disabled: now() makes output depend on the wall clock,
// so a rerun would not reproduce it; repeat() can build huge strings.
var disabledBuiltins = []string{"now", "repeat"}

// chargedBuiltins are expr's builtins that allocate or scan in proportion
// to their arguments, each with what a call costs, counted before the
// call. They keep expr's own implementation, types and checks.
var chargedBuiltins = map[string]func(b *budget, args []any) int{
	"split":       func(_ *budget, a []any) int { return splitCost(a) },
	"splitAfter":  func(_ *budget, a []any) int { return splitCost(a) },
	"upper":       func(_ *budget, a []any) int { return stringArgs(a) },
	"lower":       func(_ *budget, a []any) int { return stringArgs(a) },
	"toBase64":    func(_ *budget, a []any) int { return stringArgs(a) },
	"fromBase64":  func(_ *budget, a []any) int { return stringArgs(a) },
	"indexOf":     func(_ *budget, a []any) int { return stringArgs(a) },
	"lastIndexOf": func(_ *budget, a []any) int { return stringArgs(a) },
	"duration":    func(_ *budget, a []any) int { return stringArgs(a) },
	"date":        func(_ *budget, a []any) int { return zoneCost(a) },
	"timezone":    func(_ *budget, a []any) int { return zoneCost(a) },
	"fromJSON":    func(_ *budget, a []any) int { return costJSON * stringArgs(a) },
	"string":      func(b *budget, a []any) int { return textSize(a[0], 0, b.left, false) },
	"toJSON":      func(b *budget, a []any) int { return textSize(a[0], 0, b.left, true) },
	"uniq":        func(_ *budget, a []any) int { return elements(a) },
	"keys":        func(_ *budget, a []any) int { return elements(a) },
	"values":      func(_ *budget, a []any) int { return elements(a) },
	"toPairs":     func(_ *budget, a []any) int { return elements(a) },
	"fromPairs":   func(_ *budget, a []any) int { return elements(a) },
	"take":        func(_ *budget, a []any) int { return elements(a) },
	"max":         func(_ *budget, a []any) int { return elements(a) },
	"min":         func(_ *budget, a []any) int { return elements(a) },
	"mean":        func(_ *budget, a []any) int { return elements(a) },
	"median":      func(_ *budget, a []any) int { return elements(a) },
}

// exprOptions are the options every expression is compiled with: the
// disabled builtins, and the bounded and charged versions of the others,
// which spend b. The plan compiles once to check and type each
// expression; each Processor compiles again with its own budget.
func exprOptions(b *budget) []expr.Option {
	opts := []expr.Option{
		expr.Function("sluiceTick", func(...any) (any, error) { return nil, b.charge(costStep) }, new(func() any)),
		expr.Function("sluiceScan", b.scan, new(func(any) any)),
		expr.Function("sluiceScanText", b.scan, new(func(string) string)),
		expr.Function("sluiceScanArray", b.scan, new(func([]any) []any), new(func([]string) []string), new(func([]int) []int), new(func([]float64) []float64)),
		expr.Function("sluiceRegex", b.regex, new(func(any) any)),
		expr.Function("sluiceRegexText", b.regex, new(func(string) string)),
		expr.Function("sluiceAdd", func(p ...any) (any, error) { return b.add(p[0], p[1]) }, new(func(any, any) any)),
		expr.Function("sluiceConcat", func(p ...any) (any, error) { return b.concat(p[0].(string), p[1].(string)) }, new(func(string, string) string)),
		expr.Operator("+", "sluiceConcat"),
		expr.Function("join", b.join, new(func([]any) string), new(func([]any, string) string), new(func([]string) string), new(func([]string, string) string)),
		expr.Function("replace", b.replace, new(func(string, string, string) string)),
		expr.Patch(budgetPatcher{}),
	}
	for _, name := range disabledBuiltins {
		opts = append(opts, expr.DisableBuiltin(name))
	}
	for name, cost := range chargedBuiltins {
		opts = append(opts, chargedBuiltin(b, name, cost))
	}
	return opts
}

// chargedBuiltin replaces expr's builtin name by one that charges cost
// to b first, with the builtin's own implementation, types and checks.
func chargedBuiltin(b *budget, name string, cost func(*budget, []any) int) expr.Option {
	orig := builtin.Builtins[builtin.Index[name]]
	call := orig.Func
	if call == nil {
		fast := orig.Fast
		call = func(args ...any) (any, error) { return fast(args[0]), nil }
	}
	return func(c *conf.Config) {
		c.Functions[name] = &builtin.Function{Name: name, Types: orig.Types, Validate: orig.Validate,
			Func: func(args ...any) (any, error) {
				if err := b.charge(cost(b, args)); err != nil {
					return nil, err
				}
				return call(args...)
			}}
	}
}

// scan passes its argument through, charging the cost of scanning it.
func (b *budget) scan(p ...any) (any, error) {
	if err := b.charge(scanCost(p[0])); err != nil {
		return nil, err
	}
	return p[0], nil
}

// regex passes a pattern through, charging the cost of compiling it.
func (b *budget) regex(p ...any) (any, error) {
	if err := b.charge(costRegex * strLen(p[0])); err != nil {
		return nil, err
	}
	return p[0], nil
}

// concat is + on two strings, bounded by MaxExprString.
func (b *budget) concat(x, y string) (any, error) {
	if len(x)+len(y) > MaxExprString {
		return nil, errLongString
	}
	if err := b.charge(len(x) + len(y)); err != nil {
		return nil, err
	}
	return x + y, nil
}

// add is + on operands whose types are known only at run time: concat
// for two strings, expr's own + for anything else.
func (b *budget) add(x, y any) (any, error) {
	if xs, ok := x.(string); ok {
		if ys, ok := y.(string); ok {
			return b.concat(xs, ys)
		}
	}
	return runtime.Add(x, y), nil
}

// join is expr's join, bounded by MaxExprString.
func (b *budget) join(p ...any) (any, error) {
	sep := ""
	if len(p) == 2 {
		s, ok := p[1].(string)
		if !ok {
			return nil, errors.New("join: the separator must be a string")
		}
		sep = s
	}
	items, ok := p[0].([]any)
	if !ok {
		if ss, isStrings := p[0].([]string); isStrings {
			for _, s := range ss {
				items = append(items, s)
			}
		} else {
			return nil, fmt.Errorf("join: want an array, got %T", p[0])
		}
	}
	n := 0
	for i, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, fmt.Errorf("join: element %d is %T, not a string", i, it)
		}
		if i > 0 {
			n += len(sep)
		}
		if n += len(s); n > MaxExprString {
			return nil, errLongString
		}
	}
	if err := b.charge(n + len(items)*costElement); err != nil {
		return nil, err
	}
	var sb strings.Builder
	sb.Grow(n)
	for i, it := range items {
		if i > 0 {
			sb.WriteString(sep)
		}
		sb.WriteString(it.(string))
	}
	return sb.String(), nil
}

// replace is expr's replace with three arguments, bounded by
// MaxExprString.
func (b *budget) replace(p ...any) (any, error) {
	s, old, repl := p[0].(string), p[1].(string), p[2].(string)
	size := len(s)
	if n := strings.Count(s, old); n > 0 && len(repl) > len(old) {
		if size += n * (len(repl) - len(old)); size > MaxExprString {
			return nil, errLongString
		}
	}
	if err := b.charge(len(s) + size); err != nil {
		return nil, err
	}
	return strings.ReplaceAll(s, old, repl), nil
}

// budgetPatcher rewrites an expression's tree, before it is type-checked,
// so that its evaluation pays for work that calls no charged builtin:
//
//   - each predicate step first calls sluiceTick;
//   - what contains, matches and in scan, and the string arguments of a
//     method call (at.Format(layout)), go through sluiceScan, and a
//     pattern that matches compiles for each evaluation through
//     sluiceRegex;
//   - + on an operand of unknown type, which may be a string at run time,
//     calls sluiceAdd, which bounds the string it builds. (+ on two
//     strings becomes sluiceConcat by expr's operator overloading.)
//
// Each new node takes the location of the node it wraps, so errors point
// at the user's text.
type budgetPatcher struct{}

func (budgetPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.PredicateNode:
		body := n.Node
		n.Node = located(&ast.SequenceNode{Nodes: []ast.Node{call("sluiceTick", body), body}}, body)
	case *ast.BinaryNode:
		switch n.Operator {
		case "contains":
			n.Left = scan(n.Left)
		case "matches":
			n.Left = scan(n.Left)
			if _, constant := n.Right.(*ast.StringNode); !constant {
				n.Right = pattern(n.Right)
			}
		case "in":
			n.Right = scan(n.Right)
		case "+":
			if mayBeString(n.Left) && mayBeString(n.Right) && (unknown(n.Left) || unknown(n.Right)) {
				*node = located(call("sluiceAdd", n, n.Left, n.Right), n)
			}
		}
	case *ast.CallNode:
		if _, method := n.Callee.(*ast.MemberNode); method {
			for i, a := range n.Arguments {
				if mayBeString(a) {
					n.Arguments[i] = scan(a)
				}
			}
		}
	}
}

// call is a call of the function name, at the location of at.
func call(name string, at ast.Node, args ...ast.Node) *ast.CallNode {
	return located(&ast.CallNode{Callee: located(&ast.IdentifierNode{Value: name}, at), Arguments: args}, at)
}

// scanArrays are the array types sluiceScanArray passes through with
// their type.
var scanArrays = map[reflect.Type]bool{
	reflect.TypeFor[[]any](): true, reflect.TypeFor[[]string](): true, reflect.TypeFor[[]int](): true, reflect.TypeFor[[]float64](): true,
}

// scan wraps n in the sluiceScan function that keeps its static type, so
// that type checks stay as they were. Literals of bounded size (array
// literals, short strings, ranges, which expr optimises) are not wrapped,
// nor are values that are not strings or arrays.
func scan(n ast.Node) ast.Node {
	switch v := n.(type) {
	case *ast.ArrayNode, *ast.MapNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode:
		return n
	case *ast.StringNode:
		if len(v.Value) <= 64 {
			return n
		}
	case *ast.BinaryNode:
		if v.Operator == ".." {
			return n
		}
	}
	switch t := n.Type(); {
	case unknown(n):
		return call("sluiceScan", n, n)
	case t.Kind() == reflect.String:
		return call("sluiceScanText", n, n)
	case scanArrays[t]:
		return call("sluiceScanArray", n, n)
	}
	return n
}

// pattern wraps a pattern that matches compiles on each evaluation in
// the sluiceRegex function that keeps its static type.
func pattern(n ast.Node) ast.Node {
	switch {
	case unknown(n):
		return call("sluiceRegex", n, n)
	case n.Type().Kind() == reflect.String:
		return call("sluiceRegexText", n, n)
	}
	return n
}

func located[N ast.Node](n N, at ast.Node) N {
	n.SetLocation(at.Location())
	return n
}

// unknown reports whether n's type is known only at run time.
func unknown(n ast.Node) bool {
	t := n.Type()
	return t == nil || t.Kind() == reflect.Interface
}

// mayBeString reports whether n may be a string at run time.
func mayBeString(n ast.Node) bool {
	return unknown(n) || n.Type().Kind() == reflect.String
}
