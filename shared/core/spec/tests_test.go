package spec_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/shared/core/spec"
)

// testsSpec is a spec for test cases to be checked against; its tests
// section is appended.
const testsSpec = `fields:
  - {name: id, type: int, required: true}
  - {name: secret, drop: true}
  - {name: amount, type: decimal, scale: 2}
  - {name: at, type: timestamp}
derive:
  - {name: cents, expr: round(amount * 100), type: int}
filter: [{name: positive, expr: amount > 0}]
dedup: {keys: [id]}
window: {kind: tumbling, size: 1m, time_field: at, aggregate: [amount]}
`

func TestTestsParse(t *testing.T) {
	src := testsSpec + `tests:
  - name: full
    input:
      json:
        - {id: 1, amount: 2.50, at: 2026-11-01T09:00:00Z, tags: [a, 1], none: ~, ok: true}
    context: {source_key: in/x.jsonl, arrivals: ["2026-11-01T09:00:01Z"], now: "2026-11-01T09:05:00Z"}
    expect:
      rows:
        - {id: 1, amount: "2.50", at: null, cents: ~}
      rejects: [{record: 2, field: secret, rule: regex, reason: no}]
      filtered: {filter:positive: 1, dedup: 0}
      counts: {in: 2, out: 1, rejected: 1, filtered: 0, rejected_by_rule: {secret.regex: 1}}
      windows:
        - {start: 2026-11-01T09:00:00Z, end: "2026-11-01T09:01:00Z", count: 1, fields: {amount: {count: 1, sum: 2.5, avg: 2.50}}}
      error: boom
`
	s, err := spec.Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tests) != 1 {
		t.Fatalf("%d tests", len(s.Tests))
	}
	tc := s.Tests[0]
	if tc.Where() != "t.yaml:12" || tc.File() != "t.yaml" || tc.Line() != 12 {
		t.Errorf("where %s", tc.Where())
	}
	if got := string(tc.Input.JSON[0].JSON()); got != `{"id":1,"amount":2.50,"at":"2026-11-01T09:00:00Z","tags":["a",1],"none":null,"ok":true}` {
		t.Errorf("json record %s", got)
	}
	if n := tc.Input.Records(true); n != 1 {
		t.Errorf("records %d", n)
	}
	if !tc.Context.Stream() || !time.Time(tc.Context.Arrivals[0]).Equal(time.Date(2026, 11, 1, 9, 0, 1, 0, time.UTC)) || !time.Time(*tc.Context.Now).Equal(time.Date(2026, 11, 1, 9, 5, 0, 0, time.UTC)) {
		t.Errorf("context %+v", tc.Context)
	}
	row := (*tc.Expect.Rows)[0]
	if row["amount"] != (spec.TestValue{Text: "2.50"}) || !row["at"].Null || !row["cents"].Null || row["id"] != (spec.TestValue{Text: "1"}) {
		t.Errorf("row %+v", row)
	}
	w := (*tc.Expect.Windows)[0]
	if w.Start != "2026-11-01T09:00:00Z" || w.End != "2026-11-01T09:01:00Z" || *w.Count != 1 || w.Fields["amount"].Avg.Text != "2.50" || w.Fields["amount"].Sum.Value != 2.5 {
		t.Errorf("window %+v", w)
	}
	if f := *tc.Expect.Filtered; f["filter:positive"] != 1 || len(f) != 2 {
		t.Errorf("filtered %v", f)
	}
}

