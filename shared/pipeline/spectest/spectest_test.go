package spectest_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/spectest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// The bundled examples' own cases pass, every one.
func TestExamplesPass(t *testing.T) {
	for spec, cases := range map[string]int{"orders": 5, "orders-iceberg": 1, "clicks": 2} {
		t.Run(spec, func(t *testing.T) {
			s := spectest.RunFile(context.Background(), filepath.Join("..", "..", "..", "examples", spec, "spec.yaml"))
			if s.Err != nil {
				t.Fatal(s.Err)
			}
			if len(s.Results) != cases {
				t.Errorf("%d cases, want %d", len(s.Results), cases)
			}
			for _, r := range s.Results {
				if !r.Passed() {
					t.Errorf("%s: err %v, diffs:\n%s", r.Test.Name, r.Err, strings.Join(r.Diffs, "\n"))
				}
			}
		})
	}
}

// Cases that differ from their run in every way a case can: the text
// `sluice test -v` prints for them is pinned.
func TestGoldenDiffs(t *testing.T) {
	tests := []struct {
		name           string
		cases, failing int
	}{
		{"diffs", 7, 6},
		{"errors", 3, 2},
		{"stream", 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := spectest.RunFile(context.Background(), filepath.Join("testdata", tc.name, "spec.yaml"))
			if s.Err != nil {
				t.Fatal(s.Err)
			}
			if len(s.Results) != tc.cases || s.Failed() != tc.failing || s.Errors() != 0 || s.Passed() {
				t.Errorf("%d cases, %d failed, %d errors, passed %v; want %d cases, %d failed", len(s.Results), s.Failed(), s.Errors(), s.Passed(), tc.cases, tc.failing)
			}
			var b bytes.Buffer
			s.WriteText(&b, true)
			golden(t, filepath.Join("testdata", tc.name+".golden"), b.Bytes())
		})
	}
}

