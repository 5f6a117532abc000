package plan_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

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
			began := time.Now()
			out, err := pr.Process(&codec.RawRecord{Fields: []codec.RawField{{Kind: codec.RawString, Bytes: []byte(strings.Repeat("x", 2000))}}})
			if err != nil {
				t.Fatal(err)
			}
			if out.Verdict != plan.Reject || out.Rule != "derive:x" || !strings.Contains(out.Reason, tc.want) {
				t.Fatalf("outcome = %+v", out)
			}
			if d := time.Since(began); d > time.Second {
				t.Fatalf("took %s", d)
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
