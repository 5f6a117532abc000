package plan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"reflect"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr/vm"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// Verdict says what became of a record.
type Verdict uint8

// Verdicts.
const (
	Keep Verdict = iota
	Reject
	Filtered
)

// Outcome is the result of processing one record. It is owned by the
// Processor and valid until its next call.
type Outcome struct {
	Verdict Verdict
	// Row is the output row (Out schema), when kept.
	Row []record.Value
	// Full is the complete row (Full schema), when kept.
	Full []record.Value
	// Field, Rule and Reason say why a record was rejected. Field is empty
	// for record-level rules (decode, check:*, derive:*).
	Field, Rule, Reason string
	// FilterReason is "filter:<name>" or "dedup", when filtered.
	FilterReason string
}

// RuleKey is the key under which a reject is counted: field.rule, or the
// rule alone for record-level rules.
func (o *Outcome) RuleKey() string {
	if o.Field == "" {
		return o.Rule
	}
	return o.Field + "." + o.Rule
}

// ErrDedupLimit is returned when a run sees more distinct dedup keys than
// dedup.max_keys allows.
var ErrDedupLimit = errors.New("dedup: more distinct keys than max_keys")

// Processor applies a Plan to records. It is not safe for concurrent use.
type Processor struct {
	p     *Plan
	ctx   context.Context
	vm    vm.VM
	progs []*vm.Program // the plan's expressions, spending budget
	// budget is what the running expression may still spend; it also
	// stops an expression when ctx is done.
	budget budget
	env    map[string]any
	// vmOnly has the VM evaluate every expression, lowered or not (tests
	// compare the two).
	vmOnly bool
	row    []record.Value
	out    []record.Value
	arena  []byte
	key    []byte
	seen   map[[2]uint64]struct{}
	seeds  [2]maphash.Seed
	res    Outcome
	// envReady is set once env holds the current record's values.
	envReady bool
}

// ProcessorOptions configure a Processor.
type ProcessorOptions struct {
	// Context, if set, stops processing when it is done: Process returns
	// its error, also from inside a long expression evaluation.
	Context context.Context
}

// NewProcessor returns a Processor with its own scratch state and its own
// compilation of the plan's expressions, which charge its budget.
func (p *Plan) NewProcessor(optFns ...func(*ProcessorOptions)) *Processor {
	var opt ProcessorOptions
	for _, fn := range optFns {
		fn(&opt)
	}
	pr := &Processor{
		p:    p,
		ctx:  opt.Context,
		env:  make(map[string]any, len(p.Full.Fields)+1),
		row:  make([]record.Value, len(p.Full.Fields)),
		out:  make([]record.Value, len(p.Out.Fields)),
		seen: map[[2]uint64]struct{}{},
	}
	pr.budget.ctx = opt.Context
	pr.vm.MemoryBudget = p.memory
	pr.seeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}
	pr.progs = make([]*vm.Program, len(p.exprs))
	for i, es := range p.exprs {
		prog, err := compileExpr(es, p.maxNodes, &pr.budget)
		if err != nil {
			// Compile compiled the same source with the same options.
			panic(fmt.Sprintf("plan: expression %q compiled once but not again: %v", es.src, err))
		}
		pr.progs[i] = prog
	}
	return pr
}

func (pr *Processor) reject(field, rule, reason string) *Outcome {
	pr.res = Outcome{Verdict: Reject, Field: field, Rule: rule, Reason: reason}
	return &pr.res
}

