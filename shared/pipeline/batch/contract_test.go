package batch_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/fileblob"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// The inputs of the unknown column cases: four records with id and name,
// two of which have something in a column or key no field reads. In the
// CSV the first row's extra is empty, which is no value; in the JSON the
// fourth record's extra is null, which is a key present.
var unknownInputs = map[codec.Format]string{
	codec.FormatCSV: "id,name,extra\n1,ann,\n2,bob,x\n3,cy,\n4,dee,y\n",
	codec.FormatJSONL: `{"id":1,"name":"ann"}` + "\n" + `{"id":2,"name":"bob","extra":"x"}` + "\n" +
		`{"id":3,"name":"cy"}` + "\n" + `{"id":4,"name":"dee","extra":null}` + "\n",
	codec.FormatJSON: `[{"id":1,"name":"ann"},` + "\n" + `{"id":2,"name":"bob","extra":"x"},` + "\n" +
		`{"id":3,"name":"cy"},` + "\n" + `{"id":4,"name":"dee","extra":null}]` + "\n",
}

const unknownFields = "fields:\n  - {name: id, type: int, required: true}\n  - {name: name}\n"

// The inputs of the missing column cases. The CSV lacks the note column;
// in the JSON, record 2 lacks note, record 3 lacks code (and has a null
// note), record 4 lacks name.
var missingInputs = map[codec.Format]string{
	codec.FormatCSV: "id,name,code\n1,ann,A\n2,bob,B\n3,cy,C\n",
	codec.FormatJSONL: `{"id":1,"name":"ann","code":"A","note":"n1"}` + "\n" + `{"id":2,"name":"bob","code":"B"}` + "\n" +
		`{"id":3,"name":"cy","note":null}` + "\n" + `{"id":4,"code":"D","note":"n4"}` + "\n",
	codec.FormatJSON: `[{"id":1,"name":"ann","code":"A","note":"n1"},` + "\n" + `{"id":2,"name":"bob","code":"B"},` + "\n" +
		`{"id":3,"name":"cy","note":null},` + "\n" + `{"id":4,"code":"D","note":"n4"}]` + "\n",
}

// missingFields reads note, and code, which is required; name and id
// take the source's policy. The %s are the fields' own policies.
func missingFields(note, code string) string {
	return "fields:\n  - {name: id, type: int, required: true}\n  - {name: name}\n" +
		"  - {name: note" + note + "}\n  - {name: code, required: true" + code + "}\n"
}

// rej is a reject record as a test expects it.
type rej struct {
	line, record        int64
	field, rule, reason string
}

type contractRun struct {
	name   string
	format codec.Format
	in     string
	spec   string
	// err is the run's exact error, and the failed manifest's; "" when
	// the run succeeds.
	err                   string
	records, out, rejects int64
	rules                 map[string]int64
	rejected              []rej
	// rows, when set, are the output rows, in order.
	rows []string
}

