package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/sluice-etl/sluice/shared/pipeline/spectest"
)

const testUsage = "usage: sluice test [-v] [--junit FILE] SPEC...\n"

// testCmd is `sluice test`: each spec's test cases, run in memory
// through the compiled plan and the stages `sluice run` uses.
type testCmd struct {
	stdout, stderr io.Writer

	junit   string
	verbose bool
	specs   []string
}

func cmdTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &testCmd{stdout: stdout, stderr: stderr}
	return exit(stderr, "sluice test", c.run(ctx, args))
}

func (c *testCmd) run(ctx context.Context, args []string) error {
	if err := c.parse(args); err != nil {
		return err
	}
	var suites []*spectest.Suite
	failed := 0
	for _, path := range c.specs {
		s := spectest.RunFile(ctx, path)
		s.WriteText(c.stdout, c.verbose)
		if !s.Passed() {
			failed++
		}
		suites = append(suites, s)
	}
	if c.junit != "" {
		if err := writeJUnit(c.junit, suites); err != nil {
			return err
		}
	}
	if failed > 0 {
		return exitf(1, "sluice test: %d of %d specs failed\n", failed, len(suites))
	}
	return nil
}

func (c *testCmd) parse(args []string) error {
	fs := newFlagSet("test", c.stderr)
	fs.Usage = func() { fmt.Fprint(c.stderr, testUsage); fs.PrintDefaults() }
	fs.StringVar(&c.junit, "junit", "", "also write the results as JUnit XML to this file")
	fs.BoolVar(&c.verbose, "v", false, "list the cases that passed too")
	if err := fs.Parse(args); err != nil {
		return errFlags
	}
	c.specs = fs.Args()
	if len(c.specs) == 0 {
		return exitf(2, "sluice test: no spec given\n%s", testUsage)
	}
	return nil
}

// writeJUnit writes the JUnit XML report to path.
func writeJUnit(path string, suites []*spectest.Suite) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	if err := spectest.WriteJUnit(f, suites); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
