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

	"github.com/sluice-etl/sluice/shared/core/codec"
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
	// Contract is the decoders' schema contract, by Columns: see
	// DecodeOptions.
	Contract codec.Contract

	fields   []fieldPlan
	derives  []derivePlan
	checks   []exprPlan
	filters  []exprPlan
	dedup    []int
	outIdx   []int
	identOut bool   // Out is Full: no field dropped
	envVars  []int  // field indices any expression reads
	inEnv    []bool // per Full index: an expression reads it
	useValue bool   // a field has a rule expression, which reads value
	valueIdx int    // a field named value, which rules.expr shadows; or -1
	// envAll is set when an expression uses $env other than as $env.name
	// or $env["name"] (len($env), keys($env), $env[k]): the environment
	// then holds exactly the record, every field and derived field.
	envAll   bool
	memory   uint
	maxNodes uint
	// exprs are the expressions' sources, which each Processor compiles
	// again against its own budget; exprPlan.id indexes them.
	exprs []exprSource
}

// exprSource is what an expression is compiled from.
type exprSource struct {
	src    string
	env    map[string]any
	asBool bool
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
	// absent is the reason of a required reject when the input lacks the
	// field's column or key and its missing policy is null; or "".
	absent   string
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
	// lowered computes the expression without the VM, when it can.
	lowered lowered
}

type exprPlan struct {
	name string
	id   int // index in Plan.exprs and in a Processor's programs
	// lowBool computes a check or a filter without the VM, when it can.
	lowBool loweredBool
}

var defaultLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02"}

// Compile builds a Plan. Errors are spec errors naming the file, line and
// key: a bad regex, a bad bound, or an expression that does not compile or
// type-check against the declared fields.
func Compile(s *spec.Spec) (*Plan, error) {
	c := newCompiler(s)
	c.fields()
	c.contract()
	c.ruleExprs()
	c.derives()
	c.boolExprs()
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	c.finish()
	return c.p, nil
}

// DecodeOptions gives a decoder the plan's schema contract:
// codec.NewJSONLDecoder(r, p.Columns, max, rng, p.DecodeOptions).
func (p *Plan) DecodeOptions(o *codec.DecoderOptions) { o.Contract = p.Contract }

// contract lays out the schema contract by input column. A column several
// fields read fails when it is missing if any of them fails, or leaves it
// to the format ("") while none fails; the field named in errors is the
// first that decided it.
func (c *compiler) contract() {
	n := len(c.p.Columns)
	ct := codec.Contract{Unknown: c.s.Source.UnknownColumns, Missing: make([]codec.MissingPolicy, n), Fields: make([]string, n)}
	rank := map[codec.MissingPolicy]int{codec.MissingNull: 0, "": 1, codec.MissingFail: 2}
	for _, f := range c.s.Fields {
		col := c.colIdx[f.Source()]
		if ct.Fields[col] == "" || rank[f.Missing] > rank[ct.Missing[col]] {
			ct.Missing[col], ct.Fields[col] = f.Missing, f.Name
		}
	}
	c.p.Contract = ct
}

// compiler is the state of one Compile: the plan being built, the
// environment expressions are checked against, the names they read, and
// the errors so far.
type compiler struct {
	s      *spec.Spec
	p      *Plan
	errs   spec.Errors
	env    map[string]any  // a zero value of each field and derived field
	used   map[string]bool // names any expression reads
	colIdx map[string]int  // input column: its index in Plan.Columns
	// check is the budget the plan's own compilations are made with:
	// they are only checked and typed, never run.
	check budget
}

func newCompiler(s *spec.Spec) *compiler {
	c := &compiler{s: s, p: &Plan{Spec: s, memory: 100_000, maxNodes: uint(s.Limits.ExprMaxNodes)},
		env: map[string]any{}, used: map[string]bool{}, colIdx: map[string]int{}}
	if c.p.maxNodes == 0 {
		c.p.maxNodes = spec.DefaultExprMaxNodes
	}
	return c
}

func (c *compiler) add(key, format string, args ...any) {
	c.errs = append(c.errs, c.s.Errorf(key, format, args...))
}

