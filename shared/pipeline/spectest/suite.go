package spectest

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// Suite is one spec's cases and how they went.
type Suite struct {
	// Spec is the spec file's path.
	Spec    string
	Results []*Result
	// Err is set when the spec or its tests could not be loaded, or it
	// has none.
	Err      error
	Duration time.Duration
}

// Failed counts the cases that ran and differ.
func (s *Suite) Failed() int {
	n := 0
	for _, r := range s.Results {
		if r.Err == nil && len(r.Diffs) > 0 {
			n++
		}
	}
	return n
}

// Errors counts the cases that could not run, and a spec that could not
// be loaded.
func (s *Suite) Errors() int {
	n := 0
	if s.Err != nil {
		n++
	}
	for _, r := range s.Results {
		if r.Err != nil {
			n++
		}
	}
	return n
}

// Passed reports whether every case passed.
func (s *Suite) Passed() bool { return s.Failed() == 0 && s.Errors() == 0 }

// RunFile loads the spec at path and its tests (its tests section, and
// the test file beside it) and runs every case, in order.
func RunFile(ctx context.Context, path string, optFns ...func(*Options)) *Suite {
	opt := Options{Clock: time.Now}
	for _, fn := range optFns {
		fn(&opt)
	}
	began := opt.Clock()
	s := &Suite{Spec: path}
	defer func() { s.Duration = opt.Clock().Sub(began) }()
	p, err := plan.FromFile(path)
	if err != nil {
		s.Err = fmt.Errorf("invalid spec:\n%w", err)
		return s
	}
	tests, err := p.Spec.LoadTests()
	if err != nil {
		s.Err = fmt.Errorf("invalid tests:\n%w", err)
		return s
	}
	if len(tests) == 0 {
		s.Err = fmt.Errorf("no tests: give the spec a tests section, or write %s", spec.TestFileFor(path))
		return s
	}
	for i := range tests {
		if err := ctx.Err(); err != nil {
			s.Err = err
			return s
		}
		s.Results = append(s.Results, Run(ctx, p, &tests[i], func(o *Options) { *o = opt }))
	}
	return s
}

// WriteText writes the suite as `sluice test` prints it: each case that
// failed, with its differences (with verbose, each case), then a line
// for the spec.
func (s *Suite) WriteText(w io.Writer, verbose bool) {
	for _, r := range s.Results {
		switch {
		case r.Err != nil:
			fmt.Fprintf(w, "--- ERROR: %s (%s)\n%s", r.Test.Name, r.Test.Where(), indent(r.Err.Error()))
		case len(r.Diffs) > 0:
			fmt.Fprintf(w, "--- FAIL: %s (%s)\n%s", r.Test.Name, r.Test.Where(), indent(strings.Join(r.Diffs, "\n")))
		case verbose:
			fmt.Fprintf(w, "--- PASS: %s (%s)\n", r.Test.Name, r.Test.Where())
		}
	}
	switch n := len(s.Results); {
	case s.Err != nil:
		fmt.Fprintf(w, "FAIL  %s\n%s", s.Spec, indent(s.Err.Error()))
	case !s.Passed():
		fmt.Fprintf(w, "FAIL  %s  %d of %d cases failed\n", s.Spec, s.Failed()+s.Errors(), n)
	default:
		fmt.Fprintf(w, "ok    %s  %d %s\n", s.Spec, n, plural(n, "case", "cases"))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// indent indents each line of text by four spaces.
func indent(text string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		b.WriteString("    ")
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// The JUnit XML report, as CI systems read it: one testsuite per spec,
// one testcase per case, a failure with the differences or an error.
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
		File      string        `xml:"file,attr,omitempty"`
		Line      int           `xml:"line,attr,omitempty"`
		Time      string        `xml:"time,attr"`
		Failure   *junitProblem `xml:"failure,omitempty"`
		Error     *junitProblem `xml:"error,omitempty"`
	}
	junitProblem struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
)

// WriteJUnit writes the suites as JUnit XML.
func WriteJUnit(w io.Writer, suites []*Suite) error {
	doc := junitSuites{}
	var total time.Duration
	for _, s := range suites {
		js := junitSuite{Name: s.Spec, Failures: s.Failed(), Errors: s.Errors(), Time: seconds(s.Duration)}
		if s.Err != nil {
			js.Cases = append(js.Cases, junitCase{Name: "load", Classname: s.Spec, File: s.Spec, Time: seconds(0),
				Error: &junitProblem{Message: firstLine(s.Err.Error()), Type: "load", Text: s.Err.Error()}})
		}
		for _, r := range s.Results {
			js.Cases = append(js.Cases, junitCaseOf(s.Spec, r))
		}
		js.Tests = len(js.Cases)
		doc.Tests += js.Tests
		doc.Failures += js.Failures
		doc.Errors += js.Errors
		total += s.Duration
		doc.Suites = append(doc.Suites, js)
	}
	doc.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func junitCaseOf(specPath string, r *Result) junitCase {
	jc := junitCase{Name: r.Test.Name, Classname: specPath, File: r.Test.File(), Line: r.Test.Line(), Time: seconds(r.Duration)}
	switch {
	case r.Err != nil:
		jc.Error = &junitProblem{Message: firstLine(r.Err.Error()), Type: "error", Text: r.Err.Error()}
	case len(r.Diffs) > 0:
		jc.Failure = &junitProblem{Message: fmt.Sprintf("%d %s", len(r.Diffs), plural(len(r.Diffs), "difference", "differences")),
			Type: "diff", Text: strings.Join(r.Diffs, "\n")}
	}
	return jc
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
