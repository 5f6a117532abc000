package plan_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/plan"
)

// A spec from an untrusted place cannot reach files, the environment or
// the clock: expressions see the record's fields and expr's pure
// builtins, nothing else.
func TestExpressionsCannotReachTheSystem(t *testing.T) {
	t.Setenv("SLUICE_SECRET", "hunter2")
	for _, src := range []string{
		`env("SLUICE_SECRET")`, `getenv("SLUICE_SECRET")`, `os.Getenv("SLUICE_SECRET")`, `$env["SLUICE_SECRET"]`,
		`$env.SLUICE_SECRET`, `readFile("/etc/passwd")`, `open("/etc/passwd")`, `exec("id")`, `now()`, `repeat(a, 10)`,
		`date("now")`, `http.Get("http://127.0.0.1")`,
	} {
		_, err := plan.FromBytes("s.yaml", []byte("fields: [{name: a}]\nderive: [{name: x, expr: '"+src+"', type: string}]\n"))
		if err == nil {
			t.Errorf("%s compiled", src)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the secret: %v", src, err)
		}
	}
}

// Expressions are bounded in size, memory and the strings they build:
// each of these ends within milliseconds with a rejected record, or is
// refused when the spec loads.
func TestExpressionsAreBounded(t *testing.T) {
	doubling := "let s1 = a + a"
	for i := 2; i <= 40; i++ {
		doubling += "; let s" + strconv.Itoa(i) + " = s" + strconv.Itoa(i-1) + " + s" + strconv.Itoa(i-1)
	}
	doubling += "; s40"
	for _, tc := range []struct{ name, src, want string }{
		{"nested loops", `string(all(1..1000, {all(1..1000, {all(1..1000, {true})})}))`, "memory budget exceeded"},
		{"a huge range", `string(len(map(1..100000000, {#})))`, "memory budget exceeded"},
		{"string doubling", doubling, "string longer than 1048576 bytes"},
		{"join of copies", `join(map(1..600, {a}), "")`, "string longer than 1048576 bytes"},
		{"growing replace", `let t = replace(a, "x", "xxxxxxxxxx"); let u = replace(t, "x", "xxxxxxxxxx"); replace(u, "x", "xxxxxxxxxx")`, "string longer than 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := plan.FromBytes("s.yaml", []byte("fields: [{name: a}]\nderive: [{name: x, expr: '"+tc.src+"', type: string}]\nlimits: {expr_max_nodes: 1000}\n"))
			if err != nil {
				t.Fatal(err)
			}
			pr := p.NewProcessor()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			out, err := pr.Process(&codec.RawRecord{Fields: []codec.RawField{{Kind: codec.RawString, Bytes: []byte(strings.Repeat("x", 2000))}}})
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if out.Verdict != plan.Reject || out.Rule != "derive:x" || !strings.Contains(out.Reason, tc.want) {
				t.Fatalf("outcome = %+v", out)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 256<<20 {
				t.Fatalf("allocated %d MiB", n>>20)
			}
		})
	}
	// Within the bounds, the same builtins work as expr's do.
	p, err := plan.FromBytes("s.yaml", []byte("fields: [{name: a}]\nderive: [{name: x, expr: 'join([a, \"b\"], \"-\") + replace(a, \"a\", \"c\")', type: string}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := p.NewProcessor().Process(&codec.RawRecord{Fields: []codec.RawField{{Kind: codec.RawString, Bytes: []byte("aa")}}})
	if out.Verdict != plan.Keep || string(out.Row[1].Bytes) != "aa-bcc" {
		t.Fatalf("bounded builtins: %+v", out)
	}
	// A too-large expression is refused when the spec loads.
	big := strings.Repeat("a + ", 600) + "a"
	if _, err := plan.FromBytes("s.yaml", []byte("fields: [{name: a}]\nderive: [{name: x, expr: '"+big+"'}]\n")); err == nil || !strings.Contains(err.Error(), "maximum allowed nodes") {
		t.Fatalf("a 1200-node expression: %v", err)
	}
}

// Every builtin that allocates or scans, and every step of a predicate, is
// charged to the expression budget: each of these fails its record with
// the budget's reason after allocating a bounded amount, where it would
// otherwise take gigabytes or minutes.
func TestExpressionBudget(t *testing.T) {
	doubling := "let s1 = fromJSON(toJSON(name))"
	for i := 2; i <= 30; i++ {
		doubling += "; let s" + strconv.Itoa(i) + " = s" + strconv.Itoa(i-1) + " + s" + strconv.Itoa(i-1)
	}
	doubling += "; len(s30) > 0"
	for _, tc := range []struct {
		name, src string
		size      int // of the field name
		want      string
	}{
		{"split inside a loop over split", `all(split(name, ""), {all(split(name, ""), {# != "b"})})`, 10_000, "expression budget exceeded"},
		{"concatenation in a loop", `any(split(name, ""), {len(name + name) < 0})`, 400_000, "expression budget exceeded"},
		{"loops over one range", `let r = 1..1000; all(r, {all(r, {all(r, {true})})})`, 1, "expression budget exceeded"},
		{"toJSON of copies", `len(toJSON(map(1..30000, {name}))) > 0`, 1000, "expression budget exceeded"},
		{"string of copies", `len(string(map(1..30000, {name}))) > 0`, 1000, "expression budget exceeded"},
		{"upper in a loop", `all(1..90000, {upper(name) != ""})`, 400_000, "expression budget exceeded"},
		{"contains in a loop", `all(1..90000, {not (name contains "zz")})`, 400_000, "expression budget exceeded"},
		{"indexOf in a loop", `all(1..90000, {indexOf(name, "zz") < 0})`, 400_000, "expression budget exceeded"},
		{"matches in a loop", `all(1..90000, {name matches "^a+$"})`, 400_000, "expression budget exceeded"},
		{"a pattern compiled in a loop", `none(1..90000, {"b" matches name})`, 100_000, "expression budget exceeded"},
		{"in over an array in a loop", `let r = split(name, ""); all(1..90000, {not ("zz" in r)})`, 100_000, "expression budget exceeded"},
		{"method call in a loop", `all(1..90000, {at.Format(name) != ""})`, 100_000, "expression budget exceeded"},
		{"doubling a string of unknown type", doubling, 1000, "string longer than 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compile(t, "fields: [{name: name}, {name: at, type: timestamp}]\nfilter: [{name: f, expr: '"+tc.src+"'}]\n")
			pr := p.NewProcessor()
			r := rec(str(strings.Repeat("a", tc.size)), str("2026-11-01T00:00:00Z"))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			checkOutcome(t, process(t, pr, r), reject("", "filter:f", "expression failed: "+tc.want+"..."))
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; n > 256<<20 {
				t.Errorf("allocated %d MiB", n>>20)
			}
		})
	}
}

// Within the budget, expressions work as expr's do: the charged builtins
// keep their types and results.
func TestChargedBuiltinsKeepTheirResults(t *testing.T) {
	p := compile(t, doc(
		"fields: [{name: s}, {name: at, type: timestamp}]",
		"derive:",
		"  - {name: parts, expr: 'len(split(s, \",\")) + len(splitAfter(s, \",\", 2))'}",
		"  - {name: up, expr: 'upper(s) + lower(\"X\") + string(1.5) + toJSON([s])'}",
		"  - {name: enc, expr: 'fromBase64(toBase64(s)) == s && indexOf(s, \",\") == 1 && lastIndexOf(s, \",\") == 3'}",
		"  - {name: agg, expr: 'max([1, 5, 2]) + min(3, 4) + mean([2, 4]) + median([1, 2, 3]) + len(uniq([1, 1, 2]))', type: float}",
		"  - {name: maps, expr: 'len(keys(fromJSON(\"{\\\"a\\\": 1}\"))) + len(values({\"b\": 2})) + len(toPairs({\"c\": 3})) + len(fromPairs([[\"d\", 4]])) + len(take([1, 2, 3], 2))'}",
		"  - {name: when, expr: 'date(\"2026-11-01\").Year() + duration(\"1s\").Seconds() + at.In(timezone(\"UTC\")).Day()'}",
		"  - {name: has, expr: '(s contains \",b\") && (s matches \"^a,\") && (\"a\" in split(s, \",\")) && at.Format(\"2006\") == \"2026\"'}",
		"  - {name: sum, expr: 'any(split(s, \",\"), {# == \"c\"}) ? 1 + fromJSON(\"2\") : 0', type: float}",
	))
	got := make([]string, 0, len(p.Out.Fields))
	for _, f := range p.Out.Fields[2:] {
		got = append(got, f.Kind.String())
	}
	if strings.Join(got, " ") != "int string bool float int float bool float" {
		t.Fatalf("kinds %v", got)
	}
	at := utc(2026, 11, 1, 0, 0, 0, 0)
	checkOutcome(t, process(t, p.NewProcessor(), rec(str("a,b,c"), str("2026-11-01T00:00:00Z"))),
		keep(S("a,b,c"), TS(at), I(5), S("A,B,Cx1.5[\n  \"a,b,c\"\n]"), B(true), F(15), I(6), F(2028), B(true), F(3)))
}

// A Processor whose context is done stops, even inside an expression,
// and reports the context's error instead of rejecting the record.
func TestProcessorStopsWithItsContext(t *testing.T) {
	p := compile(t, "fields: [{name: a}]\nfilter: 'let r = 1..1000; all(r, {all(r, {true})})'\n")
	ctx := &countdownContext{Context: context.Background(), left: 100}
	pr := p.NewProcessor(func(o *plan.ProcessorOptions) { o.Context = ctx })
	out, err := pr.Process(rec(str("x")))
	if !errors.Is(err, context.Canceled) || out != nil {
		t.Fatalf("Process = %+v, %v; want context.Canceled", out, err)
	}
	if ctx.calls != 101 {
		t.Errorf("the context was asked %d times; want 101: once per record and once per step, until it was done", ctx.calls)
	}
	if out, err := pr.Process(rec(str("y"))); !errors.Is(err, context.Canceled) || out != nil {
		t.Errorf("next record: %+v, %v", out, err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	pr = compile(t, "fields: [{name: a}]\n").NewProcessor(func(o *plan.ProcessorOptions) { o.Context = cancelled })
	if out, err := pr.Process(rec(str("x"))); !errors.Is(err, context.Canceled) || out != nil {
		t.Errorf("a cancelled context, no expression: %+v, %v", out, err)
	}
}

// countdownContext is done after its Err has answered nil left times.
type countdownContext struct {
	context.Context
	left, calls int
}

func (c *countdownContext) Err() error {
	c.calls++
	if c.calls > c.left {
		return context.Canceled
	}
	return nil
}