func contractRuns() []contractRun {
	csv, jsonl, json := codec.FormatCSV, codec.FormatJSONL, codec.FormatJSON
	src := func(f codec.Format, keys string) string { return "source: {format: " + string(f) + keys + "}\n" }
	u := func(f codec.Format, keys string) string { return src(f, keys) + unknownFields }
	m := func(f codec.Format, keys, note, code string) string { return src(f, keys) + missingFields(note, code) }
	unknownKey := `unknown column: key "extra" is not read by any field`
	unknownCol := `unknown column: column "extra" has a value, and no field reads it`
	allRows := []string{`{"id":1,"name":"ann"}`, `{"id":2,"name":"bob"}`, `{"id":3,"name":"cy"}`, `{"id":4,"name":"dee"}`}
	keptRows := []string{`{"id":1,"name":"ann"}`, `{"id":3,"name":"cy"}`}
	jsonMissing := []string{`{"id":1,"name":"ann","note":"n1","code":"A"}`, `{"id":2,"name":"bob","note":null,"code":"B"}`, `{"id":4,"name":null,"note":"n4","code":"D"}`}
	var runs []contractRun
	for _, f := range []codec.Format{csv, jsonl, json} {
		in := unknownInputs[f]
		runs = append(runs,
			contractRun{name: "unknown default", format: f, in: in, spec: u(f, ""), records: 4, out: 4, rows: allRows},
			contractRun{name: "unknown ignore", format: f, in: in, spec: u(f, ", unknown_columns: ignore"), records: 4, out: 4, rows: allRows})
	}
	runs = append(runs,
		// reject: two of four records, under unknown_column.
		contractRun{name: "unknown reject", format: csv, in: unknownInputs[csv], spec: u(csv, ", unknown_columns: reject"),
			records: 4, out: 2, rejects: 2, rules: map[string]int64{"unknown_column": 2}, rows: keptRows,
			rejected: []rej{{3, 2, "", "unknown_column", unknownCol}, {5, 4, "", "unknown_column", `unknown column: column "extra" has a value, and no field reads it`}}},
		contractRun{name: "unknown reject", format: jsonl, in: unknownInputs[jsonl], spec: u(jsonl, ", unknown_columns: reject"),
			records: 4, out: 2, rejects: 2, rules: map[string]int64{"unknown_column": 2}, rows: keptRows,
			rejected: []rej{{2, 2, "", "unknown_column", unknownKey}, {4, 4, "", "unknown_column", unknownKey}}},
		contractRun{name: "unknown reject", format: json, in: unknownInputs[json], spec: u(json, ", unknown_columns: reject"),
			records: 4, out: 2, rejects: 2, rules: map[string]int64{"unknown_column": 2}, rows: keptRows,
			rejected: []rej{{0, 2, "", "unknown_column", unknownKey}, {0, 4, "", "unknown_column", unknownKey}}},
		// fail: CSV at the header, JSON at the first record with the key.
		contractRun{name: "unknown fail", format: csv, in: unknownInputs[csv], spec: u(csv, ", unknown_columns: fail"),
			err: `extract: in.csv: bad header: line 1: column "extra" is not read by any field (source.unknown_columns is fail)`},
		contractRun{name: "unknown fail", format: jsonl, in: unknownInputs[jsonl], spec: u(jsonl, ", unknown_columns: fail"),
			err: `transform: in.jsonl chunk 0: jsonl: line 2 (record 2, byte 22): key "extra" is not read by any field (source.unknown_columns is fail)`},
		contractRun{name: "unknown fail", format: json, in: unknownInputs[json], spec: u(json, ", unknown_columns: fail"),
			err: `transform: in.json chunk 0: json: record 2 (byte 24): key "extra" is not read by any field (source.unknown_columns is fail)`},
		// reject under rejects.policy fail fails at the first reject.
		contractRun{name: "unknown reject, rejects fail", format: jsonl, in: unknownInputs[jsonl], spec: u(jsonl, ", unknown_columns: reject") + "rejects: {policy: fail}\n",
			err: `record 2 (chunk line 2) rejected by unknown_column: unknown column: key "extra" is not read by any field (rejects.policy is fail)`},

		// Missing columns, CSV: decided at the header.
		contractRun{name: "missing default", format: csv, in: missingInputs[csv], spec: m(csv, "", "", ""),
			err: `extract: in.csv: bad header: column "note" not found (have id, name, code); field "note" reads it, and a missing column fails by default (missing: null reads it as null)`},
		contractRun{name: "missing fail", format: csv, in: missingInputs[csv], spec: m(csv, ", missing_columns: fail", "", ""),
			err: `extract: in.csv: bad header: column "note" not found (have id, name, code); field "note" reads it, and its missing policy is fail`},
		contractRun{name: "missing null", format: csv, in: missingInputs[csv], spec: m(csv, ", missing_columns: null", "", ""),
			records: 3, out: 3, rows: []string{`{"id":1,"name":"ann","note":null,"code":"A"}`, `{"id":2,"name":"bob","note":null,"code":"B"}`, `{"id":3,"name":"cy","note":null,"code":"C"}`}},
		contractRun{name: "missing fail, the field's null", format: csv, in: missingInputs[csv], spec: m(csv, ", missing_columns: fail", ", missing: null", ""),
			records: 3, out: 3},
		contractRun{name: "missing null, the field's fail", format: csv, in: missingInputs[csv], spec: m(csv, ", missing_columns: null", ", missing: fail", ""),
			err: `extract: in.csv: bad header: column "note" not found (have id, name, code); field "note" reads it, and its missing policy is fail`},
		// A required field's missing column reads null and is rejected
		// under required, with the reason.
		contractRun{name: "missing null, required", format: csv, in: "id,name,note\n1,ann,x\n2,bob,\n", spec: m(csv, ", missing_columns: null", "", ""),
			records: 2, rejects: 2, rules: map[string]int64{"code.required": 2},
			rejected: []rej{{2, 1, "code", "required", `value is missing: the input has no "code"`}, {3, 2, "code", "required", `value is missing: the input has no "code"`}}},
	)
	for _, f := range []codec.Format{jsonl, json} {
		in, key := missingInputs[f], "in."+string(f)
		line := func(n int64) int64 {
			if f == json {
				return 0
			}
			return n
		}
		at := map[codec.Format][2]string{jsonl: {"jsonl: line 2 (record 2, byte 45)", "jsonl: line 4 (record 4, byte 111)"},
			json: {"json: record 2 (byte 47)", "json: record 4 (byte 115)"}}[f]
		runs = append(runs,
			// The default is JSON's own: an absent key is null; code is
			// required, and its reject's reason is a null's.
			contractRun{name: "missing default", format: f, in: in, spec: m(f, "", "", ""),
				records: 4, out: 3, rejects: 1, rules: map[string]int64{"code.required": 1}, rows: jsonMissing,
				rejected: []rej{{line(3), 3, "code", "required", "value is missing"}}},
			contractRun{name: "missing null", format: f, in: in, spec: m(f, ", missing_columns: null", "", ""),
				records: 4, out: 3, rejects: 1, rules: map[string]int64{"code.required": 1}, rows: jsonMissing,
				rejected: []rej{{line(3), 3, "code", "required", `value is missing: the input has no "code"`}}},
			contractRun{name: "missing fail", format: f, in: in, spec: m(f, ", missing_columns: fail", "", ""),
				err: "transform: " + key + " chunk 0: " + at[0] + `: key "note" is absent: field "note" reads it, and its missing policy is fail`},
			contractRun{name: "missing null, the field's fail", format: f, in: in, spec: m(f, ", missing_columns: null", ", missing: fail", ""),
				err: "transform: " + key + " chunk 0: " + at[0] + `: key "note" is absent: field "note" reads it, and its missing policy is fail`},
			// The fields' own null: the run goes on until record 4, which
			// lacks name, whose policy is the source's fail.
			contractRun{name: "missing fail, the fields' null", format: f, in: in, spec: m(f, ", missing_columns: fail", ", missing: null", ", missing: null"),
				err: "transform: " + key + " chunk 0: " + at[1] + `: key "name" is absent: field "name" reads it, and its missing policy is fail`},
		)
	}
	return runs
}

