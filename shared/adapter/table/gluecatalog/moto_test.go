package gluecatalog_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-etl/sluice/internal/lakeread"
	"github.com/sluice-etl/sluice/internal/motoserver"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/adapter/storage/s3blob"
	"github.com/sluice-etl/sluice/shared/adapter/table/gluecatalog"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// motoFields are the orders the moto tests run: source is dropped, and
// partitions only.
const motoFields = `name: orders
source: {format: csv}
fields:
  - {name: id, type: int, required: true}
  - {name: day, type: date}
  - {name: qty, type: int}
  - {name: price, type: decimal, scale: 2}
  - {name: Note}
  - {name: at, type: timestamp}
  - {name: source, drop: true}
`

// typedColumns are the Glue columns of motoFields for jsonl and parquet.
var typedColumns = []col{{"id", "bigint", ""}, {"day", "date", ""}, {"qty", "bigint", ""}, {"price", "decimal(18,2)", ""},
	{"note", "string", ""}, {"at", "timestamp", ""}}

// input is one generated input file and what sluice must make of it.
type input struct {
	key  string
	data []byte
	// out, qty: the rows kept and the sum of their qty; partitions: the
	// (day, source) of the kept rows, source "" being null.
	out, qty   int64
	partitions map[[2]string]bool
}

// newInput writes n orders starting at id first over days. Every 11th
// row has a qty that is not a number (rejected), every 7th none (null);
// notes hold the delimiters and quotes CSV output must quote.
func newInput(t testing.TB, key string, first int, days []string, n int) *input {
	t.Helper()
	in := &input{key: key, partitions: map[[2]string]bool{}}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"id", "day", "qty", "price", "Note", "at", "source"})
	notes := []string{"plain", "has, comma; semi", `say "hi"`, " lead space", ""}
	sources := []string{"web", "shop/eu", ""}
	for i := range n {
		day, source := days[i%len(days)], sources[i%3]
		qty := strconv.Itoa(i%9 + 1)
		switch {
		case i%11 == 5:
			qty = "x"
		case i%7 == 3:
			qty = ""
		}
		at := fmt.Sprintf("%sT%02d:15:00Z", day, i%24)
		_ = w.Write([]string{strconv.Itoa(first + i), day, qty, fmt.Sprintf("%d.%02d", i%50, i%100), notes[i%5], at, source})
		if qty == "x" {
			continue
		}
		in.out++
		if q, err := strconv.Atoi(qty); err == nil {
			in.qty += int64(q)
		}
		in.partitions[[2]string{day, source}] = true
	}
	w.Flush()
	in.data = b.Bytes()
	return in
}

// motoEnv is one table on moto: a bucket, a database, and the inputs.
type motoEnv struct {
	t        *testing.T
	cfg      aws.Config
	glue     *glue.Client
	out      storage.Bucket
	in       *memblob.Bucket
	bucket   string
	db, name string
	prefix   string
}

func newMotoEnv(t *testing.T, cfg aws.Config, name string) *motoEnv {
	t.Helper()
	e := &motoEnv{t: t, cfg: cfg, glue: glue.NewFromConfig(cfg), in: memblob.New(), bucket: "lake-" + name, db: "db_" + name, name: "orders", prefix: "tables/orders"}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &e.bucket}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.glue.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &types.DatabaseInput{Name: &e.db}}); err != nil {
		t.Fatal(err)
	}
	e.out = s3blob.New(s3c, e.bucket)
	return e
}