// Process applies the plan to one decoded record: cast and check the
// fields, run the fields' rule expressions, derive, run the checks and the
// filters, then dedup. Each step returns nil to go on, or the outcome that
// ends the record; a step the plan does not need is not called.
//
// When the Processor's context is done, Process returns its error instead
// of an outcome, even from inside an expression.
func (pr *Processor) Process(rec *codec.RawRecord) (*Outcome, error) {
	if pr.ctx != nil {
		if err := pr.ctx.Err(); err != nil {
			return nil, err
		}
	}
	if rec.Err != nil {
		return pr.reject("", decodeRule(rec.Err), rec.Err.Error()), nil
	}
	p := pr.p
	pr.arena = pr.arena[:0]
	pr.envReady = false
	o := pr.castFields(rec)
	if o == nil && p.useValue {
		o = pr.ruleExprs()
	}
	if o == nil && len(p.derives) > 0 {
		o = pr.derive()
	}
	if o == nil && len(p.checks) > 0 {
		o = pr.runChecks()
	}
	if o == nil && len(p.filters) > 0 {
		o = pr.runFilters()
	}
	if err := pr.budget.stopped; err != nil {
		// An expression failed because ctx is done: the record is not at
		// fault.
		return nil, err
	}
	if o != nil {
		return o, nil
	}
	if len(p.dedup) > 0 {
		dup, err := pr.seenBefore()
		if err != nil {
			return nil, err
		}
		if dup {
			pr.res = Outcome{Verdict: Filtered, FilterReason: "dedup"}
			return &pr.res, nil
		}
	}
	return pr.keep(), nil
}

// Record-level rules of records a decoder rejected.
const (
	RuleDecode        = "decode"
	RuleUnknownColumn = "unknown_column"
)

// decodeRule is the rule a decoder's record error counts under: the
// schema contract's unknown_column, or decode.
func decodeRule(err error) string {
	if errors.Is(err, codec.ErrUnknownColumn) {
		return RuleUnknownColumn
	}
	return RuleDecode
}

// castFields casts each raw field into the row and applies its rules.
func (pr *Processor) castFields(rec *codec.RawRecord) *Outcome {
	for i := range pr.p.fields {
		f := &pr.p.fields[i]
		dst := &pr.row[i]
		if rule, reason := pr.cast(f, rec.Fields[f.col], dst); rule != "" {
			return pr.reject(f.name, rule, reason)
		}
		if f.hasRules {
			if rule, reason := pr.check(f, *dst); rule != "" {
				if rule == "required" && f.absent != "" && rec.Fields[f.col].Kind == codec.RawMissing {
					reason = f.absent // null because the input lacks it
				}
				return pr.reject(f.name, rule, reason)
			}
		}
	}
	return nil
}

// readyEnv fills the expression environment once per record, when the
// first expression runs.
func (pr *Processor) readyEnv() {
	if !pr.envReady {
		pr.fillEnv()
		pr.envReady = true
	}
}

// run evaluates the expression e with the whole budget.
func (pr *Processor) run(e *exprPlan) (any, error) {
	pr.budget.reset()
	return pr.vm.Run(pr.progs[e.id], pr.env)
}

// ruleExprs runs the fields' rule expressions on their non-null values.
func (pr *Processor) ruleExprs() *Outcome {
	p := pr.p
	for i := range p.fields {
		f := &p.fields[i]
		if f.expr == nil || pr.row[i].IsNull() {
			continue
		}
		pr.readyEnv()
		pr.env["value"] = pr.env[f.name]
		ok, err := pr.runBool(f.expr)
		if err != nil {
			return pr.reject(f.name, "expr", "expression failed: "+err.Error())
		}
		if !ok {
			return pr.reject(f.name, "expr", "expression is false")
		}
	}
	switch {
	case pr.envReady && p.valueIdx >= 0:
		// Give back a field named value its own value.
		pr.env["value"] = toAny(pr.row[p.valueIdx], p.Full.Fields[p.valueIdx].Scale)
	case pr.envReady && p.envAll:
		delete(pr.env, "value") // $env is the record, which has no value
	}
	return nil
}

// derive computes the derived fields into the row.
func (pr *Processor) derive() *Outcome {
	p := pr.p
	nf := len(p.fields)
	for j := range p.derives {
		d := &p.derives[j]
		res, err := pr.evalDerive(d)
		if err != nil {
			return pr.reject("", "derive:"+d.name, "expression failed: "+err.Error())
		}
		v, reason := fromAny(res, d.kind, d.scale, &pr.arena)
		if reason != "" {
			return pr.reject("", "derive:"+d.name, reason)
		}
		pr.row[nf+j] = v
		if p.inEnv[nf+j] {
			pr.readyEnv()
			pr.env[d.name] = toAny(v, d.scale)
		}
	}
	return nil
}