// TestContractsThroughRun runs every policy on CSV, JSON Lines and JSON
// through batch.Run, and checks the manifest's counts per rule, the
// quarantined records and the run's error.
func TestContractsThroughRun(t *testing.T) {
	for _, tc := range contractRuns() {
		t.Run(string(tc.format)+"/"+tc.name, func(t *testing.T) {
			p := mustPlan(t, tc.spec)
			in, out := memblob.New(), memblob.New()
			key := "in." + string(tc.format)
			put(t, in, key, []byte(tc.in))
			m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: key, Output: out})
			checkContractRun(t, tc, out, m, err)
		})
	}
}

func checkContractRun(t *testing.T, tc contractRun, out storage.Bucket, m *output.Manifest, err error) {
	t.Helper()
	if m == nil {
		t.Fatalf("no manifest; err %v", err)
	}
	if tc.err != "" {
		if err == nil || err.Error() != tc.err || m.Error != tc.err || m.Status != output.StatusFailed {
			t.Fatalf("run error:\n got %v (manifest %s: %q)\nwant %s", err, m.Status, m.Error, tc.err)
		}
		assertNoSuccess(t, out)
		return
	}
	if err != nil {
		t.Fatalf("run failed: %v", err)
	}
	if m.In != tc.records || m.Out != tc.out || m.Rejected != tc.rejects || m.Filtered != 0 {
		t.Errorf("counts in=%d out=%d rejected=%d filtered=%d, want %d/%d/%d/0", m.In, m.Out, m.Rejected, m.Filtered, tc.records, tc.out, tc.rejects)
	}
	if err := m.Counts.Check(); err != nil {
		t.Error(err)
	}
	if !maps.Equal(m.RejectedByRule, tc.rules) {
		t.Errorf("rejected_by_rule = %v, want %v", m.RejectedByRule, tc.rules)
	}
	var got []rej
	for _, r := range rejects(t, out, m) {
		got = append(got, rej{r.Line, r.Record, r.Field, r.Rule, r.Reason})
	}
	if !slices.Equal(got, tc.rejected) {
		t.Errorf("rejects:\n got %+v\nwant %+v", got, tc.rejected)
	}
	if tc.rows != nil {
		if rows := outputRows(t, out, m); !slices.Equal(rows, tc.rows) {
			t.Errorf("rows:\n got %q\nwant %q", rows, tc.rows)
		}
	}
}

