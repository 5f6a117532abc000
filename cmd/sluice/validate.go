package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice-etl/sluice/shared/adapter/table/gluecatalog"
	"github.com/sluice-etl/sluice/shared/adapter/table/icebergtable"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

const validateUsage = "usage: sluice validate [--output DIR|s3://BUCKET/PREFIX | --catalog glue [--warehouse s3://BUCKET/PREFIX]] [--endpoint URL] [--region R] SPEC\n"

// cmdValidate is `sluice validate`: the spec alone, or with the table its
// sink writes, what the next run would change in that table and what it
// would refuse.
func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &validateCmd{stdout: stdout}
	return exit(stderr, "sluice validate", c.run(ctx, args, stderr))
}

// validateCmd is `sluice validate` and its flags.
type validateCmd struct {
	stdout io.Writer

	path                     string
	output, kind, warehouse  string
	aws                      awsFlags
	p                        *plan.Plan
	kindSet, warehouseSet    bool
	outputSet, tableRequired bool
}

func (c *validateCmd) run(ctx context.Context, args []string, stderr io.Writer) error {
	if err := c.parse(args, stderr); err != nil {
		return err
	}
	p, err := plan.FromFile(c.path)
	if err != nil {
		return &exitError{code: 1, msg: err.Error() + "\n"}
	}
	c.p = p
	tests, err := p.Spec.LoadTests()
	if err != nil {
		return &exitError{code: 1, msg: err.Error() + "\n"}
	}
	fmt.Fprintf(c.stdout, "%s: ok (%d fields in, %d fields out, %d derived, %d filters, sink %s%s)\n",
		c.path, len(p.Spec.Fields), len(p.Out.Fields), len(p.Spec.Derive), len(p.Spec.Filter), sinkName(p.Spec), testCount(len(tests)))
	if !c.tableRequired {
		return nil
	}
	switch k := p.Spec.Sink; {
	case k.Format == codec.SinkIceberg:
		return c.checkLake(ctx)
	case k.Catalog == spec.CatalogGlue && k.Format != codec.SinkDynamoDB:
		return c.checkGlue(ctx)
	}
	return exitf(2, "sluice validate: the spec's %s sink has no table to check against: --output, --catalog and --warehouse are for an iceberg sink, or a sink that registers in glue\n", sinkName(p.Spec))
}

// parse reads the flags, which may come before or after the spec.
func (c *validateCmd) parse(args []string, stderr io.Writer) error {
	fs := newFlagSet("validate", stderr)
	fs.StringVar(&c.output, "output", "", "the run's --output: the folder holding an iceberg sink's local catalog, or the s3:// location of a table registered in glue")
	fs.StringVar(&c.kind, "catalog", "", "an iceberg sink's catalog, local or glue (default: the spec's)")
	fs.StringVar(&c.warehouse, "warehouse", "", "the glue catalog's warehouse, s3://bucket/prefix (default: the spec's sink.warehouse)")
	c.aws.add(fs)
	if err := fs.Parse(args); err != nil {
		return errFlags
	}
	rest := fs.Args()
	if len(rest) > 0 {
		c.path = rest[0]
		if err := fs.Parse(rest[1:]); err != nil {
			return errFlags
		}
	}
	if fs.NArg() > 0 || c.path == "" {
		return exitf(2, "%s", validateUsage)
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "output":
			c.outputSet = true
		case "catalog":
			c.kindSet = true
		case "warehouse":
			c.warehouseSet = true
		}
	})
	c.tableRequired = c.outputSet || c.kindSet || c.warehouseSet
	if c.kindSet && spec.CatalogKind(c.kind).Check() != nil {
		return exitf(2, "sluice validate: --catalog must be local or glue, not %q\n", c.kind)
	}
	return nil
}

// checkLake plans the iceberg sink's table: what Prepare would change,
// with sluice run's writer, and what it would refuse.
func (c *validateCmd) checkLake(ctx context.Context) error {
	loc, err := c.lakeLocation()
	if err != nil {
		return err
	}
	if loc.Kind == spec.CatalogLocal {
		if _, err := os.Stat(filepath.Join(loc.Root, filepath.FromSlash(layout.CatalogKey("")))); errors.Is(err, os.ErrNotExist) {
			k := c.p.Spec.Sink.Table
			fmt.Fprintf(c.stdout, "table %s.%s: no catalog in %s: the first run creates it\n", k.Namespace, k.Name, loc.Root)
			return nil
		}
	}
	t, err := icebergtable.New(ctx, loc, c.p.Spec, &c.p.Out, func(o *icebergtable.Options) { o.TableFieldIDs = true })
	if err != nil {
		return err
	}
	defer t.Close()
	ev, err := t.Plan(ctx)
	if err != nil {
		return err
	}
	return c.report(printLake(c.stdout, ev), ev.Table)
}