// Every mistake in a test case is an error at its file, line and key.
func TestTestsErrors(t *testing.T) {
	tests := []struct {
		name, tests, want string
	}{
		{"unknown case key", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {rows: []}\n    expected: 1\n",
			"t.yaml:15:5: tests[0].expected: unknown key \"expected\""},
		{"unknown expect key", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {row: []}\n",
			"t.yaml:14:14: tests[0].expect.row: unknown key \"row\""},
		{"unknown reject key", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {rejects: [{record: 1, rule: x, column: y}]}\n",
			"t.yaml:14:45: tests[0].expect.rejects[0].column: unknown key \"column\""},
		{"unknown aggregate", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {windows: [{start: 2026-11-01T09:00:00Z, end: 2026-11-01T09:01:00Z, fields: {amount: {total: 1}}}]}\n",
			"t.yaml:14:99: tests[0].expect.windows[0].fields.amount.total: unknown key \"total\""},
		{"no name", "  - input: {csv: \"id\\n1\\n\"}\n    expect: {rows: []}\n",
			"t.yaml:12:5: tests[0]: a test case needs a name"},
		{"name used twice", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {rows: []}\n  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {rows: []}\n",
			"t.yaml:15:5: tests[1].name: test name \"a\" is already used by tests[0]"},
		{"no input", "  - name: a\n    expect: {rows: []}\n",
			"t.yaml:12:5: tests[0].input: give the input records as csv (text) or json (a list of objects), one of them"},
		{"both inputs", "  - name: a\n    input: {csv: x, json: []}\n    expect: {rows: []}\n",
			"t.yaml:13:5: tests[0].input: give the input records as csv (text) or json (a list of objects), one of them"},
		{"json record not a mapping", "  - name: a\n    input: {json: [1]}\n    expect: {rows: []}\n",
			"t.yaml:13:20: tests[0].input.json[0]: a JSON input record is a mapping"},
		{"nothing to check", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {}\n",
			"t.yaml:14:5: tests[0].expect: nothing to check: give rows, rejects, filtered, counts, windows or error"},
		{"row not a mapping", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {rows: [1]}\n",
			"t.yaml:14:21: tests[0].expect.rows[0]: a row is a mapping of field names to values"},
		{"row value a list", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {fields: [id], rows: [{id: [1]}]}\n",
			"t.yaml:14:40: tests[0].expect.rows[0].id: want a single value"},
		{"row field not in the output", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {fields: [id], rows: [{id: 1, secret: x}]}\n",
			"t.yaml:14:43: tests[0].expect.rows[0].secret: \"secret\" is not a compared field (id)"},
		{"row lacks fields", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {rows: [{id: 1}]}\n",
			"t.yaml:14:21: tests[0].expect.rows[0]: the row lacks amount, at, cents: give every compared field (list the compared ones in expect.fields)"},
		{"dropped field compared", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {fields: [id, secret, id], rows: []}\n",
			"t.yaml:14:27: tests[0].expect.fields[1]: \"secret\" is not an output field (id, amount, at, cents)\nt.yaml:14:35: tests[0].expect.fields[2]: \"id\" is named twice"},
		{"reject without record or rule", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {rejects: [{field: nope, line: -1}]}\n",
			"t.yaml:14:24: tests[0].expect.rejects[0].record: the record's number in the input, from 1, is required\nt.yaml:14:38: tests[0].expect.rejects[0].line: must not be negative\nt.yaml:14:24: tests[0].expect.rejects[0].rule: the rule is required\nt.yaml:14:25: tests[0].expect.rejects[0].field: unknown field \"nope\""},
		{"a record rejected twice", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {rejects: [{record: 1, rule: a}, {record: 1, rule: b}]}\n",
			"t.yaml:14:47: tests[0].expect.rejects[1].record: record 1 is listed twice: a record is rejected once"},
		{"unknown filtered reason", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {filtered: {filter:other: 1, dedup: -1}}\n",
			"t.yaml:14:42: tests[0].expect.filtered.dedup: must not be negative\nt.yaml:14:25: tests[0].expect.filtered.filter:other: the spec filters for no reason \"filter:other\" (its reasons: dedup, filter:positive)"},
		{"negative count", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {counts: {out: -1}}\n",
			"t.yaml:14:23: tests[0].expect.counts.out: must not be negative"},
		{"bad window bounds", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {windows: [{start: 9am, key: x, fields: {id: {sum: 1}}}]}\n",
			"t.yaml:14:25: tests[0].expect.windows[0].start: want an RFC 3339 time, e.g. 2026-11-01T09:00:00Z, not \"9am\"\nt.yaml:14:24: tests[0].expect.windows[0].end: want an RFC 3339 time, e.g. 2026-11-01T09:00:00Z, not \"\"\nt.yaml:14:54: tests[0].expect.windows[0].fields.id: \"id\" is not aggregated (window.aggregate: amount)"},
		{"bad aggregate", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    expect: {windows: [{start: 2026-11-01T09:00:00Z, fields: {amount: {avg: high}}}]}\n",
			"t.yaml:14:77: tests[0].expect.windows[0].fields.amount.avg: want a number, not \"high\""},
		{"bad arrival", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    context: {arrivals: [yesterday]}\n    expect: {rows: []}\n",
			"t.yaml:14:26: tests[0].context.arrivals[0]: bad time \"yesterday\" (want RFC 3339, e.g. 2026-11-01T09:00:00Z)"},
		{"arrivals for the wrong number of records", "  - name: a\n    input: {json: [{id: 1}, {id: 2}]}\n    context: {arrivals: [2026-11-01T09:00:00Z]}\n    expect: {rows: []}\n",
			"t.yaml:14:15: tests[0].context.arrivals: 1 arrival times for 2 input records: give one per record"},
		{"now without arrivals", "  - name: a\n    input: {json: [{id: 1}]}\n    context: {now: 2026-11-01T09:00:00Z, source_key: /abs.jsonl}\n    expect: {rows: []}\n",
			"t.yaml:14:42: tests[0].context.source_key: \"/abs.jsonl\" is not an object key (no leading /, no .., no surrounding spaces)\nt.yaml:14:15: tests[0].context.now: now applies to stream cases: give arrivals too"},
		{"a CSV stream without columns", "  - name: a\n    input: {csv: \"id\\n1\\n\"}\n    context: {arrivals: [2026-11-01T09:00:00Z]}\n    expect: {rejects: [{record: 1, rule: x, line: 2}]}\n",
			"t.yaml:14:15: tests[0].context.arrivals: the stream path reads source.format auto as JSON: set source.format csv for CSV messages\nt.yaml:15:45: tests[0].expect.rejects[0].line: a stream message has no line: leave line out"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spec.Parse("t.yaml", []byte(testsSpec+"tests:\n"+tc.tests))
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Error() != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", err, tc.want)
			}
		})
	}
}