// compile compiles the expression at key against env, notes the names it
// reads and gives its plan; or adds its error and gives nil.
func (c *compiler) compile(key, name, src string, env map[string]any, asBool bool) (*exprPlan, *vm.Program) {
	es := exprSource{src: src, env: copyEnv(env), asBool: asBool}
	prog, err := compileExpr(es, c.p.maxNodes, &c.check)
	if err != nil {
		c.add(key, "%v", err)
		return nil, nil
	}
	c.reads(prog)
	c.p.exprs = append(c.p.exprs, es)
	return &exprPlan{name: name, id: len(c.p.exprs) - 1}, prog
}

// reads notes the names an expression reads: its identifiers, and the
// names it reads as $env.name or $env["name"]. Any other use of $env
// reads the whole record.
func (c *compiler) reads(prog *vm.Program) {
	v := &readsVisitor{used: c.used, named: map[*ast.IdentifierNode]bool{}}
	node := prog.Node()
	// Walk the compiled tree: parsing the source again would apply expr's
	// default node limit instead of maxNodes.
	ast.Walk(&node, v)
	for _, id := range v.envs {
		if !v.named[id] {
			c.p.envAll = true
		}
	}
}

type readsVisitor struct {
	used  map[string]bool
	envs  []*ast.IdentifierNode        // each use of $env
	named map[*ast.IdentifierNode]bool // the uses that are $env.name
}

func (v *readsVisitor) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.IdentifierNode:
		if x.Value == "$env" {
			v.envs = append(v.envs, x)
		} else {
			v.used[x.Value] = true
		}
	case *ast.MemberNode:
		id, isIdent := x.Node.(*ast.IdentifierNode)
		prop, isName := x.Property.(*ast.StringNode)
		if isIdent && isName && id.Value == "$env" {
			v.used[prop.Value] = true
			v.named[id] = true
		}
	}
}

// fields plans the declared fields: where each is read and how it is
// cleaned, cast and checked.
func (c *compiler) fields() {
	for i, f := range c.s.Fields {
		kind, _ := record.ParseKind(f.Type)
		fp := fieldPlan{name: f.Name, col: c.column(f.Source()), kind: kind, scale: f.Scale, clean: f.Clean,
			required: f.Required, layouts: f.Layouts, loc: time.UTC, minLen: -1, maxLen: -1}
		if f.Missing == codec.MissingNull {
			// Declared: a reject says the input lacks it. Left to the
			// format, the reason is the one a null gets, as before.
			fp.absent = fmt.Sprintf("value is missing: the input has no %q", f.Source())
		}
		if f.Timezone != "" {
			fp.loc, _ = time.LoadLocation(f.Timezone)
		}
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
		c.rules(fmt.Sprintf("fields[%d].rules", i), &fp, f.Rules)
		c.p.fields = append(c.p.fields, fp)
		c.p.Full.Fields = append(c.p.Full.Fields, record.Field{Name: f.Name, Kind: kind, Scale: f.Scale})
		c.env[f.Name] = zeroOf(kind)
	}
}

// column is the index of an input column in Plan.Columns, which gets it
// when it is new.
func (c *compiler) column(src string) int {
	i, ok := c.colIdx[src]
	if !ok {
		i = len(c.p.Columns)
		c.colIdx[src] = i
		c.p.Columns = append(c.p.Columns, src)
	}
	return i
}

// rules plans a field's declarative rules.
func (c *compiler) rules(key string, fp *fieldPlan, r spec.Rules) {
	if r.Regex != "" {
		re, err := regexp.Compile(r.Regex)
		if err != nil {
			c.add(key+".regex", "bad regex: %v", err)
		}
		fp.regex = re
		if re != nil {
			if lit, complete := re.LiteralPrefix(); complete && !strings.HasPrefix(r.Regex, "^") {
				fp.literal = []byte(lit)
			}
		}
	}
	fp.min = c.bound(key+".min", fp, r.Min)
	fp.max = c.bound(key+".max", fp, r.Max)
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
				c.add(key+".enum", "value %q is %s for a %s field", e, reason, fp.kind)
				continue
			}
			fp.enum[string(record.AppendText(nil, v, fp.scale))] = struct{}{}
		}
	}
	fp.hasRules = fp.required || fp.regex != nil || fp.min != nil || fp.max != nil || fp.minLen >= 0 || fp.maxLen >= 0 || fp.enum != nil
}