// spec is motoFields with sink, whose table is the env's.
func (e *motoEnv) spec(sink string, extra ...string) *plan.Plan {
	e.t.Helper()
	sink = strings.Replace(sink, "{", fmt.Sprintf("{catalog: glue, table: {namespace: %s, name: %s}, ", e.db, e.name), 1)
	p, err := plan.FromBytes("spec.yaml", []byte(motoFields+strings.Join(extra, "")+"sink: "+sink+"\n"))
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// run runs in through p into the env's output and registers it, with
// the rejects where sluice run puts them for a Glue table.
func (e *motoEnv) run(p *plan.Plan, in *input) *output.Manifest {
	e.t.Helper()
	if err := storage.WriteAll(ctx, e.in, in.key, in.data); err != nil {
		e.t.Fatal(err)
	}
	cat, err := gluecatalog.New(e.glue, p.Spec, &p.Out, "s3://"+e.bucket+"/"+e.prefix)
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := batch.Run(ctx, p, batch.RunOptions{Input: e.in, Key: in.key, Output: e.out, OutPrefix: e.prefix,
		RejectsPrefix: layout.TableRejects(e.prefix), Catalog: cat})
	if err != nil {
		e.t.Fatalf("run %s: %v", in.key, err)
	}
	if m.Out != in.out || m.Rejected == 0 {
		e.t.Fatalf("run %s: out %d, rejected %d; want out %d and some rejects", in.key, m.Out, m.Rejected, in.out)
	}
	return m
}

func (e *motoEnv) table() *types.Table {
	e.t.Helper()
	out, err := e.glue.GetTable(ctx, &glue.GetTableInput{DatabaseName: &e.db, Name: &e.name})
	if err != nil {
		e.t.Fatal(err)
	}
	return out.Table
}

// creationTimes are the partitions' creation times by values.
func (e *motoEnv) creationTimes() map[string]time.Time {
	e.t.Helper()
	out, err := e.glue.GetPartitions(ctx, &glue.GetPartitionsInput{DatabaseName: &e.db, TableName: &e.name})
	if err != nil {
		e.t.Fatal(err)
	}
	times := map[string]time.Time{}
	for _, p := range out.Partitions {
		times[strings.Join(p.Values, "/")] = aws.ToTime(p.CreationTime)
	}
	return times
}

// check reads the table back through Glue with DuckDB: the partitions
// are exactly those of the inputs, each partition's location holds the
// files the runs published there and nothing else is read, and the rows
// and their qty sum are the inputs' kept rows.
func (e *motoEnv) check(levels int, runs []*output.Manifest, inputs ...*input) {
	e.t.Helper()
	got := lakeread.ReadGlue(e.t, e.cfg, e.db, e.name, "qty")
	want := map[string]bool{}
	var rows, qty int64
	for _, in := range inputs {
		rows, qty = rows+in.out, qty+in.qty
		for p := range in.partitions {
			want[partitionValues(levels, p)] = levels > 0
		}
	}
	if wantParts := slices.Sorted(maps.Keys(want)); levels > 0 && !slices.Equal(got.Partitions, wantParts) {
		e.t.Errorf("partitions in Glue\n got %v\nwant %v", got.Partitions, wantParts)
	}
	var keys []string
	for _, m := range runs {
		for _, part := range m.Parts {
			keys = append(keys, part.Key)
			e.inItsLocation(got, part.Key)
		}
	}
	slices.Sort(keys)
	if !slices.Equal(got.Keys, keys) {
		e.t.Errorf("files under the registered locations\n got %v\nwant %v", got.Keys, keys)
	}
	if got.Count != rows || got.Sum != strconv.FormatInt(qty, 10) {
		e.t.Errorf("DuckDB read %d rows, sum(qty) %s; want %d, %d", got.Count, got.Sum, rows, qty)
	}
}

// partitionValues are the Glue values of a (day, source) partition with
// levels partition keys: dt, then src.
func partitionValues(levels int, p [2]string) string {
	if p[1] == "" {
		p[1] = layout.HiveNull
	}
	return strings.Join(p[:levels], "/")
}

// inItsLocation checks that a part lies in the location Glue registered
// for its partition folder's values.
func (e *motoEnv) inItsLocation(got lakeread.GlueResult, key string) {
	e.t.Helper()
	folder, err := layout.PartitionOf(e.prefix, key)
	if err != nil {
		e.t.Fatal(err)
	}
	levels, _ := layout.ParsePartition(folder)
	var values []string
	for _, l := range levels {
		values = append(values, l.Value)
	}
	loc := "s3://" + e.bucket + "/" + layout.PartitionPrefix(e.prefix, folder)
	i := slices.Index(got.Partitions, strings.Join(values, "/"))
	switch {
	case len(levels) == 0 && got.Locations[0] == loc:
	case i < 0:
		e.t.Errorf("%s: no partition %v in Glue", key, values)
	case got.Locations[i] != loc:
		e.t.Errorf("%s: partition %v is at %s, want %s", key, values, got.Locations[i], loc)
	}
}

func (e *motoEnv) checkColumns(want []col, partitionKeys ...string) {
	e.t.Helper()
	tbl := e.table()
	if got := columnsOf(tbl.StorageDescriptor.Columns); !slices.Equal(got, want) {
		e.t.Errorf("columns in Glue\n got %v\nwant %v", got, want)
	}
	var keys []col
	for _, k := range partitionKeys {
		keys = append(keys, col{k, "string", ""})
	}
	if got := columnsOf(tbl.PartitionKeys); !slices.Equal(got, keys) {
		e.t.Errorf("partition keys in Glue %v, want %v", got, keys)
	}
	if loc := aws.ToString(tbl.StorageDescriptor.Location); loc != "s3://"+e.bucket+"/tables/orders/" || aws.ToString(tbl.TableType) != "EXTERNAL_TABLE" {
		e.t.Errorf("location %s, type %s", loc, aws.ToString(tbl.TableType))
	}
}

func (e *motoEnv) checkSerDe(lib string, params map[string]string) {
	e.t.Helper()
	s := e.table().StorageDescriptor.SerdeInfo
	if aws.ToString(s.SerializationLibrary) != lib || !maps.Equal(s.Parameters, params) {
		e.t.Errorf("serde %s %v, want %s %v", aws.ToString(s.SerializationLibrary), s.Parameters, lib, params)
	}
}

var days = []string{"2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"}

// Each format on moto's Glue and S3: a first run creates the table and
// its partitions; a run of another input adds only its new partitions; a
// rerun of the first adds nothing, changes nothing and succeeds. After
// each, DuckDB reads every registered location.
func TestRegisteredRunsOnMoto(t *testing.T) {
	cfg := motoserver.ForTest(t)
	lakeread.RequireDuckDB(t)
	tests := []struct {
		name, sink string
		levels     int
		cols       []col
		lib        string
		serde      map[string]string
	}{
		{"jsonl", "{format: jsonl, compression: gzip, partition_by: [{key: dt, field: day}, {key: src, field: source}]}", 2,
			typedColumns, gluecatalog.JSONSerDe, map[string]string{"case.insensitive": "TRUE"}},
		{"csv", "{format: csv, compression: zstd, csv: {delimiter: ';'}, partition_by: [{key: dt, field: day}]}", 1,
			textColumns(), gluecatalog.CSVSerDe, map[string]string{"separatorChar": ";", "quoteChar": `"`, "escapeChar": `\`}},
		{"parquet", "{format: parquet, max_rows_per_file: 40}", 0,
			typedColumns, gluecatalog.ParquetSerDe, map[string]string{"serialization.format": "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newMotoEnv(t, cfg, tc.name)
			p := e.spec(tc.sink)
			keys := []string{"dt", "src"}[:tc.levels]
			a := newInput(t, "a.csv", 1, days[:2], 120)
			b := newInput(t, "b.csv", 1000, days[1:], 90)
			ma := e.run(p, a)
			e.checkColumns(tc.cols, keys...)
			e.checkSerDe(tc.lib, tc.serde)
			e.check(tc.levels, []*output.Manifest{ma}, a)
			first, version := e.creationTimes(), aws.ToString(e.table().VersionId)

			mb := e.run(p, b)
			e.check(tc.levels, []*output.Manifest{ma, mb}, a, b)
			second := e.creationTimes()
			for values, at := range first {
				if !second[values].Equal(at) {
					t.Errorf("partition %s was created again by the second run", values)
				}
			}
			if tc.levels > 0 && len(second) <= len(first) {
				t.Errorf("the second run added no partition: %d, then %d", len(first), len(second))
			}

			again := e.run(p, a)
			if again.RunID != ma.RunID {
				t.Fatalf("the rerun has run id %s, the first run %s", again.RunID, ma.RunID)
			}
			e.check(tc.levels, []*output.Manifest{again, mb}, a, b)
			if !maps.EqualFunc(e.creationTimes(), second, time.Time.Equal) || aws.ToString(e.table().VersionId) != version {
				t.Errorf("the rerun changed the partitions or the table (version %s, was %s)", aws.ToString(e.table().VersionId), version)
			}
		})
	}
}

func textColumns() []col {
	var out []col
	for _, c := range typedColumns {
		out = append(out, col{c.name, "string", c.typ})
	}
	return out
}

// A schema change in the spec updates the table with UpdateTable,
// keeping the parameters someone else set and the partitions already
// registered; DuckDB reads the old and the new files.
func TestSchemaChangeUpdatesTableOnMoto(t *testing.T) {
	cfg := motoserver.ForTest(t)
	lakeread.RequireDuckDB(t)
	e := newMotoEnv(t, cfg, "evolve")
	sink := "{format: jsonl, partition_by: [{key: dt, field: day}]}"
	a, b := newInput(t, "a.csv", 1, days[:2], 60), newInput(t, "b.csv", 500, days[2:], 60)
	ma := e.run(e.spec(sink), a)
	tbl := e.table()
	in := &types.TableInput{Name: tbl.Name, TableType: tbl.TableType, PartitionKeys: tbl.PartitionKeys,
		StorageDescriptor: tbl.StorageDescriptor, Parameters: maps.Clone(tbl.Parameters)}
	in.Parameters["comment"] = "orders, by sluice"
	if _, err := e.glue.UpdateTable(ctx, &glue.UpdateTableInput{DatabaseName: &e.db, TableInput: in}); err != nil {
		t.Fatal(err)
	}
	version := aws.ToString(e.table().VersionId)

	evolved := e.spec(sink, "derive:\n  - {name: id2, expr: id * 2, type: int}\n")
	mb := e.run(evolved, b)
	tbl = e.table()
	e.checkColumns(append(slices.Clone(typedColumns), col{"id2", "bigint", ""}), "dt")
	if aws.ToString(tbl.VersionId) == version || tbl.Parameters["comment"] != "orders, by sluice" || tbl.Parameters["classification"] != "json" {
		t.Errorf("after the schema change: version %s (was %s), parameters %v", aws.ToString(tbl.VersionId), version, tbl.Parameters)
	}
	e.check(1, []*output.Manifest{ma, mb}, a, b)
	newer := aws.ToString(tbl.VersionId)
	e.run(evolved, b)
	if v := aws.ToString(e.table().VersionId); v != newer {
		t.Errorf("a rerun with the same spec updated the table again: version %s, was %s", v, newer)
	}
}

// partitionColumns are the columns of each partition's storage
// descriptor, by the partition's values.
func (e *motoEnv) partitionColumns() map[string][]col {
	e.t.Helper()
	out, err := e.glue.GetPartitions(ctx, &glue.GetPartitionsInput{DatabaseName: &e.db, TableName: &e.name})
	if err != nil {
		e.t.Fatal(err)
	}
	cols := map[string][]col{}
	for _, p := range out.Partitions {
		cols[strings.Join(p.Values, "/")] = columnsOf(p.StorageDescriptor.Columns)
	}
	return cols
}

// setColumnType changes a column of the table as another tool would:
// its type, or for csv its comment, to typ.
func (e *motoEnv) setColumnType(name, typ string, csv bool) {
	e.t.Helper()
	tbl := e.table()
	sd := *tbl.StorageDescriptor
	sd.Columns = slices.Clone(sd.Columns)
	for i, c := range sd.Columns {
		if aws.ToString(c.Name) != name {
			continue
		}
		if csv {
			sd.Columns[i].Comment = aws.String(typ)
		} else {
			sd.Columns[i].Type = aws.String(typ)
		}
	}
	in := &types.TableInput{Name: tbl.Name, TableType: tbl.TableType, PartitionKeys: tbl.PartitionKeys, StorageDescriptor: &sd, Parameters: tbl.Parameters}
	if _, err := e.glue.UpdateTable(ctx, &glue.UpdateTableInput{DatabaseName: &e.db, TableInput: in}); err != nil {
		e.t.Fatal(err)
	}
}

// Each format's table evolves on moto as the spec does: qty, made an
// int by another tool, is widened back to bigint; a derived id2 is
// added at the end; jsonl and parquet stop writing note, which stays in
// the table (csv, read by position, keeps writing it). The partitions
// added before keep their columns, those added after carry the table's,
// and DuckDB, reading every registered file by column name, finds every
// row, the qty of both runs and id2 null in the first run's rows only.
func TestSchemaEvolutionOnMoto(t *testing.T) {
	cfg := motoserver.ForTest(t)
	lakeread.RequireDuckDB(t)
	for _, tc := range []struct {
		name, sink string
		dropNote   bool
		before     []col
	}{
		{"jsonl", "{format: jsonl, partition_by: [{key: dt, field: day}]}", true, typedColumns},
		{"parquet", "{format: parquet, partition_by: [{key: dt, field: day}]}", true, typedColumns},
		{"csv", "{format: csv, partition_by: [{key: dt, field: day}]}", false, textColumns()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newMotoEnv(t, cfg, "evo"+tc.name)
			a, b := newInput(t, "a.csv", 1, days[:2], 60), newInput(t, "b.csv", 500, days[2:], 60)
			e.run(e.spec(tc.sink), a)
			e.setColumnType("qty", "int", tc.name == "csv")

			evolved := e.spec(tc.sink, "derive:\n  - {name: id2, expr: id * 2, type: int}\n")
			want := append(slices.Clone(tc.before), col{"id2", "bigint", ""})
			if tc.name == "csv" {
				want[len(want)-1] = col{"id2", "string", "bigint"}
			}
			if tc.dropNote {
				fields := strings.Replace(motoFields, "  - {name: Note}\n", "", 1)
				p, err := plan.FromBytes("spec.yaml", []byte(fields+"derive:\n  - {name: id2, expr: id * 2, type: int}\n"+
					"sink: "+strings.Replace(tc.sink, "{", fmt.Sprintf("{catalog: glue, table: {namespace: %s, name: %s}, ", e.db, e.name), 1)+"\n"))
				if err != nil {
					t.Fatal(err)
				}
				evolved = p
			}
			e.run(evolved, b)
			e.checkColumns(want, "dt")
			for values, cols := range e.partitionColumns() {
				if old := values <= days[1]; old && !slices.Equal(cols, tc.before) || !old && !slices.Equal(cols, want) {
					t.Errorf("partition %s has columns %v; want the first spec's for the first run's partitions, the table's after", values, cols)
				}
			}
			got := lakeread.ReadGlueNulls(t, cfg, e.db, e.name, "qty", "id2")
			if got.Count != a.out+b.out || got.Sum != strconv.FormatInt(a.qty+b.qty, 10) || got.Nulls != a.out {
				t.Errorf("DuckDB read %d rows, sum(qty) %s, id2 null in %d; want %d, %d, %d", got.Count, got.Sum, got.Nulls, a.out+b.out, a.qty+b.qty, a.out)
			}
		})
	}
}