// Windows need a window section, or arrival times when they are by
// arrival time; count windows are numbered.
func TestTestsWindowChecks(t *testing.T) {
	tests := []struct {
		name, spec, want string
	}{
		{"no window section", "fields: [{name: a}]\n", "t.yaml:5:14: tests[0].expect.windows: the spec has no window section"},
		{"arrival windows without arrivals", "fields: [{name: a}, {name: v, type: int}]\nwindow: {kind: tumbling, size: 1m, time: arrival, aggregate: [v]}\n",
			"t.yaml:6:14: tests[0].expect.windows: windows by arrival time need arrival times: give context.arrivals"},
		{"count windows", "fields: [{name: a}, {name: v, type: int}]\nwindow: {kind: count, every: 2, aggregate: [v]}\n",
			`t.yaml:6:25: tests[0].expect.windows[0].start: a count window's start is its number (0, 1, ...), not "2026-11-01T09:00:00Z"` + "\n" +
				"t.yaml:6:54: tests[0].expect.windows[0].end: count windows have no end: give start only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.spec + "tests:\n  - name: a\n    input: {json: [{a: x}]}\n    expect: {windows: [{start: 2026-11-01T09:00:00Z, end: 2026-11-01T09:01:00Z}]}\n"
			_, err := spec.Parse("t.yaml", []byte(src))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got:\n%v\nwant:\n%s", err, tc.want)
			}
		})
	}
	ok := "fields: [{name: a}, {name: v, type: int}]\nwindow: {kind: count, every: 2, aggregate: [v]}\n" +
		"tests:\n  - name: a\n    input: {json: [{a: x}]}\n    expect: {windows: [{start: 0, key: x, count: 1}]}\n"
	if _, err := spec.Parse("t.yaml", []byte(ok)); err != nil {
		t.Errorf("count window by number: %v", err)
	}
}