// evalDerive evaluates a derived field's expression: lowered when it has
// a lowered form and the row is in its case, else by the VM.
func (pr *Processor) evalDerive(d *derivePlan) (any, error) {
	if d.lowered != nil && !pr.vmOnly {
		if res, ok := d.lowered(pr.row); ok {
			return res, nil
		}
	}
	pr.readyEnv()
	return pr.run(&d.exprPlan)
}

// evalBool evaluates a check or a filter: lowered when it has a lowered
// form and the row is in its case, else by the VM.
func (pr *Processor) evalBool(e *exprPlan) (bool, error) {
	if e.lowBool != nil && !pr.vmOnly {
		if v, ok := e.lowBool(pr.row); ok {
			return v, nil
		}
	}
	pr.readyEnv()
	return pr.runBool(e)
}

// runChecks runs the record-level checks.
func (pr *Processor) runChecks() *Outcome {
	c, o := pr.firstFalse(pr.p.checks, "check:")
	if c == nil {
		return o
	}
	return pr.reject("", "check:"+c.name, "check is false")
}

// runFilters runs the filters.
func (pr *Processor) runFilters() *Outcome {
	f, o := pr.firstFalse(pr.p.filters, "filter:")
	if f == nil {
		return o
	}
	pr.res = Outcome{Verdict: Filtered, FilterReason: "filter:" + f.name}
	return &pr.res
}

// firstFalse runs boolean expressions in order and returns the first that
// is false. One that fails instead gives the record's reject, under the
// rule prefix+name. Both are nil when every expression is true.
func (pr *Processor) firstFalse(list []exprPlan, prefix string) (*exprPlan, *Outcome) {
	for j := range list {
		e := &list[j]
		ok, err := pr.evalBool(e)
		if err != nil {
			return nil, pr.reject("", prefix+e.name, "expression failed: "+err.Error())
		}
		if !ok {
			return e, nil
		}
	}
	return nil, nil
}

// keep is the outcome of a kept record: the output row and the full row.
func (pr *Processor) keep() *Outcome {
	p := pr.p
	out := pr.row
	if !p.identOut {
		for k, i := range p.outIdx {
			pr.out[k] = pr.row[i]
		}
		out = pr.out
	}
	pr.res = Outcome{Verdict: Keep, Row: out, Full: pr.row}
	return &pr.res
}

func (pr *Processor) runBool(e *exprPlan) (bool, error) {
	res, err := pr.run(e)
	if err != nil {
		return false, err
	}
	b, ok := res.(bool)
	if !ok {
		return false, fmt.Errorf("got %T, want bool", res)
	}
	return b, nil
}

// fillEnv puts the values expressions read into the environment. When
// an expression reads the whole record as $env, the derived fields of
// the record before are taken out: derive adds each as it is computed.
func (pr *Processor) fillEnv() {
	p := pr.p
	for _, i := range p.envVars {
		pr.env[p.Full.Fields[i].Name] = toAny(pr.row[i], p.Full.Fields[i].Scale)
	}
	if p.envAll {
		for _, f := range p.Full.Fields[len(p.fields):] {
			delete(pr.env, f.Name)
		}
	}
}

