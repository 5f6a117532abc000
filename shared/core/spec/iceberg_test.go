package spec_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/shared/core/spec"
)

const icebergHead = "name: orders\nfields:\n  - {name: id, type: int, required: true}\n  - {name: at, type: timestamp}\n  - {name: d, type: date}\n  - {name: k}\n  - {name: gone, drop: true}\n"

func TestIcebergSinkDefaults(t *testing.T) {
	s, err := spec.Parse("s.yaml", []byte(icebergHead+"sink:\n  format: iceberg\n  partition_by:\n    - {key: at_day, field: at}\n    - {key: k, field: k}\n"))
	if err != nil {
		t.Fatal(err)
	}
	k := s.Sink
	if k.Catalog != spec.CatalogLocal || k.Table != (spec.TableRef{Namespace: "default", Name: "orders"}) {
		t.Errorf("catalog %q, table %+v", k.Catalog, k.Table)
	}
	if k.PartitionBy[0].Transform != spec.TransformDay || k.PartitionBy[1].Transform != spec.TransformIdentity {
		t.Errorf("transforms %q %q", k.PartitionBy[0].Transform, k.PartitionBy[1].Transform)
	}
	s, err = spec.Parse("s.yaml", []byte("fields: [{name: a}]\nsink: {format: iceberg, table: {name: t}}\n"))
	if err != nil || s.Sink.Table != (spec.TableRef{Namespace: spec.DefaultNamespace, Name: "t"}) {
		t.Errorf("table %+v, err %v", s.Sink.Table, err)
	}
	s, err = spec.Parse("s.yaml", []byte("fields: [{name: a}]\nsink: {format: iceberg}\n"))
	if err != nil || s.Sink.Table.Name != spec.DefaultTableName {
		t.Errorf("table %+v, err %v", s.Sink.Table, err)
	}
}

// On AWS a glue sink without a warehouse uses the stack's; the spec is
// valid, and the warehouse stays empty for the functions to fill in.
func TestGlueWithoutWarehouseIsTheStacks(t *testing.T) {
	s, err := spec.Parse("s.yaml", []byte("fields: [{name: a}]\nsink: {format: iceberg, catalog: glue}\n"))
	if err != nil || s.Sink.Catalog != spec.CatalogGlue || s.Sink.Warehouse != "" {
		t.Errorf("sink %+v, err %v", s.Sink, err)
	}
}

