package spectest_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/pipeline/spectest"
)

// formatSpec is a spec with a field of every type; %SOURCE% and %SINK%
// are replaced by each test's own.
const formatSpec = `
version: 1
name: formats
source: %SOURCE%
fields:
  - {name: id, type: int, required: true}
  - {name: name}
  - {name: amount, type: decimal, scale: 2}
  - {name: ratio, type: float}
  - {name: ok, type: bool}
  - {name: at, type: timestamp}
  - {name: day, type: date}
  - {name: note, clean: [{null_if: ["-"]}]}
derive:
  - {name: cents, expr: round(amount * 100), type: int}
sink: %SINK%
tests:
  - name: every type
    input: %INPUT%
    expect:
      rows:
        - {id: 1, name: ann, amount: 1.5, ratio: 0.25, ok: true, at: "2026-11-01T09:00:00Z", day: 2026-11-01, note: null, cents: 150}
        - {id: 2, name: bob, amount: "20.00", ratio: 1e-7, ok: false, at: "2026-11-01 10:00:00", day: 2026-11-02, note: hi, cents: 2000}
`

const csvInput = `{csv: "id,name,amount,ratio,ok,at,day,note\n1,ann,1.5,0.25,true,2026-11-01T09:00:00Z,2026-11-01,-\n2,bob,20,1e-7,false,2026-11-01 10:00:00,2026-11-02,hi\n"}`

const jsonInput = `{json: [{id: 1, name: ann, amount: 1.5, ratio: 0.25, ok: true, at: "2026-11-01T09:00:00Z", day: "2026-11-01", note: "-"},
      {id: 2, name: bob, amount: 20, ratio: 1e-7, ok: false, at: "2026-11-01 10:00:00", day: "2026-11-02", note: hi}]}`

// Each sink's output is read back in its own format, and each source
// takes the case's records as its format and compression read them.
func TestFormats(t *testing.T) {
	tests := []struct {
		name, source, sink, input string
	}{
		{"jsonl sink", "{format: csv}", "{format: jsonl}", csvInput},
		{"jsonl sink, gzip", "{format: csv}", "{format: jsonl, compression: gzip}", csvInput},
		{"csv sink", "{format: csv}", "{format: csv, csv: {delimiter: ';'}}", csvInput},
		{"csv sink, zstd", "{format: csv}", "{format: csv, compression: zstd}", csvInput},
		{"parquet sink", "{format: csv}", "{format: parquet, partition_by: [{key: day, field: day}]}", csvInput},
		{"iceberg sink", "{format: csv}", "{format: iceberg, table: {namespace: t, name: formats}, partition_by: [{key: day, field: day}]}", csvInput},
		{"dynamodb sink", "{format: csv}", "{format: dynamodb, table: formats, key: [id]}", csvInput},
		{"csv source, gzip", "{format: csv, compression: gzip}", "{format: jsonl}", csvInput},
		{"jsonl source, zstd", "{format: jsonl, compression: zstd}", "{format: jsonl}", jsonInput},
		{"json document source", "{format: json}", "{format: jsonl}", jsonInput},
		{"auto source", "{format: auto}", "{format: jsonl}", jsonInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.NewReplacer("%SOURCE%", tc.source, "%SINK%", tc.sink, "%INPUT%", tc.input).Replace(formatSpec)
			p, err := plan.FromBytes("formats.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			r := spectest.Run(context.Background(), p, &p.Spec.Tests[0])
			if !r.Passed() {
				t.Fatalf("err %v, diffs:\n%s", r.Err, strings.Join(r.Diffs, "\n"))
			}
			// The same case with one value wrong: exactly that difference.
			wrong := strings.Replace(src, `{id: 2, name: bob, amount: "20.00"`, `{id: 2, name: bo, amount: "20.00"`, 1)
			p, err = plan.FromBytes("formats.yaml", []byte(wrong))
			if err != nil {
				t.Fatal(err)
			}
			r = spectest.Run(context.Background(), p, &p.Spec.Tests[0])
			if got := strings.Join(r.Diffs, "\n"); r.Err != nil || got != `row 2 field name: want "bo", got "bob"` {
				t.Errorf("err %v, diffs:\n%s", r.Err, got)
			}
		})
	}
}
