package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/sluice-etl/sluice/shared/adapter/table/icebergtable"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// cmdTable is `sluice table list|history|show`: the iceberg sink's
// tables in a local catalog or in Glue, each snapshot with the run, source and
// counts that made it (the audit ledger), and a table's schema,
// partition spec and rows per partition.
func cmdTable(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &tableCmd{stdout: stdout, stderr: stderr}
	return exit(stderr, "sluice table", c.run(ctx, args))
}

// tableCmd is `sluice table` and its flags.
type tableCmd struct {
	stdout, stderr io.Writer

	action, catalog, table string
	kind, warehouse        string
	aws                    awsFlags
	asJSON                 bool
}

const tableUsage = "usage: sluice table list|history|show (--output DIR | --catalog glue --warehouse s3://BUCKET/PREFIX [--endpoint URL] [--region R]) [--table NAMESPACE.NAME] [--json]\n"

func (c *tableCmd) run(ctx context.Context, args []string) error {
	if err := c.parse(args); err != nil {
		return err
	}
	cat, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer cat.Close()
	switch c.action {
	case "list":
		names, err := cat.Tables(ctx)
		if err != nil {
			return err
		}
		return silent(c.print(names, func(w io.Writer) {
			for _, n := range names {
				fmt.Fprintln(w, n)
			}
		}))
	case "history":
		snaps, err := cat.History(ctx, c.table)
		if err != nil {
			return err
		}
		schemas, err := cat.Schemas(ctx, c.table)
		if err != nil {
			return err
		}
		return silent(c.print(snaps, func(w io.Writer) { printHistory(w, snaps, schemas) }))
	}
	info, err := cat.Describe(ctx, c.table)
	if err != nil {
		return err
	}
	return silent(c.print(info, func(w io.Writer) { printTable(w, info) }))
}

func (c *tableCmd) parse(args []string) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "history" && args[0] != "show") {
		return exitf(2, "%s", tableUsage)
	}
	c.action = args[0]
	fs := newFlagSet("table "+c.action, c.stderr)
	fs.StringVar(&c.catalog, "output", "", "the folder holding the local catalog: the run's --output, or the spec's sink.warehouse")
	fs.StringVar(&c.kind, "catalog", string(spec.CatalogLocal), "the catalog: local or glue")
	fs.StringVar(&c.warehouse, "warehouse", "", "the glue catalog's warehouse, s3://bucket/prefix: the spec's sink.warehouse")
	c.aws.add(fs)
	fs.StringVar(&c.table, "table", "", "the table, as namespace.name")
	fs.BoolVar(&c.asJSON, "json", false, "print JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return errFlags
	}
	switch {
	case fs.NArg() > 0:
		return exitf(2, "sluice table: unexpected argument %q\n", fs.Arg(0))
	case spec.CatalogKind(c.kind).Check() != nil || c.kind == "":
		return exitf(2, "sluice table %s: --catalog must be local or glue, not %q\n", c.action, c.kind)
	case c.kind == string(spec.CatalogGlue) && c.warehouse == "":
		return exitf(2, "sluice table %s: --warehouse is required with --catalog glue\n%s", c.action, tableUsage)
	case c.kind == string(spec.CatalogGlue) && c.catalog != "":
		return exitf(2, "sluice table %s: --output names a local catalog, not with --catalog glue\n", c.action)
	case c.kind == string(spec.CatalogLocal) && c.warehouse != "":
		return exitf(2, "sluice table %s: --warehouse is for --catalog glue; the local catalog is --output\n", c.action)
	case c.kind == string(spec.CatalogLocal) && c.catalog == "":
		return exitf(2, "sluice table %s: --output is required\n%s", c.action, tableUsage)
	case c.action != "list" && c.table == "":
		return exitf(2, "sluice table %s: --table is required\n%s", c.action, tableUsage)
	}
	return nil
}

// open opens the catalog; a local one must exist: reading never creates
// one.
func (c *tableCmd) open(ctx context.Context) (*icebergtable.Catalog, error) {
	if c.kind == string(spec.CatalogGlue) {
		return icebergtable.Open(ctx, c.aws.location(spec.CatalogGlue, "", c.warehouse))
	}
	dir, ok := localFolder(c.catalog)
	if !ok {
		return nil, fmt.Errorf("--output %s: the local catalog is a local folder", c.catalog)
	}
	db := filepath.Join(dir, filepath.FromSlash(layout.CatalogKey("")))
	if _, err := os.Stat(db); err != nil {
		return nil, fmt.Errorf("no catalog in %s: %w", dir, err)
	}
	return icebergtable.OpenCatalog(dir)
}

// print writes v as JSON with --json, else as text.
func (c *tableCmd) print(v any, text func(io.Writer)) error {
	if c.asJSON {
		return writeJSON(c.stdout, v)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	text(tw)
	return tw.Flush()
}

// printHistory prints the snapshots, each with the schema it was written
// with, then every schema with its changes from the one before.
func printHistory(w io.Writer, snaps []icebergtable.SnapshotInfo, schemas []icebergtable.SchemaInfo) {
	fmt.Fprintln(w, "SNAPSHOT\tTIME\tOPERATION\tRUN\tSOURCE\tIN\tOUT\tREJECTED\tFILTERED\tADDED\tDELETED\tTOTAL\tSCHEMA")
	for _, s := range snaps {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", s.ID, s.Time.Format("2006-01-02T15:04:05Z"), s.Operation,
			orDash(s.RunID), orDash(s.Source), s.In, s.Out, s.Rejected, s.Filtered, s.AddedRecords, s.DeletedRecords, s.TotalRecords, s.SchemaID)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "SCHEMA\tCOLUMNS\tCHANGES")
	for _, sc := range schemas {
		id := strconv.Itoa(sc.ID)
		if sc.Current {
			id += " (current)"
		}
		changes := "-"
		if len(sc.Changes) > 0 {
			changes = strings.Join(sc.Changes, "; ")
		}
		fmt.Fprintf(w, "%s\t%d\t%s\n", id, sc.Columns, changes)
	}
}

func printTable(w io.Writer, t *icebergtable.TableInfo) {
	fmt.Fprintf(w, "table\t%s\nlocation\t%s\nsnapshot\t%d\nrecords\t%d in %d files\n\n", t.Name, t.Location, t.Snapshot, t.Records, t.Files)
	fmt.Fprintln(w, "ID\tCOLUMN\tTYPE\tREQUIRED")
	for _, col := range t.Columns {
		fmt.Fprintf(w, "%d\t%s\t%s\t%v\n", col.ID, col.Name, col.Type, col.Required)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "PARTITION\tFILES\tRECORDS\tBYTES")
	for _, p := range t.Partitions {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\n", orDash(p.Partition), p.Files, p.Records, p.Bytes)
	}
	if len(t.PartitionBy) > 0 {
		fmt.Fprintf(w, "\npartitioned by\t%v\n", t.PartitionBy)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
