package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/sluice-etl/sluice/shared/lint"
	"github.com/sluice-etl/sluice/shared/transform"
)

// cmdLint checks template.yaml, the state machine definitions it names,
// and any specs given: the mistakes cfn-lint and the AWS tools do not see.
func cmdLint(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tmpl := fs.String("template", "template.yaml", "SAM template to check (with the ASL files it names)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	problems, err := lint.Files(*tmpl)
	if err != nil {
		fmt.Fprintf(stderr, "sluice lint: %v\n", err)
		return 1
	}
	n := len(problems)
	for _, p := range problems {
		fmt.Fprintln(stderr, p)
	}
	for _, specPath := range fs.Args() {
		if _, err := transform.Load(specPath); err != nil {
			fmt.Fprintln(stderr, err)
			n++
		}
	}
	if n > 0 {
		fmt.Fprintf(stderr, "sluice lint: %d problem(s)\n", n)
		return 1
	}
	fmt.Fprintf(stdout, "sluice lint: %s, its state machines and %d spec(s) are clean\n", *tmpl, fs.NArg())
	return 0
}
