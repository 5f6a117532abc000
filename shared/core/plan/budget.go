package plan

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxExprWork is the work budget of one evaluation of an expression, in
// units of about a byte. Besides the VM's own memory budget (which counts
// the elements of the ranges, arrays and maps it builds), an evaluation is
// charged for:
//
//   - each step of a predicate (all, any, map, filter, count, ...);
//   - the bytes of each string it builds (+, join, replace, upper, lower,
//     string, toJSON, toBase64, fromBase64, ...) and the elements of each
//     array or map a builtin builds or walks (split, fromJSON, keys,
//     values, uniq, ...);
//   - the bytes of each string, and the elements of each array, that
//     contains, matches, in, indexOf and method calls scan, and 64 units a
//     byte of a pattern that matches compiles at run time.
//
// An evaluation that goes over the budget stops with errBudget, so no
// expression can take more than a bounded time and memory on one record.
const MaxExprWork = 16 << 20

// Costs in budget units.
const (
	costStep    = 16   // one step of a predicate
	costElement = 16   // one element of an array or map built or walked
	costJSON    = 8    // per byte of JSON text decoded
	costZone    = 4096 // loading a time zone
	costRegex   = 64   // per byte of a pattern compiled at run time
)

var errBudget = errors.New("expression budget exceeded")

// budget is what one Processor's expressions may still spend in the
// current evaluation. Each charge also looks at the Processor's context,
// so a cancelled run stops inside a long evaluation.
type budget struct {
	ctx  context.Context
	left int
	// stopped is ctx's error once a charge has seen it.
	stopped error
}

// reset gives a new evaluation the whole budget.
func (b *budget) reset() { b.left = MaxExprWork }

// charge spends n units, or fails when they are not left or ctx is done.
func (b *budget) charge(n int) error {
	if b.ctx != nil {
		if err := b.ctx.Err(); err != nil {
			b.stopped = err
			return err
		}
	}
	if n > b.left {
		b.left = 0
		return errBudget
	}
	b.left -= n
	return nil
}

// strLen is the length of x when it is a string, else 0.
func strLen(x any) int {
	s, _ := x.(string)
	return len(s)
}

// stringArgs is the total length of the string arguments.
func stringArgs(args []any) int {
	n := 0
	for _, a := range args {
		n += strLen(a)
	}
	return n
}

// elements is the number of elements of the arrays and maps among args,
// times costElement.
func elements(args []any) int {
	n := 0
	for _, a := range args {
		switch v := a.(type) {
		case []any:
			n += len(v)
		case map[string]any:
			n += len(v)
		case string, int, float64, bool, nil:
		default:
			if rv := reflect.ValueOf(a); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array || rv.Kind() == reflect.Map {
				n += rv.Len()
			}
		}
	}
	return n * costElement
}

// scanCost is the cost of scanning x: its bytes for a string, its
// elements for an array.
func scanCost(x any) int {
	switch v := x.(type) {
	case string:
		return len(v)
	case []any:
		return len(v) * costElement
	case nil, int, float64, bool, time.Time, map[string]any:
		return 0
	}
	if rv := reflect.ValueOf(x); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		return rv.Len() * costElement
	}
	return 0
}

// splitCost is the cost of split and splitAfter: the scan of the string
// and the elements of the result, counted before it is built.
func splitCost(args []any) int {
	if len(args) < 2 {
		return 0
	}
	s, _ := args[0].(string)
	sep, _ := args[1].(string)
	n := strings.Count(s, sep) + 1
	if sep == "" {
		n = utf8.RuneCountInString(s)
	}
	if len(args) == 3 {
		if limit, ok := args[2].(int); ok && limit >= 0 {
			n = min(n, limit)
		}
	}
	return len(s) + n*costElement
}

// zoneCost is the cost of a builtin that may load a time zone by name.
func zoneCost(args []any) int { return costZone + stringArgs(args) }

// textSize estimates the length of x written by string() or toJSON(), one
// element per indented line at depth, and gives up once it is past limit.
// Strings count their JSON escapes when json is set.
func textSize(x any, depth, limit int, json bool) int {
	switch v := x.(type) {
	case nil, bool:
		return 5
	case string:
		return quotedLen(v, json)
	case int, int64, float64, uint, int32, float32:
		return 24
	case time.Time, time.Duration:
		return 40
	case []any:
		n := 2
		for _, e := range v {
			if n += 2*depth + 4 + textSize(e, depth+1, limit-n, json); n > limit {
				return n
			}
		}
		return n
	case map[string]any:
		n := 2
		for k, e := range v {
			if n += 2*depth + 6 + quotedLen(k, json) + textSize(e, depth+1, limit-n, json); n > limit {
				return n
			}
		}
		return n
	}
	return reflectTextSize(reflect.ValueOf(x), depth, limit, json)
}

// reflectTextSize is textSize for other arrays, maps and structs.
func reflectTextSize(v reflect.Value, depth, limit int, json bool) int {
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		n := 2
		for i := 0; i < v.Len() && n <= limit; i++ {
			n += 2*depth + 4 + textSize(v.Index(i).Interface(), depth+1, limit-n, json)
		}
		return n
	case reflect.Map:
		n := 2
		for it := v.MapRange(); it.Next() && n <= limit; {
			n += 2*depth + 6 + textSize(it.Key().Interface(), depth+1, limit-n, json) + textSize(it.Value().Interface(), depth+1, limit-n, json)
		}
		return n
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return 5
		}
		return textSize(v.Elem().Interface(), depth, limit, json)
	case reflect.String:
		return quotedLen(v.String(), json)
	}
	return 40
}

// quotedLen is the length of s as text, or quoted and escaped as JSON
// (where encoding/json also escapes <, > and &).
func quotedLen(s string, json bool) int {
	if !json {
		return len(s)
	}
	n := len(s) + 2
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			n += 5
		case c == '"' || c == '\\':
			n++
		}
	}
	return n
}
