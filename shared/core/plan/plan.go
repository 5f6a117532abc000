// Package transform compiles a pipeline spec into an immutable Plan and
// applies it to decoded records: clean, cast, validate, derive, filter and
// dedup. It imports no AWS code and does no I/O.
package plan

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// Plan is a compiled spec. It is safe for concurrent use; each goroutine
// applies it through its own Processor.
type Plan struct {
	Spec *spec.Spec
	// Columns are the input columns or keys the decoders must produce, in
	// the order of RawRecord.Fields.
	Columns []string
	// Full is the schema of a processed row: fields, then derived fields.
	Full record.Schema
	// Out is the output schema: Full without dropped fields.
	Out record.Schema

	fields   []fieldPlan
	derives  []derivePlan
	checks   []exprPlan
	filters  []exprPlan
	dedup    []int
	outIdx   []int
	identOut bool   // Out is Full: no field dropped
	envVars  []int  // field indices any expression reads
	inEnv    []bool // per Full index: an expression reads it
	useValue bool
	valueIdx int // a field named value, which rules.expr shadows; or -1
	memory   uint
}

type fieldPlan struct {
	name     string
	col      int
	kind     record.Kind
	scale    int
	clean    []spec.CleanStep
	nullIf   [][][]byte // per clean step index: values for null_if
	layouts  []string
	loc      *time.Location
	required bool
	regex    *regexp.Regexp
	literal  []byte // set when regex is a plain literal: match by bytes.Contains
	hasRules bool
	min, max *record.Value
	minLen   int
	maxLen   int
	enum     map[string]struct{}
	expr     *exprPlan
}

type derivePlan struct {
	exprPlan
	kind  record.Kind
	scale int
}

type exprPlan struct {
	name    string
	program *vm.Program
}

var defaultLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02"}

