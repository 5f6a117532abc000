package gluecatalog_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/sluice-etl/sluice/shared/adapter/table/gluecatalog"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

var ctx = context.Background()

const fields = `fields:
  - {name: id, type: int, required: true}
  - {name: Note}
  - {name: qty, type: int}
  - {name: ratio, type: float}
  - {name: price, type: decimal, scale: 2}
  - {name: ok, type: bool}
  - {name: at, type: timestamp}
  - {name: day, type: date}
  - {name: source, drop: true}
derive:
  - {name: total, expr: qty * 2, type: int}
`

func mustPlan(t testing.TB, sink string) *plan.Plan {
	t.Helper()
	p, err := plan.FromBytes("spec.yaml", []byte(fields+"sink: "+sink+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustNew(t testing.TB, api gluecatalog.API, p *plan.Plan, location string) *gluecatalog.Catalog {
	t.Helper()
	c, err := gluecatalog.New(api, p.Spec, &p.Out, location)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type col struct{ name, typ, comment string }

func columnsOf(cols []types.Column) []col {
	var out []col
	for _, c := range cols {
		out = append(out, col{aws.ToString(c.Name), aws.ToString(c.Type), aws.ToString(c.Comment)})
	}
	return out
}

// The table input of each format: its columns, storage, SerDe and
// parameters, pinned.
func TestTableInput(t *testing.T) {
	typed := []col{{"id", "bigint", ""}, {"note", "string", ""}, {"qty", "bigint", ""}, {"ratio", "double", ""},
		{"price", "decimal(18,2)", ""}, {"ok", "boolean", ""}, {"at", "timestamp", ""}, {"day", "date", ""}, {"total", "bigint", ""}}
	var text []col
	for _, c := range typed {
		text = append(text, col{c.name, "string", c.typ})
	}
	tests := []struct {
		name, sink         string
		cols               []col
		input, output, lib string
		serde, params      map[string]string
		compressed         bool
		partitionKeys      []string
	}{
		{"jsonl gzip", "{catalog: glue, table: {namespace: sales, name: orders}, compression: gzip, partition_by: [{key: dt, field: day}, {key: src, field: source}]}",
			typed, gluecatalog.TextInputFormat, gluecatalog.TextOutputFormat, "org.openx.data.jsonserde.JsonSerDe",
			map[string]string{"case.insensitive": "TRUE"},
			map[string]string{"EXTERNAL": "TRUE", "classification": "json", "compressionType": "gzip"}, true, []string{"dt", "src"}},
		{"csv tab zstd", "{format: csv, catalog: glue, table: {namespace: sales, name: orders}, compression: zstd, csv: {delimiter: tab}}",
			text, gluecatalog.TextInputFormat, gluecatalog.TextOutputFormat, "org.apache.hadoop.hive.serde2.OpenCSVSerde",
			map[string]string{"separatorChar": "\t", "quoteChar": `"`, "escapeChar": `\`},
			map[string]string{"EXTERNAL": "TRUE", "classification": "csv", "compressionType": "zstd", "skip.header.line.count": "1"}, true, nil},
		{"csv", "{format: csv, catalog: glue, table: {namespace: sales, name: orders}}",
			text, gluecatalog.TextInputFormat, gluecatalog.TextOutputFormat, "org.apache.hadoop.hive.serde2.OpenCSVSerde",
			map[string]string{"separatorChar": ",", "quoteChar": `"`, "escapeChar": `\`},
			map[string]string{"EXTERNAL": "TRUE", "classification": "csv", "compressionType": "none", "skip.header.line.count": "1"}, false, nil},
		{"parquet", "{format: parquet, catalog: glue, table: {namespace: sales, name: orders}, compression: snappy, partition_by: [{key: dt, field: day, layout: '2006-01'}]}",
			typed, "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat", "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
			"org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", map[string]string{"serialization.format": "1"},
			map[string]string{"EXTERNAL": "TRUE", "classification": "parquet"}, false, []string{"dt"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPlan(t, tc.sink)
			in, err := gluecatalog.TableInput(p.Spec, &p.Out, "s3://lake/out/")
			if err != nil {
				t.Fatal(err)
			}
			sd := in.StorageDescriptor
			if got := columnsOf(sd.Columns); !slices.Equal(got, tc.cols) {
				t.Errorf("columns\n got %v\nwant %v", got, tc.cols)
			}
			if got := columnsOf(in.PartitionKeys); len(got) != len(tc.partitionKeys) {
				t.Errorf("partition keys %v, want %v", got, tc.partitionKeys)
			}
			for i, k := range tc.partitionKeys {
				if c := in.PartitionKeys[i]; aws.ToString(c.Name) != k || aws.ToString(c.Type) != "string" {
					t.Errorf("partition key %d = %v, want %s string", i, columnsOf([]types.Column{c}), k)
				}
			}
			if aws.ToString(in.Name) != "orders" || aws.ToString(in.TableType) != "EXTERNAL_TABLE" || aws.ToString(sd.Location) != "s3://lake/out/" {
				t.Errorf("name %s, type %s, location %s", aws.ToString(in.Name), aws.ToString(in.TableType), aws.ToString(sd.Location))
			}
			if aws.ToString(sd.InputFormat) != tc.input || aws.ToString(sd.OutputFormat) != tc.output || sd.Compressed != tc.compressed {
				t.Errorf("formats %s %s compressed %v", aws.ToString(sd.InputFormat), aws.ToString(sd.OutputFormat), sd.Compressed)
			}
			if aws.ToString(sd.SerdeInfo.SerializationLibrary) != tc.lib || fmt.Sprint(sd.SerdeInfo.Parameters) != fmt.Sprint(tc.serde) {
				t.Errorf("serde %s %v", aws.ToString(sd.SerdeInfo.SerializationLibrary), sd.SerdeInfo.Parameters)
			}
			if fmt.Sprint(in.Parameters) != fmt.Sprint(tc.params) {
				t.Errorf("parameters %v, want %v", in.Parameters, tc.params)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	glueSink := "{format: parquet, catalog: glue, table: {namespace: s, name: t}}"
	for _, tc := range []struct {
		sink, location string
		want           error
	}{
		{"{format: parquet}", "s3://b/p", gluecatalog.ErrNotRegistrable},
		{"{format: iceberg, catalog: glue, warehouse: 's3://b/w'}", "s3://b/p", gluecatalog.ErrNotRegistrable},
		{glueSink, "out/orders", gluecatalog.ErrLocation},
		{glueSink, "file:///tmp/out", gluecatalog.ErrLocation},
		{glueSink, "s3:///p", gluecatalog.ErrLocation},
	} {
		p := mustPlan(t, tc.sink)
		if _, err := gluecatalog.New(&fakeGlue{}, p.Spec, &p.Out, tc.location); !errors.Is(err, tc.want) {
			t.Errorf("%s at %s: err = %v, want %v", tc.sink, tc.location, err, tc.want)
		}
	}
}

// manifest is a succeeded run with one part in each partition folder.
func manifest(out string, folders ...string) *output.Manifest {
	m := &output.Manifest{RunID: "0123456789abcdef", Status: output.StatusSucceeded}
	for i, f := range folders {
		key := layout.PartKey(out, f, m.RunID, i, "staged/part-00000.jsonl")
		m.Parts = append(m.Parts, output.Part{Key: key, Partition: f, Records: 1})
	}
	return m
}

const partitioned = "{catalog: glue, table: {namespace: sales, name: orders}, partition_by: [{key: dt, field: day}, {key: src, field: source}]}"

// A first Register creates the table and adds one partition per folder,
// its values unescaped, at its folder; a second adds nothing and does not
// update the table.
func TestRegisterCreatesAndIsIdempotent(t *testing.T) {
	f := &fakeGlue{}
	c := mustNew(t, f, mustPlan(t, partitioned), "s3://lake/tables/orders")
	m := manifest("tables/orders", "dt=2026-11-01/src=web", "dt=2026-11-01/src=a%2Fb", "dt=2026-11-02/src=__HIVE_DEFAULT_PARTITION__", "dt=2026-11-01/src=web")
	for range 2 {
		if err := c.Register(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"GetTable", "GetDatabase", "CreateTable", "BatchCreatePartition", "GetTable", "BatchCreatePartition"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls %v, want %v", f.calls, want)
	}
	if got := fmt.Sprint(f.batches[0]); got != "[[2026-11-01 a/b] [2026-11-01 web] [2026-11-02 __HIVE_DEFAULT_PARTITION__]]" {
		t.Errorf("partitions %s", got)
	}
	if loc := aws.ToString(f.partitions["[2026-11-01 a/b]"].StorageDescriptor.Location); loc != "s3://lake/tables/orders/dt=2026-11-01/src=a%2Fb/" {
		t.Errorf("partition location %s", loc)
	}
	if len(f.partitions) != 3 {
		t.Errorf("%d partitions, want 3", len(f.partitions))
	}
}

// More than MaxPartitionsPerCall partitions take several calls of at
// most that many, every partition once.
func TestRegisterBatchesPartitions(t *testing.T) {
	f := &fakeGlue{}
	c := mustNew(t, f, mustPlan(t, partitioned), "s3://lake/tables/orders")
	var folders []string
	for i := range 250 {
		folders = append(folders, fmt.Sprintf("dt=2026-11-01/src=s%03d", i))
	}
	if err := c.Register(ctx, manifest("tables/orders", folders...)); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	seen := map[string]bool{}
	for _, b := range f.batches {
		sizes = append(sizes, len(b))
		for _, v := range b {
			seen[fmt.Sprint(v)] = true
		}
	}
	if !slices.Equal(sizes, []int{100, 100, 50}) || len(seen) != 250 || len(f.partitions) != 250 {
		t.Errorf("batch sizes %v, %d distinct partitions sent, %d added", sizes, len(seen), len(f.partitions))
	}
}

// A per-partition error other than AlreadyExistsException fails Register
// with a PartitionError naming the partition and the error; existing
// partitions in the same call are no error.
func TestRegisterPartitionFailure(t *testing.T) {
	f := &fakeGlue{}
	f.onBatch = func(in *glue.BatchCreatePartitionInput) (*glue.BatchCreatePartitionOutput, error) {
		return &glue.BatchCreatePartitionOutput{Errors: []types.PartitionError{
			{PartitionValues: in.PartitionInputList[0].Values, ErrorDetail: &types.ErrorDetail{ErrorCode: aws.String("AlreadyExistsException"), ErrorMessage: aws.String("Partition already exists.")}},
			{PartitionValues: in.PartitionInputList[1].Values, ErrorDetail: &types.ErrorDetail{ErrorCode: aws.String("InternalServiceException"), ErrorMessage: aws.String("try again")}},
		}}, nil
	}
	c := mustNew(t, f, mustPlan(t, partitioned), "s3://lake/tables/orders")
	err := c.Register(ctx, manifest("tables/orders", "dt=2026-11-01/src=a", "dt=2026-11-02/src=b", "dt=2026-11-03/src=c"))
	var pe *gluecatalog.PartitionError
	if !errors.As(err, &pe) || len(pe.Failed) != 1 || pe.Table != "sales.orders" {
		t.Fatalf("err = %v, want a PartitionError for one partition", err)
	}
	if want := "glue table sales.orders: 1 partitions not added: [2026-11-02, b] InternalServiceException: try again"; err.Error() != want {
		t.Errorf("err = %q\nwant %q", err, want)
	}
	f.onBatch = func(*glue.BatchCreatePartitionInput) (*glue.BatchCreatePartitionOutput, error) {
		return nil, errors.New("connection reset")
	}
	if err := c.Register(ctx, manifest("tables/orders", "dt=2026-11-01/src=a")); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("a failed call: err = %v", err)
	}
}

// A CreateTable that loses the race to another writer reads the
// winner's table and goes on.
func TestRegisterCreateRace(t *testing.T) {
	f := &fakeGlue{}
	p := mustPlan(t, partitioned)
	f.onCreate = func(in *glue.CreateTableInput) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.table = tableOf(in.DatabaseName, in.TableInput, "1") // the other writer wins
		return &types.AlreadyExistsException{Message: aws.String("Table already exists.")}
	}
	c := mustNew(t, f, p, "s3://lake/tables/orders")
	if err := c.Register(ctx, manifest("tables/orders", "dt=2026-11-01/src=a")); err != nil {
		t.Fatal(err)
	}
	want := []string{"GetTable", "GetDatabase", "CreateTable", "GetTable", "BatchCreatePartition"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls %v, want %v", f.calls, want)
	}
}

// A schema change updates the table on the version it read, keeping the
// parameters sluice does not set; a stale version is read again.
func TestRegisterUpdatesChangedTable(t *testing.T) {
	f := &fakeGlue{}
	old := mustPlan(t, "{catalog: glue, table: {namespace: sales, name: orders}}")
	if err := mustNew(t, f, old, "s3://lake/o").Register(ctx, manifest("o")); err != nil {
		t.Fatal(err)
	}
	f.table.Parameters = mapsWith(f.table.Parameters, "projection.enabled", "false") // set by someone else
	raced := false
	api := &racingGlue{fakeGlue: f, beforeUpdate: func() {
		if !raced { // another writer updates the table first, once
			raced, f.table.VersionId = true, aws.String("7")
		}
	}}
	changed := mustPlan(t, "{format: csv, catalog: glue, table: {namespace: sales, name: orders}, csv: {delimiter: '|'}}")
	c := mustNew(t, api, changed, "s3://lake/o")
	if err := c.Register(ctx, manifest("o")); err != nil {
		t.Fatal(err)
	}
	want := []string{"GetTable", "GetDatabase", "CreateTable", "GetTable", "UpdateTable", "GetTable", "UpdateTable"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls %v, want %v (the first update on a stale version)", f.calls, want)
	}
	sd := f.table.StorageDescriptor
	if aws.ToString(sd.SerdeInfo.SerializationLibrary) != gluecatalog.CSVSerDe || sd.SerdeInfo.Parameters["separatorChar"] != "|" || aws.ToString(sd.Columns[0].Type) != "string" {
		t.Errorf("storage after the update: %v, columns %v", sd.SerdeInfo, columnsOf(sd.Columns))
	}
	if f.table.Parameters["projection.enabled"] != "false" || f.table.Parameters["skip.header.line.count"] != "1" || f.table.Parameters["classification"] != "csv" {
		t.Errorf("parameters after the update: %v", f.table.Parameters)
	}
	n := len(f.calls)
	if err := c.Register(ctx, manifest("o")); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.calls[n:], []string{"GetTable"}) {
		t.Errorf("an unchanged spec: calls %v, want GetTable only", f.calls[n:])
	}
}

func mapsWith(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for mk, mv := range m {
		out[mk] = mv
	}
	return out
}

// racingGlue runs beforeUpdate, under the fake's lock, before each
// UpdateTable: another writer's change.
type racingGlue struct {
	*fakeGlue
	beforeUpdate func()
}

func (r *racingGlue) UpdateTable(ctx context.Context, in *glue.UpdateTableInput, o ...func(*glue.Options)) (*glue.UpdateTableOutput, error) {
	r.mu.Lock()
	r.beforeUpdate()
	r.mu.Unlock()
	return r.fakeGlue.UpdateTable(ctx, in, o...)
}

// A table at another location or with other partition keys is left
// alone, with an error naming both.
func TestRegisterIncompatibleTable(t *testing.T) {
	f := &fakeGlue{}
	if err := mustNew(t, f, mustPlan(t, partitioned), "s3://lake/a").Register(ctx, manifest("a")); err != nil {
		t.Fatal(err)
	}
	c := mustNew(t, f, mustPlan(t, "{catalog: glue, table: {namespace: sales, name: orders}, partition_by: [{key: dt, field: day}]}"), "s3://lake/b")
	err := c.Register(ctx, manifest("b", "dt=2026-11-01"))
	var ie *gluecatalog.IncompatibleError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want an IncompatibleError", err)
	}
	want := "glue table sales.orders cannot take the spec's output: its location s3://lake/a/ is not this output's s3://lake/b/; its partition keys [dt, src] are not the spec's [dt]"
	if err.Error() != want {
		t.Errorf("err = %q\nwant %q", err, want)
	}
	if slices.Contains(f.calls, "UpdateTable") || len(f.batches) != 0 {
		t.Errorf("calls %v after an incompatible table", f.calls)
	}
}

func TestRegisterWithoutDatabase(t *testing.T) {
	f := &fakeGlue{noDatabase: true}
	err := mustNew(t, f, mustPlan(t, partitioned), "s3://lake/a").Register(ctx, manifest("a"))
	if !errors.Is(err, gluecatalog.ErrNoDatabase) || !strings.Contains(err.Error(), "glue table sales.orders: glue database not found: sales") {
		t.Errorf("err = %v", err)
	}
}

// A part outside the output prefix, or in a folder of other keys, is an
// error before any Glue call.
func TestRegisterRefusesForeignParts(t *testing.T) {
	for _, m := range []*output.Manifest{manifest("elsewhere", "dt=2026-11-01/src=a"), manifest("tables/orders", "dt=2026-11-01"), manifest("tables/orders", "src=a/dt=1")} {
		f := &fakeGlue{}
		err := mustNew(t, f, mustPlan(t, partitioned), "s3://lake/tables/orders").Register(ctx, m)
		if err == nil || len(f.calls) != 0 {
			t.Errorf("%s: err %v, calls %v", m.Parts[0].Key, err, f.calls)
		}
	}
}