func TestIcebergSinkErrors(t *testing.T) {
	tests := []struct {
		name, sink string
		want       wantErr
	}{
		{"bad catalog", "{format: iceberg, catalog: hive}", wantErr{8, "sink.catalog", `unknown catalog "hive" (want local or glue)`}},
		{"glue on a folder", "{format: iceberg, catalog: glue, warehouse: lake}", wantErr{8, "sink.warehouse", `must be s3://bucket[/prefix], not "lake"`}},
		{"glue without bucket", "{format: iceberg, catalog: glue, warehouse: 's3:///p'}", wantErr{8, "sink.warehouse", "must be s3://bucket[/prefix]"}},
		{"local on s3", "{format: iceberg, warehouse: 's3://b/p'}", wantErr{8, "sink.warehouse", "use catalog glue for s3://"}},
		{"bad namespace", "{format: iceberg, table: {namespace: a-b, name: t}}", wantErr{8, "sink.table.namespace", `namespace "a-b" must be`}},
		{"bad table key", "{format: iceberg, table: {schema: a}}", wantErr{8, "sink.table.schema", `unknown key "schema"`}},
		{"bad transform", "{format: iceberg, partition_by: [{key: p, field: at, transform: week}]}", wantErr{8, "sink.partition_by[0].transform", `unknown transform "week" (want identity, hour, day or month)`}},
		{"hour of a date", "{format: iceberg, partition_by: [{key: p, field: d, transform: hour}]}", wantErr{8, "sink.partition_by[0].transform", "hour applies to timestamp fields only"}},
		{"month of a string", "{format: iceberg, partition_by: [{key: p, field: k, transform: month}]}", wantErr{8, "sink.partition_by[0].transform", "month applies to timestamp and date fields only"}},
		{"identity of a timestamp", "{format: iceberg, partition_by: [{key: p, field: at, transform: identity}]}", wantErr{8, "sink.partition_by[0].transform", "not identity"}},
		{"layout", "{format: iceberg, partition_by: [{key: p, field: at, layout: '2006'}]}", wantErr{8, "sink.partition_by[0].layout", "by transform, not layout"}},
		{"key is another field", "{format: iceberg, partition_by: [{key: id, field: at}]}", wantErr{8, "sink.partition_by[0].key", `"id" is a field name`}},
		{"transform on parquet", "{format: parquet, partition_by: [{key: p, field: at, transform: day}]}", wantErr{8, "sink.partition_by[0].transform", "iceberg sink only"}},
		{"catalog on parquet", "{format: parquet, catalog: local}", wantErr{8, "sink.catalog", "iceberg sink only"}},
		{"dropped field", "{format: iceberg, partition_by: [{key: p, field: gone}]}", wantErr{8, "sink.partition_by[0].field", `"gone" is dropped`}},
		{"lz4", "{format: iceberg, compression: lz4}", wantErr{8, "sink.compression", "want zstd, snappy, gzip or none for iceberg"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spec.Parse("bad.yaml", []byte(icebergHead+"sink: "+tc.sink+"\n"))
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

// A dynamodb sink's table stays a bare string in the spec's JSON, so its
// spec hash (and run ids) did not change with the iceberg sink.
func TestTableRefJSON(t *testing.T) {
	for _, tc := range []struct {
		ref  spec.TableRef
		want string
	}{
		{spec.TableRef{Name: "orders"}, `"orders"`},
		{spec.TableRef{Namespace: "lake", Name: "orders"}, `{"namespace":"lake","name":"orders"}`},
	} {
		data, err := json.Marshal(tc.ref)
		if err != nil || string(data) != tc.want {
			t.Errorf("%+v = %s %v, want %s", tc.ref, data, err, tc.want)
		}
	}
	data, _ := json.Marshal(spec.Sink{})
	if strings.Contains(string(data), "table") || strings.Contains(string(data), "catalog") || strings.Contains(string(data), "warehouse") {
		t.Errorf("an empty sink marshals as %s", data)
	}
}

func TestSchemaAcceptsIcebergSpecs(t *testing.T) {
	sch := compileSchema(t)
	for _, src := range []string{
		icebergHead + "sink: {format: iceberg, catalog: local, warehouse: lake, table: {namespace: n, name: t}, compression: snappy, partition_by: [{key: p, field: at, transform: hour}]}\n",
		icebergHead + "sink: {format: dynamodb, table: t, key: [id]}\n",
		icebergHead + "sink: {format: iceberg, catalog: glue, warehouse: 's3://lake/tables', table: {namespace: n, name: t}}\n",
	} {
		if _, err := spec.Parse("s.yaml", []byte(src)); err != nil {
			t.Errorf("loader: %v", err)
		}
		if err := sch.Validate(instance(t, src)); err != nil {
			t.Errorf("schema: %v", err)
		}
	}
	bad := icebergHead + "sink: {format: iceberg, partition_by: [{key: p, field: at, transform: week}]}\n"
	if err := sch.Validate(instance(t, bad)); err == nil {
		t.Errorf("schema accepts transform week")
	}
}

func TestStreamCommitPolicy(t *testing.T) {
	s, err := spec.Parse("s.yaml", []byte("fields: [{name: a}]\nsink: {format: iceberg}\n"))
	if err != nil || s.Stream.CommitInterval != spec.DefaultCommitInterval || s.Stream.CommitFiles != spec.DefaultCommitFiles {
		t.Fatalf("defaults %+v, %v", s.Stream, err)
	}
	for body, want := range map[string]string{
		"sink: {format: iceberg}\nstream: {commit_interval: 100ms}\n": "stream.commit_interval: must be from 1s to 24h0m0s, not 100ms",
		"sink: {format: iceberg}\nstream: {commit_files: 20000}\n":    "stream.commit_files: must be from 1 to 10000, not 20000",
		"sink: {format: jsonl}\nstream: {commit_files: 5}\n":          "stream: commit_interval and commit_files apply to the iceberg sink only",
	} {
		_, err := spec.Parse("s.yaml", []byte("fields: [{name: a}]\n"+body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

func TestCompactOptions(t *testing.T) {
	s, err := spec.Parse("s.yaml", []byte("fields: [{name: a}]\nsink: {format: parquet}\n"))
	if err != nil || s.Sink.Compact != (spec.Compact{}) || s.Sink.Compact.TargetBytesOrDefault() != 128<<20 || s.Sink.Compact.MinFilesOrDefault() != 2 {
		t.Fatalf("defaults %+v, %v", s.Sink.Compact, err)
	}
	s, err = spec.Parse("s.yaml", []byte("fields: [{name: a}]\nsink: {format: jsonl, compact: {target_bytes: 64MiB, min_files: 10, min_age: 10m}}\n"))
	if err != nil || s.Sink.Compact.TargetBytes != 64<<20 || s.Sink.Compact.MinFiles != 10 || s.Sink.Compact.MinAge != spec.Duration(10*time.Minute) {
		t.Fatalf("compact %+v, %v", s.Sink.Compact, err)
	}
	for body, want := range map[string]string{
		"{format: jsonl, compact: {target_bytes: 1KiB}}":                  "sink.compact.target_bytes: must be at least 1MiB, not 1024 bytes",
		"{format: jsonl, compact: {min_files: 1}}":                        "sink.compact.min_files: must be at least 2, not 1",
		"{format: dynamodb, table: t, key: [a], compact: {min_files: 5}}": "sink.compact: compaction applies to file and iceberg sinks, not dynamodb",
		"{format: jsonl, compact: {min_age: -1m}}":                        "sink.compact.min_age: must not be negative",
	} {
		_, err := spec.Parse("s.yaml", []byte("fields: [{name: a}]\nsink: "+body+"\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}