// Compile builds a Plan. Errors are spec errors naming the file, line and
// key: a bad regex, a bad bound, or an expression that does not compile or
// type-check against the declared fields.
func Compile(s *spec.Spec) (*Plan, error) {
	p := &Plan{Spec: s, memory: 100_000}
	var errs spec.Errors
	add := func(e *spec.Error) { errs = append(errs, e) }
	maxNodes := uint(s.Limits.ExprMaxNodes)
	if maxNodes == 0 {
		maxNodes = spec.DefaultExprMaxNodes
	}

	env := map[string]any{}
	used := map[string]bool{}
	colIdx := map[string]int{}
	for i, f := range s.Fields {
		key := fmt.Sprintf("fields[%d]", i)
		kind, _ := record.ParseKind(f.Type)
		fp := fieldPlan{name: f.Name, kind: kind, scale: f.Scale, clean: f.Clean, required: f.Required, loc: time.UTC, minLen: -1, maxLen: -1}
		src := f.Source()
		c, ok := colIdx[src]
		if !ok {
			c = len(p.Columns)
			colIdx[src] = c
			p.Columns = append(p.Columns, src)
		}
		fp.col = c
		if f.Timezone != "" {
			fp.loc, _ = time.LoadLocation(f.Timezone)
		}
		fp.layouts = f.Layouts
		if len(fp.layouts) == 0 {
			fp.layouts = defaultLayouts
		}
		fp.nullIf = make([][][]byte, len(f.Clean))
		for j, st := range f.Clean {
			if st.Op == spec.CleanNullIf {
				for _, v := range st.Values {
					fp.nullIf[j] = append(fp.nullIf[j], []byte(v))
				}
			}
		}
		r := f.Rules
		if r.Regex != "" {
			re, err := regexp.Compile(r.Regex)
			if err != nil {
				add(s.Errorf(key+".rules.regex", "bad regex: %v", err))
			}
			fp.regex = re
			if re != nil {
				if lit, complete := re.LiteralPrefix(); complete && !strings.HasPrefix(r.Regex, "^") {
					fp.literal = []byte(lit)
				}
			}
		}
		for name, b := range map[string]*spec.Scalar{"min": r.Min, "max": r.Max} {
			if b == nil {
				continue
			}
			v, reason := fp.parseText([]byte(*b), false)
			if reason != "" {
				add(s.Errorf(key+".rules."+name, "bound %q is %s for a %s field", string(*b), reason, kind))
				continue
			}
			if name == "min" {
				fp.min = &v
			} else {
				fp.max = &v
			}
		}
		if r.Length != nil {
			if r.Length.Min != nil {
				fp.minLen = *r.Length.Min
			}
			if r.Length.Max != nil {
				fp.maxLen = *r.Length.Max
			}
		}
		if len(r.Enum) > 0 {
			fp.enum = map[string]struct{}{}
			for _, e := range r.Enum {
				v, reason := fp.parseText([]byte(e), false)
				if reason != "" {
					add(s.Errorf(key+".rules.enum", "value %q is %s for a %s field", e, reason, kind))
					continue
				}
				fp.enum[string(record.AppendText(nil, v, fp.scale))] = struct{}{}
			}
		}
		fp.hasRules = fp.required || fp.regex != nil || fp.min != nil || fp.max != nil || fp.minLen >= 0 || fp.maxLen >= 0 || fp.enum != nil
		p.fields = append(p.fields, fp)
		p.Full.Fields = append(p.Full.Fields, record.Field{Name: f.Name, Kind: kind, Scale: f.Scale})
		env[f.Name] = zeroOf(kind)
	}
	// Field rule expressions see every field, and the field itself as value.
	for i, f := range s.Fields {
		if f.Rules.Expr == "" {
			continue
		}
		e := copyEnv(env)
		e["value"] = env[f.Name]
		prog, err := compileExpr(f.Rules.Expr, e, maxNodes, true, used)
		if err != nil {
			add(s.Errorf(fmt.Sprintf("fields[%d].rules.expr", i), "%v", err))
			continue
		}
		p.fields[i].expr = &exprPlan{name: "expr", program: prog}
		p.useValue = true
		used[f.Name] = true // the field's value is read as value
	}
	for i, d := range s.Derive {
		key := fmt.Sprintf("derive[%d]", i)
		prog, err := compileExpr(d.Expr, env, maxNodes, false, used)
		if err != nil {
			add(s.Errorf(key+".expr", "%v", err))
			continue
		}
		kind, ok := record.ParseKind(d.Type)
		out := prog.Node().Type()
		if !ok {
			kind, ok = kindOfType(out)
			if !ok {
				add(s.Errorf(key+".type", "cannot infer a type from the expression (it gives %v); set type", typeName(out)))
				continue
			}
		} else if !assignable(out, kind) {
			add(s.Errorf(key+".expr", "expression gives %v, which cannot be stored as %s", typeName(out), kind))
			continue
		}
		p.derives = append(p.derives, derivePlan{exprPlan: exprPlan{name: d.Name, program: prog}, kind: kind, scale: d.Scale})
		p.Full.Fields = append(p.Full.Fields, record.Field{Name: d.Name, Kind: kind, Scale: d.Scale})
		env[d.Name] = zeroOf(kind)
	}
	for i, c := range s.Validate {
		prog, err := compileExpr(c.Expr, env, maxNodes, true, used)
		if err != nil {
			add(s.Errorf(fmt.Sprintf("validate[%d].expr", i), "%v", err))
			continue
		}
		p.checks = append(p.checks, exprPlan{name: c.Name, program: prog})
	}
	for i, f := range s.Filter {
		prog, err := compileExpr(f.Expr, env, maxNodes, true, used)
		if err != nil {
			add(s.Errorf(fmt.Sprintf("filter[%d].expr", i), "%v", err))
			continue
		}
		p.filters = append(p.filters, exprPlan{name: f.Name, program: prog})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if s.Dedup != nil {
		for _, k := range s.Dedup.Keys {
			p.dedup = append(p.dedup, p.Full.Index(k))
		}
	}
	drop := map[string]bool{}
	for _, f := range s.Fields {
		if f.Drop {
			drop[f.Name] = true
		}
	}
	p.inEnv = make([]bool, len(p.Full.Fields))
	for i, f := range p.Full.Fields {
		p.inEnv[i] = used[f.Name]
		if used[f.Name] && i < len(p.fields) {
			p.envVars = append(p.envVars, i)
		}
		if !drop[f.Name] {
			p.outIdx = append(p.outIdx, i)
			p.Out.Fields = append(p.Out.Fields, f)
		}
	}
	p.identOut = len(p.Out.Fields) == len(p.Full.Fields)
	p.valueIdx = -1
	if i := p.Full.Index("value"); p.useValue && i >= 0 && i < len(p.fields) && p.inEnv[i] {
		p.valueIdx = i
	}
	return p, nil
}

// FromFile reads, checks and compiles a spec file.
func FromFile(path string) (*Plan, error) {
	s, err := spec.LoadFile(path)
	if err != nil {
		return nil, err
	}
	return Compile(s)
}

// FromBytes checks and compiles a spec document.
func FromBytes(name string, data []byte) (*Plan, error) {
	s, err := spec.Parse(name, data)
	if err != nil {
		return nil, err
	}
	return Compile(s)
}

func copyEnv(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Builtins that are disabled: now() makes output depend on the wall clock,
// so a rerun would not reproduce it; repeat() can build huge strings.
var disabledBuiltins = []string{"now", "repeat"}

func compileExpr(src string, env map[string]any, maxNodes uint, asBool bool, used map[string]bool) (*vm.Program, error) {
	opts := append([]expr.Option{expr.Env(env), expr.MaxNodes(maxNodes)}, boundedStrings()...)
	for _, b := range disabledBuiltins {
		opts = append(opts, expr.DisableBuiltin(b))
	}
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, err
	}
	// Walk the compiled tree: parsing src again would apply expr's default
	// node limit instead of maxNodes.
	node := prog.Node()
	ast.Walk(&node, identVisitor(used))
	return prog, nil
}

type identVisitor map[string]bool

func (v identVisitor) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok {
		v[id.Value] = true
	}
}

var timeType = reflect.TypeOf(time.Time{})

func zeroOf(k record.Kind) any {
	switch k {
	case record.Int:
		return 0
	case record.Float, record.Decimal:
		return 0.0
	case record.Bool:
		return false
	case record.Timestamp, record.Date:
		return time.Time{}
	}
	return ""
}

func kindOfType(t reflect.Type) (record.Kind, bool) {
	if t == nil {
		return record.Null, false
	}
	switch t.Kind() {
	case reflect.String:
		return record.String, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return record.Int, true
	case reflect.Float32, reflect.Float64:
		return record.Float, true
	case reflect.Bool:
		return record.Bool, true
	}
	if t == timeType {
		return record.Timestamp, true
	}
	return record.Null, false
}

func typeName(t reflect.Type) string {
	if t == nil || t.Kind() == reflect.Interface {
		return "an unknown type"
	}
	return t.String()
}

// assignable reports whether an expression of type t can be stored as k.
// An unknown (interface) type is checked per row instead.
func assignable(t reflect.Type, k record.Kind) bool {
	if t == nil || t.Kind() == reflect.Interface {
		return true
	}
	got, ok := kindOfType(t)
	if !ok {
		return false
	}
	switch k {
	case record.Int, record.Float, record.Decimal:
		return got == record.Int || got == record.Float
	case record.Date, record.Timestamp:
		return got == record.Timestamp
	}
	return got == k
}
