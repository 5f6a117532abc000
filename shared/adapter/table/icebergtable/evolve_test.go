package icebergtable_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/parquet-go/parquet-go"

	"github.com/sluice-etl/sluice/internal/lakeread"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/table/icebergtable"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// evoSpec is the first version of the evolution tests' spec.
const evoSpec = `version: 1
name: events
fields:
  - {name: id, type: int, required: true}
  - {name: k, required: true}
  - {name: amt, type: int}
  - {name: ratio, type: float}
  - {name: price, type: decimal, scale: 2}
  - {name: ok, type: bool}
  - {name: at, type: timestamp, required: true}
sink:
  format: iceberg
  table: {namespace: lake, name: events}
  partition_by:
    - {key: at_day, field: at, transform: day}
`

// evoSpecV2 stops writing k (required) and ok, and adds note between amt
// and ratio, and qty at the end.
const evoSpecV2 = `version: 1
name: events
fields:
  - {name: id, type: int, required: true}
  - {name: amt, type: int}
  - {name: note}
  - {name: ratio, type: float}
  - {name: price, type: decimal, scale: 2}
  - {name: at, type: timestamp, required: true}
  - {name: qty, type: int}
sink:
  format: iceberg
  table: {namespace: lake, name: events}
  partition_by:
    - {key: at_day, field: at, transform: day}
`

// evoCSV writes rows of evoSpec for ids on day: amt 10*id.
func evoCSV(ids []int, day string) string {
	var b strings.Builder
	b.WriteString("id,k,amt,ratio,price,ok,at\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "%d,k%d,%d,%d.5,%d.25,true,%sT10:%02d:00Z\n", id, id%3, id*10, id, id, day, id%60)
	}
	return b.String()
}

// evoCSVV2 writes rows of evoSpecV2 for ids on day: amt 10*id, qty id.
func evoCSVV2(ids []int, day string) string {
	var b strings.Builder
	b.WriteString("id,amt,note,ratio,price,at,qty\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "%d,%d,n%d,%d.5,%d.25,%sT11:%02d:00Z,%d\n", id, id*10, id, id, id, day, id%60, id)
	}
	return b.String()
}