func (pr *Processor) seenBefore() (bool, error) {
	k := pr.key[:0]
	for _, i := range pr.p.dedup {
		v := pr.row[i]
		if v.Kind == record.Float && v.Float == 0 {
			v.Float = 0 // -0 and 0 are one key
		}
		k = append(k, byte(v.Kind))
		start := len(k)
		k = append(k, 0, 0, 0, 0)
		k = record.AppendText(k, v, pr.p.Full.Fields[i].Scale)
		n := len(k) - start - 4
		k[start], k[start+1], k[start+2], k[start+3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	}
	pr.key = k
	h := [2]uint64{maphash.Bytes(pr.seeds[0], k), maphash.Bytes(pr.seeds[1], k)}
	if _, dup := pr.seen[h]; dup {
		return true, nil
	}
	if m := pr.p.Spec.Dedup.MaxKeys; m > 0 && len(pr.seen) >= m {
		return false, fmt.Errorf("%w (%d)", ErrDedupLimit, m)
	}
	pr.seen[h] = struct{}{}
	return false, nil
}

// cast cleans and converts one raw field into dst.
func (pr *Processor) cast(f *fieldPlan, raw codec.RawField, dst *record.Value) (rule, reason string) {
	b := raw.Bytes
	if len(f.clean) == 0 && raw.Kind == codec.RawString && len(b) > 0 {
		if reason := f.parseInto(dst, b, false); reason != "" {
			return f.castRule(), reason
		}
		return "", ""
	}
	if raw.Kind == codec.RawMissing || raw.Kind == codec.RawNull {
		return pr.applyDefault(f, dst)
	}
	if raw.Kind == codec.RawBool && f.kind != record.Bool && f.kind != record.String {
		return "type", "a boolean is not a " + f.kind.String()
	}
	if raw.Kind == codec.RawJSON && f.kind != record.String {
		return "type", "an object or array is not a " + f.kind.String()
	}
	for j, st := range f.clean {
		switch st.Op {
		case spec.CleanTrim:
			b = trimSpace(b)
		case spec.CleanLower:
			b = lowerASCII(&pr.arena, b)
		case spec.CleanUpper:
			b = upper(&pr.arena, b)
		case spec.CleanCollapse:
			b = collapseSpaces(&pr.arena, b)
		case spec.CleanNullIf:
			for _, n := range f.nullIf[j] {
				if bytes.Equal(b, n) {
					return pr.applyDefault(f, dst)
				}
			}
		case spec.CleanDefault:
			if len(b) == 0 {
				b = []byte(st.Values[0])
			}
		}
	}
	if len(b) == 0 && f.kind != record.String {
		return pr.applyDefault(f, dst)
	}
	if reason := f.parseInto(dst, b, raw.Kind == codec.RawNumber); reason != "" {
		return f.castRule(), reason
	}
	return "", ""
}

// castRule names the rule a failed cast counts under.
func (f *fieldPlan) castRule() string {
	if f.kind == record.String {
		return "utf8"
	}
	return "type"
}

// applyDefault handles a null: a default clean step supplies a value,
// otherwise dst becomes null.
func (pr *Processor) applyDefault(f *fieldPlan, dst *record.Value) (string, string) {
	for _, st := range f.clean {
		if st.Op == spec.CleanDefault {
			if reason := f.parseInto(dst, []byte(st.Values[0]), false); reason != "" {
				return "type", "default " + reason
			}
			return "", ""
		}
	}
	*dst = record.Value{}
	return "", ""
}

// check applies the field's declarative rules.
func (pr *Processor) check(f *fieldPlan, v record.Value) (string, string) {
	if v.IsNull() {
		if f.required {
			return "required", "value is missing"
		}
		return "", ""
	}
	if f.required && v.Kind == record.String && len(v.Bytes) == 0 {
		return "required", "value is empty"
	}
	if f.regex != nil {
		var text []byte
		if v.Kind == record.String {
			text = v.Bytes
		} else {
			start := len(pr.arena)
			pr.arena = record.AppendText(pr.arena, v, f.scale)
			text = pr.arena[start:]
		}
		if f.literal != nil {
			if !bytes.Contains(text, f.literal) {
				return "regex", "does not match " + f.regex.String()
			}
		} else if !f.regex.Match(text) {
			return "regex", "does not match " + f.regex.String()
		}
	}
	if f.min != nil && compare(v, *f.min) < 0 {
		return "min", "below the minimum " + string(record.AppendText(nil, *f.min, f.scale))
	}
	if f.max != nil && compare(v, *f.max) > 0 {
		return "max", "above the maximum " + string(record.AppendText(nil, *f.max, f.scale))
	}
	if f.minLen >= 0 || f.maxLen >= 0 {
		n := utf8.RuneCount(v.Bytes)
		if f.minLen >= 0 && n < f.minLen {
			return "length", fmt.Sprintf("shorter than %d characters", f.minLen)
		}
		if f.maxLen >= 0 && n > f.maxLen {
			return "length", fmt.Sprintf("longer than %d characters", f.maxLen)
		}
	}
	if f.enum != nil {
		start := len(pr.arena)
		pr.arena = record.AppendText(pr.arena, v, f.scale)
		_, ok := f.enum[string(pr.arena[start:])]
		if !ok {
			return "enum", "not one of the allowed values"
		}
	}
	return "", ""
}

func compare(a, b record.Value) int {
	if a.Kind == record.Float {
		switch {
		case a.Float < b.Float:
			return -1
		case a.Float > b.Float:
			return 1
		}
		return 0
	}
	switch {
	case a.Int < b.Int:
		return -1
	case a.Int > b.Int:
		return 1
	}
	return 0
}

// toAny gives an expression the Go value of v.
func toAny(v record.Value, scale int) any {
	switch v.Kind {
	case record.String:
		return string(v.Bytes)
	case record.Int:
		return int(v.Int)
	case record.Float:
		return v.Float
	case record.Decimal:
		return float64(v.Int) / float64(record.Pow10[scale])
	case record.Bool:
		return v.Int != 0
	case record.Timestamp, record.Date:
		return v.Time()
	}
	return nil
}

// fromAny stores an expression result as a value of kind k.
func fromAny(x any, k record.Kind, scale int, arena *[]byte) (record.Value, string) {
	switch x.(type) {
	case nil:
		return record.Value{}, ""
	case string, int, float64, bool, time.Time:
	default:
		x = plainNumber(x)
	}
	switch k {
	case record.String:
		if s, ok := x.(string); ok {
			start := len(*arena)
			*arena = append(*arena, s...)
			return record.StringValue((*arena)[start:]), ""
		}
	case record.Int:
		switch n := x.(type) {
		case int:
			return record.IntValue(int64(n)), ""
		case int64:
			return record.IntValue(n), ""
		case float64:
			if n == math.Trunc(n) && math.Abs(n) < 1<<63 {
				return record.IntValue(int64(n)), ""
			}
			return record.Value{}, "result is not an integer"
		}
	case record.Float:
		switch n := x.(type) {
		case int:
			return record.FloatValue(float64(n)), ""
		case int64:
			return record.FloatValue(float64(n)), ""
		case float64:
			if math.IsNaN(n) || math.IsInf(n, 0) {
				return record.Value{}, "result is not a finite number"
			}
			return record.FloatValue(n), ""
		}
	case record.Decimal:
		var f float64
		switch n := x.(type) {
		case int:
			f = float64(n)
		case int64:
			f = float64(n)
		case float64:
			f = n
		default:
			return record.Value{}, fmt.Sprintf("result is %T, not a number", x)
		}
		u := math.Round(f * float64(record.Pow10[scale]))
		if math.IsNaN(u) || math.Abs(u) >= 1<<63 {
			return record.Value{}, "result out of decimal range"
		}
		return record.DecimalValue(int64(u)), ""
	case record.Bool:
		if b, ok := x.(bool); ok {
			return record.BoolValue(b), ""
		}
	case record.Timestamp:
		if t, ok := x.(time.Time); ok {
			return record.TimestampValue(t.UnixMicro()), ""
		}
	case record.Date:
		if t, ok := x.(time.Time); ok {
			y, m, d := t.Date()
			return record.DateValue(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400), ""
		}
	}
	return record.Value{}, fmt.Sprintf("result is %T, not %s", x, k)
}

// plainNumber turns a value of a named numeric type (time.Month,
// time.Duration, int32, ...), which type-checks as a number, into an
// int64 or a float64.
func plainNumber(x any) any {
	v := reflect.ValueOf(x)
	switch {
	case v.CanInt():
		return v.Int()
	case v.CanUint() && v.Uint() <= math.MaxInt64:
		return int64(v.Uint())
	case v.CanFloat():
		return v.Float()
	}
	return x
}
