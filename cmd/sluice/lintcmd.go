package main

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/sluice-etl/sluice/internal/lint"
	"github.com/sluice-etl/sluice/internal/samtemplate"
	"github.com/sluice-etl/sluice/shared/core/plan"
)

// cmdLint checks template.yaml, the state machine definitions it names,
// and any specs given: the mistakes cfn-lint and the AWS tools do not see.
func cmdLint(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("lint", stderr)
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
	var windows []int
	if t, err := samtemplate.Load(*tmpl, "sluice", nil); err == nil {
		evs, _ := t.KinesisEvents()
		for _, ev := range evs {
			windows = append(windows, ev.TumblingWindow)
		}
	}
	for _, specPath := range fs.Args() {
		p, err := plan.FromFile(specPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			n++
			continue
		}
		if w := p.Spec.Window; w != nil && w.Native {
			secs := int(time.Duration(w.Size) / time.Second)
			if !slices.Contains(windows, secs) {
				fmt.Fprintf(stderr, "%s: window.native needs a Kinesis event source with TumblingWindowInSeconds: %d; %s sets %v\n", specPath, secs, *tmpl, windows)
				n++
			}
		}
	}
	if n > 0 {
		fmt.Fprintf(stderr, "sluice lint: %d problem(s)\n", n)
		return 1
	}
	fmt.Fprintf(stdout, "sluice lint: %s, its state machines and %d spec(s) are clean\n", *tmpl, fs.NArg())
	return 0
}