// A spec that cannot be loaded, or has no tests, is one error.
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	noTests := filepath.Join(dir, "none.yaml")
	badTests := filepath.Join(dir, "bad.yaml")
	write(t, noTests, "fields: [{name: a}]\n")
	write(t, badTests, "fields: [{name: a}]\n")
	write(t, filepath.Join(dir, "bad.test.yaml"), "tests:\n  - name: x\n    input: {csv: \"a\\n1\\n\"}\n    expect: {rowz: []}\n")
	tests := []struct {
		path, want string
	}{
		{noTests, "FAIL  " + noTests + "\n    no tests: give the spec a tests section, or write " + filepath.Join(dir, "none.test.yaml") + "\n"},
		{badTests, "FAIL  " + badTests + "\n    invalid tests:\n    " + filepath.Join(dir, "bad.test.yaml") + ":4:14: tests[0].expect.rowz: unknown key \"rowz\"\n"},
		{filepath.Join(dir, "absent.yaml"), "FAIL  " + filepath.Join(dir, "absent.yaml") + "\n    invalid spec:\n    read spec: open " + filepath.Join(dir, "absent.yaml") + ": no such file or directory\n"},
	}
	for _, tc := range tests {
		s := spectest.RunFile(context.Background(), tc.path)
		if s.Errors() != 1 || s.Passed() || len(s.Results) != 0 {
			t.Errorf("%s: %d errors, passed %v, %d results", tc.path, s.Errors(), s.Passed(), len(s.Results))
		}
		var b bytes.Buffer
		s.WriteText(&b, false)
		if b.String() != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.path, b.String(), tc.want)
		}
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The JUnit report, read back with encoding/xml as a CI system reads it.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Errors   int         `xml:"errors,attr"`
		Time     string      `xml:"time,attr"`
		Cases    []junitCase `xml:"testcase"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		File      string        `xml:"file,attr"`
		Line      int           `xml:"line,attr"`
		Time      string        `xml:"time,attr"`
		Failure   *junitProblem `xml:"failure"`
		Error     *junitProblem `xml:"error"`
	}
	junitProblem struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
)

func TestJUnit(t *testing.T) {
	ctx := context.Background()
	// A clock that moves 250ms a reading: the durations are whole
	// quarters of a second.
	var ticks int64
	clock := func() time.Time { ticks++; return time.Unix(0, ticks*int64(250*time.Millisecond)) }
	withClock := func(o *spectest.Options) { o.Clock = clock }
	secs := func(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
	passing := spectest.RunFile(ctx, "../../../examples/orders-iceberg/spec.yaml", withClock)
	failing := spectest.RunFile(ctx, "testdata/errors/spec.yaml", withClock)
	broken := spectest.RunFile(ctx, "testdata/absent.yaml", withClock)
	// A case that could not run at all.
	p, err := plan.FromFile("testdata/errors/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases, err := p.Spec.LoadTests()
	if err != nil {
		t.Fatal(err)
	}
	failing.Results = append(failing.Results, &spectest.Result{Test: &cases[0], Err: errors.New("read output: boom\nmore"), Duration: time.Second})

	var b bytes.Buffer
	if err := spectest.WriteJUnit(&b, []*spectest.Suite{passing, failing, broken}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), xml.Header) {
		t.Errorf("no XML header: %.60s", b.String())
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if doc.Tests != 6 || doc.Failures != 2 || doc.Errors != 2 || len(doc.Suites) != 3 {
		t.Fatalf("testsuites: tests %d failures %d errors %d suites %d; want 6, 2, 2, 3", doc.Tests, doc.Failures, doc.Errors, len(doc.Suites))
	}
	ok, bad, load := doc.Suites[0], doc.Suites[1], doc.Suites[2]
	if ok.Name != "../../../examples/orders-iceberg/spec.yaml" || ok.Tests != 1 || ok.Failures != 0 || ok.Errors != 0 || ok.Time != secs(passing.Duration) || passing.Duration%(250*time.Millisecond) != 0 {
		t.Errorf("passing suite: %+v", ok)
	}
	c := ok.Cases[0]
	if c.Name != "clean rows become the table's rows" || c.Classname != ok.Name || c.File != "../../../examples/orders-iceberg/spec.test.yaml" || c.Line != 6 || c.Time != secs(passing.Results[0].Duration) || c.Failure != nil || c.Error != nil {
		t.Errorf("passing case: %+v", c)
	}
	if bad.Tests != 4 || bad.Failures != 2 || bad.Errors != 1 {
		t.Errorf("failing suite: %+v", bad)
	}
	want := []string{"fails as expected", "fails unexpectedly", "fails otherwise", "fails as expected"}
	for i, c := range bad.Cases {
		if c.Name != want[i] || c.File != "testdata/errors/spec.test.yaml" {
			t.Errorf("case %d: %s in %s, want %s", i, c.Name, c.File, want[i])
		}
	}
	if f := bad.Cases[1].Failure; f == nil || f.Message != "2 differences" || f.Type != "diff" ||
		f.Text != "run failed: record 2 (chunk line 2) rejected by id.type: not an integer (rejects.policy is fail)\nreject of record 2: missing (want id.type)" {
		t.Errorf("failure: %+v", f)
	}
	if f := bad.Cases[2].Failure; f == nil || f.Message != "1 difference" {
		t.Errorf("failure: %+v", f)
	}
	if e := bad.Cases[3].Error; e == nil || e.Message != "read output: boom" || e.Text != "read output: boom\nmore" || bad.Cases[3].Failure != nil || bad.Cases[3].Time != "1.000" {
		t.Errorf("error: %+v", bad.Cases[3])
	}
	if load.Tests != 1 || load.Errors != 1 || load.Cases[0].Name != "load" || load.Cases[0].Error == nil ||
		!strings.HasPrefix(load.Cases[0].Error.Message, "invalid spec:") || !strings.Contains(load.Cases[0].Error.Text, "no such file") {
		t.Errorf("load error suite: %+v", load)
	}
}

// Tests are left out of the spec hash: a spec's run ids do not change
// when it gains tests. The examples' hashes are pinned at what they were
// before specs had tests.
func TestTestsAreNotHashed(t *testing.T) {
	for spec, want := range map[string]string{"clicks": "0ee2fa7c405ec962", "orders": "38db4114819614f2"} {
		path := filepath.Join("..", "..", "..", "examples", spec, "spec.yaml")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := plan.FromFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := batch.SpecHash(p.Spec); got != want {
			t.Errorf("%s: spec hash %s, want %s", spec, got, want)
		}
		src, _, _ := strings.Cut(string(data), "\ntests:\n")
		bare, err := plan.FromBytes(path, []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if got := batch.SpecHash(bare.Spec); got != want {
			t.Errorf("%s without its tests: spec hash %s, want %s", spec, got, want)
		}
	}
	if p, _ := plan.FromFile("../../../examples/clicks/spec.yaml"); len(p.Spec.Tests) != 2 {
		t.Errorf("clicks has %d tests in the spec, want 2", len(p.Spec.Tests))
	}
}