func mustPlan(t testing.TB, text string) *plan.Plan {
	t.Helper()
	p, err := plan.FromBytes("spec.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tableIDs is sluice run's option: the data files carry the table's
// field ids.
func tableIDs(o *icebergtable.Options) { o.TableFieldIDs = true }

// runSpec runs key through p into the table, opened with optFns.
func (e *env) runSpec(p *plan.Plan, key string, optFns ...func(*icebergtable.Options)) (*output.Manifest, error) {
	e.t.Helper()
	tbl, err := icebergtable.New(context.Background(), e.loc, p.Spec, &p.Out, optFns...)
	if err != nil {
		e.t.Fatal(err)
	}
	defer tbl.Close()
	return batch.Run(context.Background(), p, batch.RunOptions{Input: e.inB, Key: key, Output: e.outB, Lake: tbl})
}

func (e *env) mustRunSpec(p *plan.Plan, key string, optFns ...func(*icebergtable.Options)) *output.Manifest {
	e.t.Helper()
	m, err := e.runSpec(p, key, optFns...)
	if err != nil {
		e.t.Fatalf("run %s: %v", key, err)
	}
	return m
}

// columns lists the table's columns as "id name type required".
func (e *env) columns() []string {
	e.t.Helper()
	var got []string
	for _, c := range e.describe().Columns {
		got = append(got, fmt.Sprintf("%d %s %s %v", c.ID, c.Name, c.Type, c.Required))
	}
	return got
}

func (e *env) schemas() []icebergtable.SchemaInfo {
	e.t.Helper()
	s, err := e.catalog().Schemas(context.Background(), "lake.events")
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// readBack reads the table with icebird, on either catalog (on Glue
// from the metadata file Glue points at, through moto's S3), counting
// the rows whose nullColumn is null.
func (e *env) readBack(sumColumn, nullColumn string) lakeread.Result {
	e.t.Helper()
	if e.loc.Kind == spec.CatalogGlue {
		tbl, err := e.catalog().Load(context.Background(), "lake.events")
		if err != nil {
			e.t.Fatal(err)
		}
		return lakeread.ReadS3Nulls(e.t, e.loc.Endpoint, tbl.MetadataLocation(), sumColumn, "id", "", nullColumn)
	}
	return lakeread.ReadNulls(e.t, e.location(), sumColumn, "id", nullColumn)
}

// fileFieldIDs reads the field id of each column of a data file.
func (e *env) fileFieldIDs(key string) map[string]int {
	e.t.Helper()
	ctx := context.Background()
	r, err := storage.NewReader(ctx, e.catalog().Files(), key)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		e.t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		e.t.Fatalf("%s: %v", key, err)
	}
	ids := map[string]int{}
	for _, fld := range f.Schema().Fields() {
		ids[fld.Name()] = fld.ID()
	}
	return ids
}

func sumOf(ids []int, f func(int) int) string {
	n := 0
	for _, id := range ids {
		n += f(id)
	}
	return fmt.Sprint(n)
}

// A spec that adds fields and stops writing others evolves the table in
// one schema update: new optional columns at the end with new ids, the
// required column no longer written made optional, the other kept. The
// second run's files carry the table's ids, icebird reads every row with
// null in the new columns for the first run's rows and in the dropped
// ones for the second's, and a third run of the first spec still fits.
func TestEvolutionAddsKeepsAndMakesOptional(t *testing.T) {
	forEachCatalog(t, func(t *testing.T, e *env) {
		v1, v2 := mustPlan(t, evoSpec), mustPlan(t, evoSpecV2)
		first, second, third := ids(1, 5), ids(101, 104), ids(201, 202)
		e.write("a.csv", evoCSV(first, "2026-11-01"))
		e.write("b.csv", evoCSVV2(second, "2026-11-02"))
		e.write("c.csv", evoCSV(third, "2026-11-03"))
		e.mustRunSpec(v1, "a.csv", tableIDs)
		m2 := e.mustRunSpec(v2, "b.csv", tableIDs)

		want := []string{"1 id long true", "2 k string false", "3 amt long false", "4 ratio double false", "5 price decimal(18, 2) false",
			"6 ok boolean false", "7 at timestamptz true", "8 note string false", "9 qty long false"}
		if got := e.columns(); !slices.Equal(got, want) {
			t.Errorf("columns after the evolution\n got %v\nwant %v", got, want)
		}
		changes := []string{"made k optional", "added note (string, optional)", "added qty (long, optional)"}
		s := e.schemas()
		if len(s) != 2 || s[0].ID != 0 || s[0].Current || len(s[0].Changes) != 0 || s[1].ID != 1 || !s[1].Current || s[1].Columns != 9 || !slices.Equal(s[1].Changes, changes) {
			t.Errorf("schemas = %+v, want 0 then 1 (current) with %v: one schema update", s, changes)
		}
		h := e.history()
		if len(h) != 2 || h[0].SchemaID != 0 || h[1].SchemaID != 1 || !slices.Equal(h[1].SchemaChanges, changes) || h[0].SchemaChanges != nil {
			t.Errorf("history = %+v, want the second snapshot on schema 1 with %v", h, changes)
		}
		wantIDs := map[string]int{"id": 1, "amt": 3, "note": 8, "ratio": 4, "price": 5, "at": 7, "qty": 9}
		for _, p := range m2.Parts {
			if got := e.fileFieldIDs(p.Key); !maps.Equal(got, wantIDs) {
				t.Errorf("field ids of %s: %v, want the table's %v", p.Key, got, wantIDs)
			}
		}

		amt := func(id int) int { return 10 * id }
		r := e.readBack("amt", "note")
		if r.Count != 9 || r.Sum != sumOf(append(slices.Clone(first), second...), amt) || r.Nulls != int64(len(first)) {
			t.Errorf("icebird read %+v: want 9 rows, sum(amt) of both runs, note null in the first run's 5", r)
		}
		r = e.readBack("qty", "k")
		if r.Sum != sumOf(second, func(id int) int { return id }) || r.Nulls != int64(len(second)) {
			t.Errorf("icebird read %+v: want sum(qty) of the second run, k null in its 4 rows", r)
		}

		e.mustRunSpec(v1, "c.csv", tableIDs)
		if s := e.schemas(); len(s) != 2 {
			t.Errorf("the first spec again changed the schema: %+v", s)
		}
		r = e.readBack("amt", "qty")
		if r.Count != 11 || r.Nulls != int64(len(first)+len(third)) {
			t.Errorf("icebird read %+v after the first spec again: want 11 rows, qty null in 7", r)
		}
		e.checkNoOrphans()
	})
}

// foreignSchema is a table another tool made: an int, a float, a
// decimal(10, 2) and a decimal(20, 2) column, with ids 1 to 6.
var foreignSchema = iceberg.NewSchema(0,
	iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
	iceberg.NestedField{ID: 2, Name: "n", Type: iceberg.PrimitiveTypes.Int32},
	iceberg.NestedField{ID: 3, Name: "f", Type: iceberg.PrimitiveTypes.Float32},
	iceberg.NestedField{ID: 4, Name: "d", Type: iceberg.DecimalTypeOf(10, 2)},
	iceberg.NestedField{ID: 5, Name: "at", Type: iceberg.PrimitiveTypes.TimestampTz, Required: true},
	iceberg.NestedField{ID: 6, Name: "big", Type: iceberg.DecimalTypeOf(20, 2)},
)

// createForeignTable creates lake.events as another tool would, and adds
// two rows in a Parquet file of its own: n 5 and 7, f 1.5 and 2.5, d 2.25
// and 3.50, on 2026-11-01.
func (e *env) createForeignTable() {
	e.t.Helper()
	ctx := context.Background()
	c := e.catalog()
	if err := c.CreateNamespace(ctx, table.Identifier{"lake"}, nil); err != nil {
		e.t.Fatal(err)
	}
	ps := iceberg.NewPartitionSpec(iceberg.PartitionField{SourceIDs: []int{5}, FieldID: 1000, Name: "at_day", Transform: iceberg.DayTransform{}})
	loc := c.TableLocation("lake", "events")
	tbl, err := c.CreateTable(ctx, table.Identifier{"lake", "events"}, foreignSchema, catalog.WithPartitionSpec(&ps), catalog.WithLocation(c.URL(loc)))
	if err != nil {
		e.t.Fatal(err)
	}
	key := layout.TableDataPrefix(loc) + "/at_day=2026-11-01/foreign-0001.parquet"
	if err := storage.WriteAll(ctx, c.Files(), key, foreignParquet(e.t)); err != nil {
		e.t.Fatal(err)
	}
	txn := tbl.NewTransaction()
	if err := txn.AddFiles(ctx, []string{c.URL(key)}, nil, false); err != nil {
		e.t.Fatal(err)
	}
	if _, err := txn.Commit(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// foreignParquet is the other tool's data file, with its field ids.
func foreignParquet(t testing.TB) []byte {
	t.Helper()
	sc := parquet.NewSchema("foreign", parquet.Group{
		"id":  parquet.FieldID(parquet.Required(parquet.Int(64)), 1),
		"n":   parquet.FieldID(parquet.Optional(parquet.Int(32)), 2),
		"f":   parquet.FieldID(parquet.Optional(parquet.Leaf(parquet.FloatType)), 3),
		"d":   parquet.FieldID(parquet.Optional(parquet.Decimal(2, 10, parquet.Int64Type)), 4),
		"at":  parquet.FieldID(parquet.Required(parquet.Timestamp(parquet.Microsecond)), 5),
		"big": parquet.FieldID(parquet.Optional(parquet.Decimal(2, 20, parquet.FixedLenByteArrayType(9))), 6),
	})
	col := map[string]int{}
	for i, path := range sc.Columns() {
		col[path[0]] = i
	}
	at := time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC).UnixMicro()
	var rows []parquet.Row
	for i, r := range []struct {
		id, n int64
		f     float32
		d     int64
	}{{1001, 5, 1.5, 225}, {1002, 7, 2.5, 350}} {
		row := make(parquet.Row, len(col))
		row[col["id"]] = parquet.Int64Value(r.id).Level(0, 0, col["id"])
		row[col["n"]] = parquet.Int32Value(int32(r.n)).Level(0, 1, col["n"])
		row[col["f"]] = parquet.FloatValue(r.f).Level(0, 1, col["f"])
		row[col["d"]] = parquet.Int64Value(r.d).Level(0, 1, col["d"])
		row[col["at"]] = parquet.Int64Value(at+int64(i)).Level(0, 0, col["at"])
		row[col["big"]] = parquet.NullValue().Level(0, 0, col["big"])
		rows = append(rows, row)
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[any](&buf, sc)
	if _, err := w.WriteRows(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const widenSpec = `version: 1
name: events
fields:
  - {name: id, type: int, required: true}
  - {name: n, type: int}
  - {name: f, type: float}
  - {name: d, type: decimal, scale: 2}
  - {name: at, type: timestamp, required: true}
sink:
  format: iceberg
  table: {namespace: lake, name: events}
  partition_by:
    - {key: at_day, field: at, transform: day}
`

// A table another tool made with int, float and decimal(10, 2) columns
// takes sluice's long, double and decimal(18, 2): the columns are widened
// in one schema update, with the writer the AWS functions use (ids by
// position), and icebird reads the other tool's rows and sluice's with
// the wider types. Its decimal(20, 2) column is not narrowed to sluice's
// decimal(18, 2): that spec is refused, and one that does not write the
// column keeps it.
func TestEvolutionWidensAnotherToolsTable(t *testing.T) {
	forEachCatalog(t, func(t *testing.T, e *env) {
		e.plan = mustPlan(t, widenSpec)
		e.createForeignTable()
		e.write("a.csv", "id,n,f,d,big,at\n1,10,1.25,1.00,9.99,2026-11-02T01:00:00Z\n2,20,2.25,2.50,9.99,2026-11-02T02:00:00Z\n3,30,3.25,3.75,9.99,2026-11-02T03:00:00Z\n")
		before := e.dataFiles()

		narrow := mustPlan(t, strings.Replace(widenSpec, "sink:", "  - {name: big, type: decimal, scale: 2}\nsink:", 1))
		_, err := e.runSpec(narrow, "a.csv")
		want := "table lake.events cannot take the spec's output: column big is decimal(20, 2) in the table, decimal(18, 2) in the spec: " +
			"Iceberg changes a column's type only from int to long, from float to double, or from decimal(P, S) to a larger precision with the same scale"
		var inc *icebergtable.IncompatibleError
		if !errors.As(err, &inc) || err.Error() != want {
			t.Fatalf("narrowing run: err\n%v\nwant\n%s", err, want)
		}
		if after := e.dataFiles(); !slices.Equal(after, before) || len(e.schemas()) != 1 {
			t.Fatalf("the refused run wrote files %v or changed the schema %+v", after, e.schemas())
		}

		e.mustRun("a.csv") // widenSpec, through e.plan
		wantCols := []string{"1 id long true", "2 n long false", "3 f double false", "4 d decimal(18, 2) false", "5 at timestamptz true", "6 big decimal(20, 2) false"}
		if got := e.columns(); !slices.Equal(got, wantCols) {
			t.Errorf("columns\n got %v\nwant %v", got, wantCols)
		}
		changes := []string{"widened n from int to long", "widened f from float to double", "widened d from decimal(10, 2) to decimal(18, 2)"}
		if s := e.schemas(); len(s) != 2 || !slices.Equal(s[1].Changes, changes) {
			t.Errorf("schemas %+v, want one update with %v", s, changes)
		}
		if r := e.readBack("n", "big"); r.Count != 5 || r.Sum != "72" || r.Nulls != 5 || strings.Join(r.Keys, ",") != "1,1001,1002,2,3" {
			t.Errorf("icebird read %+v: want 5 rows, sum(n) 5+7+10+20+30, big null in all", r)
		}
		if r := e.readBack("d", ""); r.Sum != "13" {
			t.Errorf("icebird sum(d) = %s, want 2.25+3.50+1.00+2.50+3.75 = 13", r.Sum)
		}
		if r := e.readBack("f", ""); r.Sum != "10.75" {
			t.Errorf("icebird sum(f) = %s, want 1.5+2.5+1.25+2.25+3.25 = 10.75", r.Sum)
		}
	})
}

// The rule of a refused type change, as the error words it.
const typeRule = "Iceberg changes a column's type only from int to long, from float to double, or from decimal(P, S) to a larger precision with the same scale"

// Each change a table cannot take is refused before any data is written,
// with an error naming the table and the column: the table's schema, its
// snapshots and its files stay as they were.
func TestEvolutionRefusals(t *testing.T) {
	cases := []struct {
		name, from, to string
		header, row    string
		positional     bool
		want           string
	}{
		{"string to long", "{name: k, required: true}", "{name: k, type: int, required: true}",
			"", "", false, "column k is string in the table, long in the spec: " + typeRule},
		{"double to long", "{name: ratio, type: float}", "{name: ratio, type: int}",
			"", "", false, "column ratio is double in the table, long in the spec: " + typeRule},
		{"decimal of another scale", "{name: price, type: decimal, scale: 2}", "{name: price, type: decimal, scale: 3}",
			"", "", false, "column price is decimal(18, 2) in the table, decimal(18, 3) in the spec: " + typeRule},
		{"another partition spec", "transform: day", "transform: month",
			"", "", false, "partitioned by [at_day=day(at)] in the table, [at_day=month(at)] in the spec: a table's partition spec is never changed"},
		{"a required field added to a table with rows", "  - {name: at,", "  - {name: note, required: true}\n  - {name: at,",
			"id,k,amt,ratio,price,ok,note,at", "9,k,1,1.5,1.25,true,n,2026-11-03T00:00:00Z", false,
			"column note is required in the spec and new to the table, whose rows have no value for it: " +
				"Iceberg adds a required column only to an empty table (drop required: true to add it optional)"},
		{"positional ids moved, for the AWS functions", "  - {name: amt, type: int}\n", "",
			"id,k,ratio,price,ok,at", "9,k,1.5,1.25,true,2026-11-03T00:00:00Z", true,
			"field ids of columns ratio (4 in the table, 3 in the files), price (5 in the table, 4 in the files), ok (6 in the table, 5 in the files), " +
				"at (7 in the table, 6 in the files): this run's files give each column its position in the spec's output as its field id, " +
				"as the AWS functions and the stream path write them; keep the table's columns in their order with new ones at the end, " +
				"or run the spec with sluice run, which writes the table's ids"},
	}
	forEachCatalog(t, func(t *testing.T, e *env) {
		e.write("a.csv", evoCSV(ids(1, 3), "2026-11-01"))
		e.mustRunSpec(mustPlan(t, evoSpec), "a.csv", tableIDs)
		files, hist, cols := e.dataFiles(), e.history(), e.columns()
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				text := strings.Replace(evoSpec, tc.from, tc.to, 1)
				if text == evoSpec {
					t.Fatalf("%q is not in the spec", tc.from)
				}
				input := evoCSV([]int{9}, "2026-11-03")
				if tc.header != "" {
					input = tc.header + "\n" + tc.row + "\n"
				}
				e.write("b.csv", input)
				var opts []func(*icebergtable.Options)
				if !tc.positional {
					opts = append(opts, tableIDs)
				}
				_, err := e.runSpec(mustPlan(t, text), "b.csv", opts...)
				var inc *icebergtable.IncompatibleError
				if want := "table lake.events cannot take the spec's output: " + tc.want; !errors.As(err, &inc) || err.Error() != want {
					t.Errorf("err\n%v\nwant\n%s", err, want)
				}
				if got := e.dataFiles(); !slices.Equal(got, files) {
					t.Errorf("data files %v, were %v", got, files)
				}
				if got := e.history(); len(got) != len(hist) {
					t.Errorf("history %+v, was %+v", got, hist)
				}
				if got, s := e.columns(), e.schemas(); !slices.Equal(got, cols) || len(s) != 1 {
					t.Errorf("columns %v, schemas %+v: the table changed", got, s)
				}
			})
		}
	})
}

// A required field may be added while the table has no rows: the table
// prepared by a run with no rows takes it as a required column.
func TestEvolutionAddsARequiredColumnToAnEmptyTable(t *testing.T) {
	forEachCatalog(t, func(t *testing.T, e *env) {
		e.write("none.csv", "id,k,amt,ratio,price,ok,at\nx,k,1,1.5,1.25,true,2026-11-01T00:00:00Z\n")
		if m := e.mustRunSpec(mustPlan(t, evoSpec), "none.csv", tableIDs); m.Out != 0 {
			t.Fatalf("the first run kept %d rows, want none", m.Out)
		}
		v2 := mustPlan(t, strings.Replace(evoSpec, "  - {name: at,", "  - {name: note, required: true}\n  - {name: at,", 1))
		e.write("b.csv", "id,k,amt,ratio,price,ok,note,at\n1,k,1,1.5,1.25,true,n1,2026-11-02T00:00:00Z\n2,k,2,2.5,2.25,true,n2,2026-11-02T00:00:00Z\n")
		e.mustRunSpec(v2, "b.csv", tableIDs)
		if got := e.columns(); got[len(got)-1] != "8 note string true" {
			t.Errorf("columns %v, want note added as required column 8", got)
		}
		if s := e.schemas(); len(s) != 2 || !slices.Equal(s[1].Changes, []string{"added note (string, required)"}) {
			t.Errorf("schemas %+v", s)
		}
		if r := e.readBack("amt", "note"); r.Count != 2 || r.Sum != "3" || r.Nulls != 0 {
			t.Errorf("icebird read %+v, want 2 rows with notes", r)
		}
	})
}

// The AWS functions write each column's position as its field id: with
// them a table still takes a field added at the end, a widened type and
// a last field no longer written, and icebird reads every row.
func TestPositionalEvolutionForTheAWSFunctions(t *testing.T) {
	forEachCatalog(t, func(t *testing.T, e *env) {
		e.write("a.csv", evoCSV(ids(1, 3), "2026-11-01"))
		e.mustRunSpec(mustPlan(t, evoSpec), "a.csv")
		v2 := mustPlan(t, strings.Replace(evoSpec, "  - {name: at, type: timestamp, required: true}\n",
			"  - {name: at, type: timestamp, required: true}\n  - {name: qty, type: int}\n", 1))
		e.write("b.csv", "id,k,amt,ratio,price,ok,at,qty\n7,k,70,1.5,1.25,true,2026-11-02T00:00:00Z,4\n")
		m := e.mustRunSpec(v2, "b.csv")
		if got := e.columns(); got[len(got)-1] != "8 qty long false" {
			t.Errorf("columns %v", got)
		}
		for _, p := range m.Parts {
			if ids := e.fileFieldIDs(p.Key); ids["qty"] != 8 || ids["at"] != 7 || ids["id"] != 1 {
				t.Errorf("field ids of %s: %v", p.Key, ids)
			}
		}
		if r := e.readBack("amt", "qty"); r.Count != 4 || r.Sum != "130" || r.Nulls != 3 {
			t.Errorf("icebird read %+v, want 4 rows, qty null in the first 3", r)
		}
	})
}

// Files written with positions as field ids (the AWS functions' writer)
// for a table whose ids are not positions any more are refused at the
// commit, naming the column: their values would land in other columns.
// The run's files are removed and the table keeps its snapshots.
func TestCommitRefusesFilesWithoutTheTablesFieldIDs(t *testing.T) {
	forEachCatalog(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		v1, v2 := mustPlan(t, evoSpec), mustPlan(t, evoSpecV2)
		e.write("a.csv", evoCSV(ids(1, 3), "2026-11-01"))
		e.write("b.csv", evoCSVV2(ids(11, 12), "2026-11-02"))
		e.mustRunSpec(v1, "a.csv", tableIDs)
		evolving, err := icebergtable.New(ctx, e.loc, v2.Spec, &v2.Out, tableIDs)
		if err != nil {
			t.Fatal(err)
		}
		defer evolving.Close()
		if err := evolving.Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		// The AWS path for b.csv: extract, transform and load with a job
		// that names no field ids, then the commit.
		aws, err := icebergtable.New(ctx, e.loc, v2.Spec, &v2.Out)
		if err != nil {
			t.Fatal(err)
		}
		defer aws.Close()
		job, err := batch.Extract(ctx, e.inB, "b.csv", v2, batch.ExtractOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := batch.Transform(ctx, e.inB, e.outB, v2, job, job.Chunks[0], batch.TransformOptions{StagingPrefix: "_staging"})
		if err != nil {
			t.Fatal(err)
		}
		lo := batch.NewLoader(e.outB, e.outB, func(o *batch.LoadOptions) { o.StagingPrefix, o.Lake = "_staging", aws })
		m, err := lo.Commit(ctx, v2, job, []*batch.ChunkResult{res})
		if err != nil {
			t.Fatal(err)
		}
		m.Status = output.StatusSucceeded
		err = lo.Finalize(ctx, m)
		want := "gives column amt the field id 2, the table 3: the file was written without the table's field ids, and its values would land in another column"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("finalize: %v, want an error saying %q", err, want)
		}
		if h := e.history(); len(h) != 1 {
			t.Errorf("history %+v, want the first run's snapshot only", h)
		}
		e.checkNoOrphans()
	})
}

// Two runs of a new spec prepare the table at once: one schema update
// lands, the other finds the table evolved, and both succeed.
func TestRacingEvolutionsMakeOneSchemaUpdate(t *testing.T) {
	forEachCatalog(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.write("a.csv", evoCSV(ids(1, 3), "2026-11-01"))
		e.mustRunSpec(mustPlan(t, evoSpec), "a.csv", tableIDs)
		v2 := mustPlan(t, evoSpecV2)
		errs := make([]error, 3)
		done := make(chan int)
		for i := range errs {
			go func() {
				defer func() { done <- i }()
				tbl, err := icebergtable.New(ctx, e.loc, v2.Spec, &v2.Out, tableIDs)
				if err != nil {
					errs[i] = err
					return
				}
				defer tbl.Close()
				errs[i] = tbl.Prepare(ctx)
			}()
		}
		for range errs {
			<-done
		}
		for i, err := range errs {
			if err != nil {
				t.Errorf("prepare %d: %v", i, err)
			}
		}
		if s := e.schemas(); len(s) != 2 {
			t.Errorf("schemas %+v, want the first and one update", s)
		}
	})
}