// CSV chunks each hold their rows to the header's contract: a parallel
// run on a file bucket rejects the same rows as one pass.
func TestContractRejectsAcrossChunks(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,name,extra\n")
	for i := 1; i <= 3000; i++ {
		extra := ""
		if i%7 == 0 {
			extra = "x"
		}
		fmt.Fprintf(&b, "%d,name %d,%s\n", i, i, extra)
	}
	dir := t.TempDir()
	in, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	put(t, in, "big.csv", []byte(b.String()))
	p := mustPlan(t, "source: {unknown_columns: reject}\n"+unknownFields)
	out := memblob.New()
	m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "big.csv", Output: out, Parallel: 2, ChunkBytes: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if m.Chunks < 4 || m.In != 3000 || m.Rejected != 428 || m.Out != 2572 || m.RejectedByRule["unknown_column"] != 428 {
		t.Fatalf("chunks %d, in %d, out %d, rejected %d %v", m.Chunks, m.In, m.Out, m.Rejected, m.RejectedByRule)
	}
	for _, r := range rejects(t, out, m) {
		if r.Record%7 != 0 || r.Line != r.Record+1 || r.Rule != "unknown_column" || !strings.HasSuffix(r.Raw, ",x") {
			t.Fatalf("reject %+v", r)
		}
	}
}

// A headerless CSV's columns stand for its header.
func TestContractHeaderlessCSV(t *testing.T) {
	in, out := memblob.New(), memblob.New()
	put(t, in, "h.csv", []byte("1,ann,\n2,bob,x\n"))
	spec := "source: {format: csv, unknown_columns: %s, csv: {header: false, columns: [id, name, extra]}}\n" + unknownFields
	m, err := batch.Run(ctx, mustPlan(t, fmt.Sprintf(spec, "fail")), batch.RunOptions{Input: in, Key: "h.csv", Output: out})
	want := `transform: h.csv: bad header: csv.columns: column "extra" is not read by any field (source.unknown_columns is fail)`
	if err == nil || err.Error() != want || m.Status != output.StatusFailed {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if !errors.Is(err, codec.ErrUnknownColumn) {
		t.Errorf("%v does not wrap ErrUnknownColumn", err)
	}
	m, err = batch.Run(ctx, mustPlan(t, fmt.Sprintf(spec, "reject")), batch.RunOptions{Input: in, Key: "h.csv", Output: memblob.New()})
	if err != nil || m.In != 2 || m.Out != 1 || m.RejectedByRule["unknown_column"] != 1 {
		t.Fatalf("reject: %v, %+v", err, m.Counts)
	}
}
