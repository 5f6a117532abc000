package spec_test

import (
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/spec"
)

// glueHead declares the output columns id, at, d, k and the derived
// total; gone is dropped.
const glueHead = "name: orders\nfields:\n  - {name: id, type: int, required: true}\n  - {name: at, type: timestamp}\n  - {name: d, type: date}\n  - {name: k}\n  - {name: gone, drop: true}\nderive:\n  - {name: total, expr: id * 2, type: int}\n"

func TestGlueRegistrationAccepted(t *testing.T) {
	for _, sink := range []string{
		"{format: jsonl, catalog: glue, table: {namespace: sales, name: orders}}",
		"{catalog: glue, table: {namespace: sales_2, name: orders_v1}, compression: gzip}",
		"{format: csv, catalog: glue, table: {namespace: s, name: t}, csv: {delimiter: ';'}}",
		"{format: parquet, catalog: glue, table: {namespace: s, name: t}, partition_by: [{key: dt, field: at}, {key: gone, field: gone}]}",
		"{format: parquet}",
	} {
		s, err := spec.Parse("s.yaml", []byte(glueHead+"sink: "+sink+"\n"))
		if err != nil {
			t.Errorf("%s: %v", sink, err)
			continue
		}
		// No defaults: a plain sink registers nowhere unless it says so.
		if !strings.Contains(sink, "glue") && (s.Sink.Catalog != "" || s.Sink.Table != (spec.TableRef{})) {
			t.Errorf("%s: catalog %q, table %+v", sink, s.Sink.Catalog, s.Sink.Table)
		}
	}
}

func TestGlueRegistrationErrors(t *testing.T) {
	tests := []struct {
		name, sink string
		want       wantErr
	}{
		{"local on jsonl", "{format: jsonl, catalog: local, table: {namespace: s, name: t}}", wantErr{10, "sink.catalog", "catalog local applies to the iceberg sink only; a jsonl sink registers its output with catalog glue"}},
		{"local on the default format", "{catalog: local}", wantErr{10, "sink.catalog", "a jsonl sink registers"}},
		{"unknown catalog", "{format: csv, catalog: hive}", wantErr{10, "sink.catalog", `unknown catalog "hive" (want local or glue)`}},
		{"glue without table", "{format: parquet, catalog: glue}", wantErr{10, "sink.table", "catalog glue needs table: {namespace, name}, the Glue database and table"}},
		{"glue with a bare table", "{format: parquet, catalog: glue, table: orders}", wantErr{10, "sink.table", "catalog glue needs table: {namespace, name}"}},
		{"glue without name", "{format: parquet, catalog: glue, table: {namespace: s}}", wantErr{10, "sink.table", "catalog glue needs table"}},
		{"upper-case database", "{format: csv, catalog: glue, table: {namespace: Sales, name: t}}", wantErr{10, "sink.table.namespace", `database name "Sales" must be lowercase letters, digits or _`}},
		{"dash in table", "{format: csv, catalog: glue, table: {namespace: s, name: my-t}}", wantErr{10, "sink.table.name", `table name "my-t" must be lowercase letters, digits or _`}},
		{"table without catalog", "{format: parquet, table: {namespace: s, name: t}}", wantErr{10, "sink.table", "table applies to a parquet sink with catalog glue"}},
		{"warehouse on parquet", "{format: parquet, catalog: glue, table: {namespace: s, name: t}, warehouse: 's3://b/p'}", wantErr{10, "sink.warehouse", "warehouse applies to the iceberg sink only"}},
		{"catalog on dynamodb", "{format: dynamodb, table: t, key: [id], catalog: glue}", wantErr{10, "sink.catalog", "not dynamodb"}},
		{"upper-case partition key", "{format: jsonl, catalog: glue, table: {namespace: s, name: t}, partition_by: [{key: Day, field: at}]}", wantErr{10, "sink.partition_by[0].key", `partition key "Day" must be lowercase letters, digits or _ with catalog glue`}},
		{"partition key is a column", "{format: jsonl, catalog: glue, table: {namespace: s, name: t}, partition_by: [{key: k, field: k}]}", wantErr{10, "sink.partition_by[0].key", `partition key "k" is the output column "k"`}},
		{"partition key is a derived column", "{format: jsonl, catalog: glue, table: {namespace: s, name: t}, partition_by: [{key: total, field: k}]}", wantErr{10, "sink.partition_by[0].key", `output column "total"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spec.Parse("bad.yaml", []byte(glueHead+"sink: "+tc.sink+"\n"))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			got := specErrors(t, err)
			if len(got) != 1 {
				t.Fatalf("got %d errors: %v", len(got), err)
			}
			e, w := got[0], tc.want
			if e.Line != w.line || e.Key != w.key || !strings.Contains(e.Msg, w.msg) {
				t.Errorf("error = %d %q %q, want %d %q containing %q", e.Line, e.Key, e.Msg, w.line, w.key, w.msg)
			}
		})
	}
}

// Two fields that differ in case only would be one Glue column.
func TestGlueColumnsDistinct(t *testing.T) {
	src := "fields:\n  - {name: Amount}\n  - {name: amount}\nsink: {catalog: glue, table: {namespace: s, name: t}}\n"
	_, err := spec.Parse("bad.yaml", []byte(src))
	got := specErrors(t, err)
	if len(got) != 1 || got[0].Key != "fields[1].name" || got[0].Line != 3 || !strings.Contains(got[0].Msg, `fields "Amount" and "amount" are one Glue column, "amount"`) {
		t.Errorf("errors = %v", err)
	}
}

func TestSchemaAcceptsGlueRegistration(t *testing.T) {
	sch := compileSchema(t)
	good := glueHead + "sink: {format: csv, catalog: glue, table: {namespace: sales, name: orders_1}, partition_by: [{key: dt, field: at}]}\n"
	if _, err := spec.Parse("s.yaml", []byte(good)); err != nil {
		t.Errorf("loader: %v", err)
	}
	if err := sch.Validate(instance(t, good)); err != nil {
		t.Errorf("schema: %v", err)
	}
	for _, bad := range []string{
		"{format: csv, catalog: glue}",
		"{format: csv, catalog: glue, table: {namespace: Sales, name: orders}}",
		"{catalog: glue, table: {name: orders}}",
		"{format: parquet, catalog: local}",
		"{format: parquet, catalog: glue, table: {namespace: s, name: t}, warehouse: 's3://b/p'}",
		"{format: jsonl, catalog: glue, table: {namespace: s, name: t}, partition_by: [{key: Day, field: at}]}",
	} {
		src := glueHead + "sink: " + bad + "\n"
		if _, err := spec.Parse("s.yaml", []byte(src)); err == nil {
			t.Errorf("loader accepts %s", bad)
		}
		if err := sch.Validate(instance(t, src)); err == nil {
			t.Errorf("schema accepts %s", bad)
		}
	}
}
