package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: sluice validate SPEC")
		return 2
	}
	p, err := plan.FromFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok (%d fields in, %d fields out, %d derived, %d filters, sink %s)\n",
		fs.Arg(0), len(p.Spec.Fields), len(p.Out.Fields), len(p.Spec.Derive), len(p.Spec.Filter), sinkName(p.Spec))
	return 0
}

func sinkName(s *spec.Spec) string { return string(s.Sink.Format.OrDefault()) }

// splitURL splits scheme://bucket/key into the bucket URL and the key.
// It reports false for plain paths and file:// URLs, which open by path.
func splitURL(s string) (string, string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || len(u.Scheme) == 1 || u.Scheme == "file" {
		return "", "", false
	}
	key := strings.TrimPrefix(u.Path, "/")
	return u.Scheme + "://" + u.Host, key, true
}

func parseSize(s string) (int64, error) { return spec.ParseSize(s) }
