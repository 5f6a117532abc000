package plan

import (
	"errors"
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
)

// MaxExprString bounds every string an expression builds: concatenation
// with +, join and replace. With let bindings, doubling a string takes a
// few nodes, so the node limit alone would let a spec ask for terabytes.
const MaxExprString = 1 << 20

var errLongString = fmt.Errorf("string longer than %d bytes", MaxExprString)

// boundedStrings replaces the builtins that can grow a string without
// limit by versions that stop at MaxExprString.
func boundedStrings() []expr.Option {
	return []expr.Option{
		expr.Function("sluiceConcat", func(p ...any) (any, error) {
			a, b := p[0].(string), p[1].(string)
			if len(a)+len(b) > MaxExprString {
				return nil, errLongString
			}
			return a + b, nil
		}, new(func(string, string) string)),
		expr.Operator("+", "sluiceConcat"),
		expr.DisableBuiltin("join"),
		expr.Function("join", func(p ...any) (any, error) {
			sep := ""
			if len(p) == 2 {
				s, ok := p[1].(string)
				if !ok {
					return nil, errors.New("join: the separator must be a string")
				}
				sep = s
			}
			var b strings.Builder
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
			for i, it := range items {
				s, ok := it.(string)
				if !ok {
					return nil, fmt.Errorf("join: element %d is %T, not a string", i, it)
				}
				if i > 0 {
					b.WriteString(sep)
				}
				if b.Len()+len(s) > MaxExprString {
					return nil, errLongString
				}
				b.WriteString(s)
			}
			return b.String(), nil
		}, new(func([]any) string), new(func([]any, string) string), new(func([]string) string), new(func([]string, string) string)),
		expr.DisableBuiltin("replace"),
		expr.Function("replace", func(p ...any) (any, error) {
			s, old, repl := p[0].(string), p[1].(string), p[2].(string)
			if n := strings.Count(s, old); len(repl) > len(old) && n > 0 && len(s)+n*(len(repl)-len(old)) > MaxExprString {
				return nil, errLongString
			}
			return strings.ReplaceAll(s, old, repl), nil
		}, new(func(string, string, string) string)),
	}
}
