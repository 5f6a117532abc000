package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTestExamples(t *testing.T) {
	code, out, stderr := runCLI(t, "test", "../../examples/orders/spec.yaml", "../../examples/orders-iceberg/spec.yaml", "../../examples/clicks/spec.yaml")
	want := "ok    ../../examples/orders/spec.yaml  5 cases\n" +
		"ok    ../../examples/orders-iceberg/spec.yaml  1 case\n" +
		"ok    ../../examples/clicks/spec.yaml  2 cases\n"
	if code != 0 || out != want || stderr != "" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	code, out, _ = runCLI(t, "test", "-v", "../../examples/orders-iceberg/spec.yaml")
	if code != 0 || out != "--- PASS: clean rows become the table's rows (../../examples/orders-iceberg/spec.test.yaml:6)\nok    ../../examples/orders-iceberg/spec.yaml  1 case\n" {
		t.Fatalf("exit %d: %s", code, out)
	}
}

// A failing case exits 1 with its differences; --junit writes them for
// CI, even then.
func TestTestFailing(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.yaml")
	write(t, spec, "fields: [{name: id, type: int}, {name: amount, type: decimal, scale: 2}]\n"+
		"derive: [{name: amount_cents, expr: round(amount * 100), type: int}]\n"+
		"tests:\n"+
		"  - name: cents\n"+
		"    input: {csv: \"id,amount\\n1,12.00\\n2,12.50\\n\"}\n"+
		"    expect:\n"+
		"      fields: [id, amount_cents]\n"+
		"      rows: [{id: 1, amount_cents: 1200}, {id: 2, amount_cents: 1200}]\n"+
		"  - name: counts\n"+
		"    input: {csv: \"id,amount\\n1,12.00\\n\"}\n"+
		"    expect: {counts: {in: 1, out: 1}}\n")
	report := filepath.Join(dir, "junit.xml")
	code, out, stderr := runCLI(t, "test", "--junit", report, spec)
	wantOut := "--- FAIL: cents (" + spec + ":4)\n" +
		"    row 2 field amount_cents: want 1200, got 1250\n" +
		"FAIL  " + spec + "  1 of 2 cases failed\n"
	if code != 1 || out != wantOut || stderr != "sluice test: 1 of 1 specs failed\n" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 2 || doc.Failures != 1 || len(doc.Suites) != 1 || doc.Suites[0].Name != spec || len(doc.Suites[0].Cases) != 2 {
		t.Fatalf("junit: %s", data)
	}
	c0, c1 := doc.Suites[0].Cases[0], doc.Suites[0].Cases[1]
	if c0.Name != "cents" || c0.Failure == nil || c0.Failure.Message != "1 difference" || c0.Failure.Text != "row 2 field amount_cents: want 1200, got 1250" || c1.Name != "counts" || c1.Failure != nil {
		t.Fatalf("junit cases: %s", data)
	}
}

func TestTestMistakes(t *testing.T) {
	dir := t.TempDir()
	noTests := filepath.Join(dir, "none.yaml")
	write(t, noTests, "fields: [{name: a}]\n")
	badCase := filepath.Join(dir, "bad.yaml")
	write(t, badCase, "fields: [{name: a}]\ntests:\n  - name: x\n    input: {csv: \"a\\n1\\n\"}\n    expect: {rows: [{b: 1}]}\n")
	tests := []struct {
		name         string
		args         []string
		code         int
		stdout, errs string
	}{
		{"no spec", []string{"test"}, 2, "", "sluice test: no spec given\nusage: sluice test [-v] [--junit FILE] SPEC...\n"},
		{"bad flag", []string{"test", "--junitt", "x", noTests}, 2, "", "flag provided but not defined: -junitt\n"},
		{"no tests", []string{"test", noTests}, 1,
			"FAIL  " + noTests + "\n    no tests: give the spec a tests section, or write " + filepath.Join(dir, "none.test.yaml") + "\n",
			"sluice test: 1 of 1 specs failed\n"},
		{"a bad case", []string{"test", badCase}, 1,
			"FAIL  " + badCase + "\n    invalid spec:\n    " + badCase + `:5:22: tests[0].expect.rows[0].b: "b" is not a compared field (a)` + "\n    " +
				badCase + ":5:21: tests[0].expect.rows[0]: the row lacks a: give every compared field (list the compared ones in expect.fields)\n",
			"sluice test: 1 of 1 specs failed\n"},
		{"a junit file that cannot be written", []string{"test", "--junit", filepath.Join(dir, "no", "such", "dir.xml"), "../../examples/orders-iceberg/spec.yaml"}, 1,
			"ok    ../../examples/orders-iceberg/spec.yaml  1 case\n",
			"sluice test: junit report: open " + filepath.Join(dir, "no", "such", "dir.xml") + ": no such file or directory\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, tc.args...)
			if tc.name == "bad flag" {
				stderr, _, _ = strings.Cut(stderr, "\n")
				stderr += "\n"
			}
			if code != tc.code || out != tc.stdout || stderr != tc.errs {
				t.Errorf("exit %d, want %d\nstdout:\n%q\nwant:\n%q\nstderr:\n%q\nwant:\n%q", code, tc.code, out, tc.stdout, stderr, tc.errs)
			}
		})
	}
	// validate checks the test file beside a spec, and counts the cases.
	write(t, filepath.Join(dir, "none.test.yaml"), "tests:\n  - name: x\n    input: {csv: \"a\\n1\\n\"}\n    expect: {rowz: []}\n")
	code, _, stderr := runCLI(t, "validate", noTests)
	if code != 1 || stderr != filepath.Join(dir, "none.test.yaml")+":4:14: tests[0].expect.rowz: unknown key \"rowz\"\n" {
		t.Errorf("validate: exit %d: %s", code, stderr)
	}
	write(t, filepath.Join(dir, "none.test.yaml"), "tests:\n  - name: x\n    input: {csv: \"a\\n1\\n\"}\n    expect: {rows: [{a: 1}]}\n")
	code, out, _ := runCLI(t, "validate", noTests)
	if code != 0 || !strings.HasSuffix(out, "sink jsonl, 1 test case)\n") {
		t.Errorf("validate: exit %d: %s", code, out)
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