// A test file beside the spec holds a tests section, checked against
// the spec, with its own file's lines.
func TestLoadTests(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "orders.yaml")
	inSpec := testsSpec + "tests:\n  - name: in the spec\n    input: {csv: \"id\\n1\\n\"}\n    expect: {counts: {in: 1}}\n"
	if err := os.WriteFile(specPath, []byte(inSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := spec.LoadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := spec.TestFileFor(specPath); got != filepath.Join(dir, "orders.test.yaml") {
		t.Errorf("TestFileFor = %s", got)
	}
	tests, err := s.LoadTests()
	if err != nil || len(tests) != 1 {
		t.Fatalf("without a test file: %d tests, %v", len(tests), err)
	}
	testFile := filepath.Join(dir, "orders.test.yaml")
	write := func(text string) {
		if err := os.WriteFile(testFile, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("# more cases\ntests:\n  - name: beside\n    input: {json: [{id: 1}]}\n    expect: {rows: []}\n")
	tests, err = s.LoadTests()
	if err != nil || len(tests) != 2 || tests[0].Name != "in the spec" || tests[1].Name != "beside" || tests[1].Where() != testFile+":3" {
		t.Fatalf("tests %+v, %v", tests, err)
	}
	bad := []struct{ text, want string }{
		{"", testFile + ": test file is empty"},
		{"tests: []\n", testFile + ":1:1: tests: no test cases"},
		{"tests:\n  - name: x\n    input: {json: [{id: 1}]}\n    expect: {rows: []}\nfields: []\n", testFile + `:5:1: fields: unknown key "fields"`},
		{"tests:\n  - name: in the spec\n    input: {json: [{id: 1}]}\n    expect: {rows: []}\n", testFile + `:2:5: tests[0].name: test name "in the spec" is already used by the spec's tests`},
		{"tests: [", testFile + ":1: did not find expected node content"},
	}
	for _, b := range bad {
		write(b.text)
		_, err := s.LoadTests()
		if err == nil || err.Error() != b.want {
			t.Errorf("%q:\n got %v\nwant %s", b.text, err, b.want)
		}
	}
}

func TestTestNumberMatches(t *testing.T) {
	tests := []struct {
		text  string
		v     float64
		match bool
	}{
		{"83.33", 83.3333333, true},
		{"83.33", 83.336, false},
		{"100", 100.4, true},
		{"100", 100.5, false},
		{"1.50", 1.5, true},
		{"1e-7", 1e-7, true},
		{"1e-7", 1.1e-7, false},
		{"-2.5", -2.5, true},
	}
	for _, tc := range tests {
		var n spec.TestNumber
		src := "fields: [{name: a}, {name: v, type: int}]\nwindow: {kind: count, every: 2, aggregate: [v]}\ntests:\n  - name: a\n    input: {json: [{a: x}]}\n    expect: {windows: [{start: 0, fields: {v: {avg: " + tc.text + "}}}]}\n"
		s, err := spec.Parse("n.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		n = *(*s.Tests[0].Expect.Windows)[0].Fields["v"].Avg
		if n.Text != tc.text || n.Matches(tc.v) != tc.match {
			t.Errorf("%s matches %v: %v, want %v", tc.text, tc.v, n.Matches(tc.v), tc.match)
		}
	}
	if !strings.Contains(func() string {
		_, err := spec.Parse("n.yaml", []byte("fields: [{name: a}, {name: v, type: int}]\nwindow: {kind: count, every: 2, aggregate: [v]}\ntests:\n  - name: a\n    input: {json: [{a: x}]}\n    expect: {windows: [{start: 0, fields: {v: {sum: .nan}}}]}\n"))
		return err.Error()
	}(), `want a number, not ".nan"`) {
		t.Error("NaN accepted as an expected sum")
	}
}
