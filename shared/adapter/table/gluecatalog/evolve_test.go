package gluecatalog_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sluice-etl/sluice/shared/adapter/table/gluecatalog"
	"github.com/sluice-etl/sluice/shared/core/plan"
)

const byDay = "{catalog: glue, table: {namespace: sales, name: orders}, partition_by: [{key: dt, field: day}]}"

// setTypes replaces the table's columns with copies whose types are
// changed as types says (name → type): the table another tool made.
func (f *fakeGlue) setTypes(types map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sd := *f.table.StorageDescriptor
	sd.Columns = slices.Clone(sd.Columns)
	for i, c := range sd.Columns {
		if t, ok := types[aws.ToString(c.Name)]; ok {
			sd.Columns[i].Type = aws.String(t)
		}
	}
	f.table.StorageDescriptor = &sd
}

// A spec that stops writing a field, adds one and writes wider types
// than the table's evolves the table in one UpdateTable: its columns
// stay where they are (the one no longer written too), widened, and the
// new one comes last. The partition added after carries the table's
// columns; the one added before keeps its own.
func TestRegisterEvolvesTheTable(t *testing.T) {
	f := &fakeGlue{}
	if err := mustNew(t, f, mustPlan(t, byDay), "s3://lake/o").Register(ctx, manifest("o", "dt=2026-11-01")); err != nil {
		t.Fatal(err)
	}
	old := columnsOf(f.partitions["[2026-11-01]"].StorageDescriptor.Columns)
	f.setTypes(map[string]string{"qty": "int", "ratio": "float", "price": "decimal(10,2)"})

	v2 := strings.Replace(fields, "  - {name: ok, type: bool}\n", "", 1)
	v2 = strings.Replace(v2, "  - {name: source, drop: true}\n", "  - {name: source, drop: true}\n  - {name: extra}\n", 1)
	p, err := planOf(v2 + "sink: " + byDay + "\n")
	if err != nil {
		t.Fatal(err)
	}
	c := mustNew(t, f, p, "s3://lake/o")
	ev, err := c.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	changes := []string{"widen column qty from int to bigint", "widen column ratio from float to double", "widen column price from decimal(10,2) to decimal(18,2)",
		"add column extra (string)", "keep column ok: the spec no longer writes it, so new rows have no value for it"}
	if !ev.Exists || !ev.Update || len(ev.Refused) != 0 || !slices.Equal(ev.Changes, changes) {
		t.Errorf("plan = %+v\nwant changes %v", ev, changes)
	}
	n := len(f.calls)
	if err := c.Register(ctx, manifest("o", "dt=2026-11-02")); err != nil {
		t.Fatal(err)
	}
	if want := []string{"GetTable", "UpdateTable", "BatchCreatePartition"}; !slices.Equal(f.calls[n:], want) {
		t.Errorf("calls %v, want %v", f.calls[n:], want)
	}
	want := []col{{"id", "bigint", ""}, {"note", "string", ""}, {"qty", "bigint", ""}, {"ratio", "double", ""}, {"price", "decimal(18,2)", ""},
		{"ok", "boolean", ""}, {"at", "timestamp", ""}, {"day", "date", ""}, {"total", "bigint", ""}, {"extra", "string", ""}}
	if got := columnsOf(f.table.StorageDescriptor.Columns); !slices.Equal(got, want) {
		t.Errorf("table columns\n got %v\nwant %v", got, want)
	}
	if got := columnsOf(f.partitions["[2026-11-02]"].StorageDescriptor.Columns); !slices.Equal(got, want) {
		t.Errorf("the new partition's columns\n got %v\nwant the table's %v", got, want)
	}
	if got := columnsOf(f.partitions["[2026-11-01]"].StorageDescriptor.Columns); !slices.Equal(got, old) {
		t.Errorf("the old partition's columns changed: %v, were %v", got, old)
	}
	n = len(f.calls)
	if err := c.Register(ctx, manifest("o", "dt=2026-11-02")); err != nil || !slices.Equal(f.calls[n:], []string{"GetTable", "BatchCreatePartition"}) {
		t.Errorf("the same spec again: err %v, calls %v; want no update", err, f.calls[n:])
	}
}