// bound reads a min or max rule as a value of the field's kind.
func (c *compiler) bound(key string, fp *fieldPlan, b *spec.Scalar) *record.Value {
	if b == nil {
		return nil
	}
	v, reason := fp.parseText([]byte(*b), false)
	if reason != "" {
		c.add(key, "bound %q is %s for a %s field", string(*b), reason, fp.kind)
		return nil
	}
	return &v
}

// ruleExprs compiles the fields' rule expressions, which see every field,
// and the field itself as value.
func (c *compiler) ruleExprs() {
	for i, f := range c.s.Fields {
		if f.Rules.Expr == "" {
			continue
		}
		env := copyEnv(c.env)
		env["value"] = c.env[f.Name]
		e, _ := c.compile(fmt.Sprintf("fields[%d].rules.expr", i), "expr", f.Rules.Expr, env, true)
		if e == nil {
			continue
		}
		c.p.fields[i].expr = e
		c.p.useValue = true
		c.used[f.Name] = true // the field's value is read as value
	}
}

// derives compiles the derived fields, each of the declared type or else
// the type its expression gives.
func (c *compiler) derives() {
	for i, d := range c.s.Derive {
		key := fmt.Sprintf("derive[%d]", i)
		e, prog := c.compile(key+".expr", d.Name, d.Expr, c.env, false)
		if e == nil {
			continue
		}
		kind, ok := record.ParseKind(d.Type)
		out := prog.Node().Type()
		if !ok {
			kind, ok = kindOfType(out)
			if !ok {
				c.add(key+".type", "cannot infer a type from the expression (it gives %v); set type", typeName(out))
				continue
			}
		} else if !assignable(out, kind) {
			c.add(key+".expr", "expression gives %v, which cannot be stored as %s", typeName(out), kind)
			continue
		}
		c.p.derives = append(c.p.derives, derivePlan{exprPlan: *e, kind: kind, scale: d.Scale, lowered: lower(prog.Node(), c.p.Full.Fields)})
		c.p.Full.Fields = append(c.p.Full.Fields, record.Field{Name: d.Name, Kind: kind, Scale: d.Scale})
		c.env[d.Name] = zeroOf(kind)
	}
}

// boolExprs compiles the record-level checks and the filters.
func (c *compiler) boolExprs() {
	for i, ck := range c.s.Validate {
		if e, prog := c.compile(fmt.Sprintf("validate[%d].expr", i), ck.Name, ck.Expr, c.env, true); e != nil {
			e.lowBool = lowerBool(prog.Node(), c.p.Full.Fields)
			c.p.checks = append(c.p.checks, *e)
		}
	}
	for i, f := range c.s.Filter {
		if e, prog := c.compile(fmt.Sprintf("filter[%d].expr", i), f.Name, f.Expr, c.env, true); e != nil {
			e.lowBool = lowerBool(prog.Node(), c.p.Full.Fields)
			c.p.filters = append(c.p.filters, *e)
		}
	}
}

// finish lays out what Process reads: the dedup key, the fields the
// expressions read, and the output schema without the dropped fields.
func (c *compiler) finish() {
	p := c.p
	if c.s.Dedup != nil {
		for _, k := range c.s.Dedup.Keys {
			p.dedup = append(p.dedup, p.Full.Index(k))
		}
	}
	drop := map[string]bool{}
	for _, f := range c.s.Fields {
		if f.Drop {
			drop[f.Name] = true
		}
	}
	p.inEnv = make([]bool, len(p.Full.Fields))
	for i, f := range p.Full.Fields {
		p.inEnv[i] = c.used[f.Name] || p.envAll
		if p.inEnv[i] && i < len(p.fields) {
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

// compileExpr compiles an expression whose evaluations spend b.
func compileExpr(es exprSource, maxNodes uint, b *budget) (*vm.Program, error) {
	opts := append([]expr.Option{expr.Env(es.env), expr.MaxNodes(maxNodes)}, exprOptions(b)...)
	if es.asBool {
		opts = append(opts, expr.AsBool())
	}
	return expr.Compile(es.src, opts...)
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