// lakeLocation is the iceberg sink's catalog as the flags and the spec
// name it.
func (c *validateCmd) lakeLocation() (icebergtable.Location, error) {
	k := c.p.Spec.Sink
	kind := k.Catalog
	if c.kindSet {
		kind = spec.CatalogKind(c.kind)
	}
	if kind == spec.CatalogGlue {
		wh := c.warehouse
		if wh == "" {
			wh = k.Warehouse
		}
		switch {
		case wh == "":
			return icebergtable.Location{}, exitf(2, "sluice validate: --catalog glue needs --warehouse s3://bucket/prefix, or sink.warehouse in the spec\n%s", validateUsage)
		case c.outputSet:
			return icebergtable.Location{}, exitf(2, "sluice validate: --output names a local catalog, not with --catalog glue\n")
		}
		return c.aws.location(spec.CatalogGlue, "", wh), nil
	}
	if c.warehouseSet {
		return icebergtable.Location{}, exitf(2, "sluice validate: --warehouse is for --catalog glue; the local catalog is --output\n")
	}
	root := c.output
	if root == "" {
		root = k.Warehouse
	}
	dir, ok := localFolder(root)
	if !ok || dir == "" {
		return icebergtable.Location{}, exitf(2, "sluice validate: the local catalog needs --output DIR, the folder holding it\n%s", validateUsage)
	}
	return c.aws.location(spec.CatalogLocal, dir, ""), nil
}

// printLake prints what Prepare would do, and returns the refused
// changes.
func printLake(w io.Writer, ev *icebergtable.Evolution) []string {
	switch {
	case !ev.Exists:
		fmt.Fprintf(w, "table %s: does not exist: the first run creates it\n", ev.Table)
		return nil
	case len(ev.Refused) > 0:
		fmt.Fprintf(w, "table %s (schema %d): the spec's output is refused:\n", ev.Table, ev.SchemaID)
		for _, r := range ev.Refused {
			fmt.Fprintf(w, "  %s\n", r)
		}
		return ev.Refused
	case !ev.Updates() && len(ev.Changes) == 0:
		fmt.Fprintf(w, "table %s (schema %d): takes the spec's output as it is\n", ev.Table, ev.SchemaID)
	case !ev.Updates():
		fmt.Fprintf(w, "table %s (schema %d): takes the spec's output as it is:\n", ev.Table, ev.SchemaID)
	default:
		fmt.Fprintf(w, "table %s (schema %d): the next run changes it in one schema update:\n", ev.Table, ev.SchemaID)
	}
	for _, ch := range ev.Changes {
		fmt.Fprintf(w, "  %s\n", ch)
	}
	return nil
}

// checkGlue plans the Glue table a jsonl, csv or parquet sink registers
// in: what Register would change, and what it would refuse.
func (c *validateCmd) checkGlue(ctx context.Context) error {
	switch {
	case c.kindSet || c.warehouseSet:
		return exitf(2, "sluice validate: --catalog and --warehouse are for an iceberg sink; a sink registered in glue takes the run's --output s3://bucket/prefix\n")
	case !strings.HasPrefix(c.output, "s3://"):
		return exitf(2, "sluice validate: a sink registered in glue needs the run's --output s3://bucket[/prefix], the table's location, not %q\n", c.output)
	}
	client, err := c.aws.glueClient(ctx)
	if err != nil {
		return err
	}
	cat, err := gluecatalog.New(client, c.p.Spec, &c.p.Out, c.output)
	if err != nil {
		return fmt.Errorf("glue registration: %w", err)
	}
	ev, err := cat.Plan(ctx)
	if err != nil {
		return err
	}
	return c.report(printGlue(c.stdout, ev), "glue table "+ev.Table)
}

// printGlue prints what Register would do, and returns the refused
// changes.
func printGlue(w io.Writer, ev *gluecatalog.Evolution) []string {
	switch {
	case !ev.Exists:
		fmt.Fprintf(w, "glue table %s: does not exist: the first run creates it\n", ev.Table)
		return nil
	case len(ev.Refused) > 0:
		fmt.Fprintf(w, "glue table %s: the spec's output is refused:\n", ev.Table)
		for _, r := range ev.Refused {
			fmt.Fprintf(w, "  %s\n", r)
		}
		return ev.Refused
	case !ev.Update:
		fmt.Fprintf(w, "glue table %s: takes the spec's output as it is\n", ev.Table)
	default:
		fmt.Fprintf(w, "glue table %s: the next run updates it:\n", ev.Table)
	}
	for _, ch := range ev.Changes {
		fmt.Fprintf(w, "  %s\n", ch)
	}
	return nil
}

// report ends validate with code 1 when changes were refused.
func (c *validateCmd) report(refused []string, table string) error {
	if len(refused) == 0 {
		return nil
	}
	what := "1 change"
	if len(refused) > 1 {
		what = fmt.Sprintf("%d changes", len(refused))
	}
	return exitf(1, "sluice validate: %s cannot take the spec's output: %s refused\n", table, what)
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

// testCount is how validate's summary counts test cases: not at all
// when there are none.
func testCount(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return ", 1 test case"
	}
	return fmt.Sprintf(", %d test cases", n)
}