// Each change a table cannot take fails Register with an
// IncompatibleError naming the table and the column, before any
// UpdateTable or partition.
func TestRegisterRefusesChanges(t *testing.T) {
	const rule = ": a column's type changes only to a wider one (tinyint, smallint or int to a wider integer, float to double, decimal(P,S) to a larger precision with the same scale)"
	csv := "{format: csv, catalog: glue, table: {namespace: sales, name: orders}}"
	parquet := "{format: parquet, catalog: glue, table: {namespace: sales, name: orders}}"
	for _, tc := range []struct {
		name, sink, from, to string
		tableTypes           map[string]string
		want                 string
	}{
		{"bigint to double", byDay, "{name: qty, type: int}", "{name: qty, type: float}", nil,
			"column qty is bigint in the table, double in the spec" + rule},
		{"string to bigint", byDay, "{name: Note}", "{name: Note, type: int}", nil,
			"column note is string in the table, bigint in the spec" + rule},
		{"a narrower decimal", byDay, "", "", map[string]string{"price": "decimal(38,2)"},
			"column price is decimal(38,2) in the table, decimal(18,2) in the spec" + rule},
		{"another decimal scale", byDay, "{name: price, type: decimal, scale: 2}", "{name: price, type: decimal, scale: 4}", nil,
			"column price is decimal(18,2) in the table, decimal(18,4) in the spec" + rule},
		{"csv without a middle column", csv, "  - {name: Note}\n", "", nil,
			"column 2 of the csv files would be qty, and the table's column 2 is note: Athena reads CSV by position, " +
				"so keep the table's columns in order, add new ones at the end and stop writing only the last ones"},
		{"csv: double in the column's comment", csv, "{name: qty, type: int}", "{name: qty, type: float}", nil,
			"column qty is bigint in the table, double in the spec" + rule},
		{"widening an unpartitioned parquet table", parquet, "", "", map[string]string{"qty": "int"},
			"column qty is int in the table, bigint in the spec: Athena reads every Parquet file of an unpartitioned table with the table's type, " +
				"and the files written so far hold int"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeGlue{}
			if err := mustNew(t, f, mustPlan(t, tc.sink), "s3://lake/o").Register(ctx, manifest("o")); err != nil {
				t.Fatal(err)
			}
			if tc.tableTypes != nil {
				f.setTypes(tc.tableTypes)
			}
			text := strings.Replace(fields, tc.from, tc.to, 1)
			if tc.from == "" {
				text = fields
			}
			p, err := planOf(text + "sink: " + tc.sink + "\n")
			if err != nil {
				t.Fatal(err)
			}
			n := len(f.calls)
			m := manifest("o")
			if tc.sink == byDay {
				m = manifest("o", "dt=2026-11-02")
			}
			err = mustNew(t, f, p, "s3://lake/o").Register(ctx, m)
			var ie *gluecatalog.IncompatibleError
			if want := "glue table sales.orders cannot take the spec's output: " + tc.want; !errors.As(err, &ie) || err.Error() != want {
				t.Errorf("err\n%v\nwant\n%s", err, want)
			}
			if got := f.calls[n:]; !slices.Equal(got, []string{"GetTable"}) {
				t.Errorf("calls %v, want GetTable only", got)
			}
		})
	}
}

// A csv table takes a column added after the others: Athena reads the
// older files, which lack it, as null in it.
func TestRegisterCSVAddsAtTheEnd(t *testing.T) {
	csv := "{format: csv, catalog: glue, table: {namespace: sales, name: orders}}"
	f := &fakeGlue{}
	if err := mustNew(t, f, mustPlan(t, csv), "s3://lake/o").Register(ctx, manifest("o")); err != nil {
		t.Fatal(err)
	}
	p, err := planOf(fields + "  - {name: total3, expr: qty * 3, type: int}\nsink: " + csv + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := mustNew(t, f, p, "s3://lake/o").Register(ctx, manifest("o")); err != nil {
		t.Fatal(err)
	}
	cols := columnsOf(f.table.StorageDescriptor.Columns)
	if last := cols[len(cols)-1]; last != (col{"total3", "string", "bigint"}) || len(cols) != 10 {
		t.Errorf("columns %v, want total3 last", cols)
	}
}

func planOf(text string) (*plan.Plan, error) { return plan.FromBytes("spec.yaml", []byte(text)) }
