package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/internal/lakeread"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunOrdersJSON(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := runCLI(t, "run", "--spec", "../../examples/orders/spec.yaml", "--input", "../../examples/orders/orders.csv", "--output", dir, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var m struct {
		Status                      string `json:"status"`
		In, Out, Rejected, Filtered int64
		RecordsIn                   int64 `json:"records_in"`
		RecordsOut                  int64 `json:"records_out"`
		RecordsRejected             int64 `json:"records_rejected"`
		RecordsFiltered             int64 `json:"records_filtered"`
		Parts                       []struct{ Key string }
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("stdout is not the JSON manifest: %v\n%s", err, out)
	}
	if m.Status != "succeeded" || m.RecordsIn != 25 || m.RecordsOut != 10 || m.RecordsRejected != 12 || m.RecordsFiltered != 3 {
		t.Fatalf("summary = %+v", m)
	}
	disk, err := os.ReadFile(filepath.Join(dir, "_manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(disk), `"records_in": 25`) {
		t.Fatalf("manifest on disk lacks records_in 25")
	}
	for _, p := range m.Parts {
		if _, err := os.Stat(filepath.Join(dir, p.Key)); err != nil {
			t.Errorf("part %s: %v", p.Key, err)
		}
	}
	// Not a terminal: plain log lines, no progress bar, and no record data.
	if !strings.Contains(stderr, "load done") || strings.Contains(stderr, "\r") || strings.Contains(stderr, "example.com") {
		t.Errorf("stderr = %q", stderr)
	}
}

func TestRunEmbeddedDefault(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	code, out, stderr := runCLI(t, "run", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "in        25") || !strings.Contains(out, "out       10") {
		t.Fatalf("summary = %s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "orders", "_SUCCESS")); err != nil {
		t.Fatal(err)
	}
}

func TestRunFailureExitCode(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.yaml")
	os.WriteFile(spec, []byte("version: 1\nsource: {format: csv}\nfields:\n  - {name: n, type: int}\nrejects: {policy: fail}\n"), 0o644)
	in := filepath.Join(dir, "in.csv")
	os.WriteFile(in, []byte("n\n1\nx\n3\n"), 0o644)
	code, _, stderr := runCLI(t, "run", "--spec", spec, "--input", in, "--output", filepath.Join(dir, "out"), "--quiet")
	if code != 1 || !strings.Contains(stderr, "line 3") || !strings.Contains(stderr, "n.type") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	m, err := os.ReadFile(filepath.Join(dir, "out", "_manifest.json"))
	if err != nil || !strings.Contains(string(m), `"status": "failed"`) {
		t.Fatalf("manifest %s %v", m, err)
	}
}

func TestValidate(t *testing.T) {
	code, out, _ := runCLI(t, "validate", "../../examples/orders/spec.yaml")
	if code != 0 || !strings.Contains(out, "ok (8 fields in, 10 fields out, 2 derived, 1 filters, sink jsonl, 5 test cases)") {
		t.Fatalf("exit %d: %s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nfields:\n  - name: a\n    rules:\n      regex: '('\n"), 0o644)
	code, _, stderr := runCLI(t, "validate", bad)
	if code != 1 || !strings.Contains(stderr, "bad.yaml:5:7: fields[0].rules.regex: bad regex") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func TestUsageAndVersion(t *testing.T) {
	if code, _, _ := runCLI(t); code != 2 {
		t.Errorf("no args: exit %d", code)
	}
	if code, _, _ := runCLI(t, "bogus"); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
	if code, _, _ := runCLI(t, "run", "--spec", "x.yaml"); code != 2 {
		t.Errorf("missing flags: exit %d", code)
	}
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "sluice ") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestLint(t *testing.T) {
	code, out, stderr := runCLI(t, "lint", "--template", "../../template.yaml", "../../examples/orders/spec.yaml")
	if code != 0 || !strings.Contains(out, "are clean") {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "statemachine"), 0o755)
	tmpl, _ := os.ReadFile("../../template.yaml")
	os.WriteFile(filepath.Join(dir, "template.yaml"), []byte(strings.Replace(string(tmpl), "        LoadFunctionArn: !GetAtt LoadFunction.Arn\n", "", 1)), 0o644)
	asl, _ := os.ReadFile("../../statemachine/etl.asl.json")
	os.WriteFile(filepath.Join(dir, "statemachine", "etl.asl.json"), asl, 0o644)
	code, _, stderr = runCLI(t, "lint", "--template", filepath.Join(dir, "template.yaml"))
	if code != 1 || !strings.Contains(stderr, "uses ${LoadFunctionArn}, which has no entry") || !strings.Contains(stderr, "1 problem(s)") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// A spec on Lambda's own windows needs the event source to set them.
	native := filepath.Join(dir, "native.yaml")
	os.WriteFile(native, []byte("name: n\nfields: [{name: k}]\nwindow: {kind: tumbling, size: 5m, native: true, group_by: [k]}\n"), 0o644)
	code, _, stderr = runCLI(t, "lint", "--template", "../../template.yaml", "../../examples/clicks/spec.yaml", native)
	if code != 1 || !strings.Contains(stderr, "window.native needs a Kinesis event source with TumblingWindowInSeconds: 300") || !strings.Contains(stderr, "1 problem(s)") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// Parquet files keep the spec's column order: fields, then derived
// fields, as an independent reader (DuckDB) shows them.
func TestParquetColumnsInSpecOrder(t *testing.T) {
	lakeread.RequireDuckDB(t)
	src, err := os.ReadFile("../../examples/orders/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	specPath := filepath.Join(dir, "spec.yaml")
	os.WriteFile(specPath, bytes.Replace(src, []byte("  format: jsonl\n"), []byte("  format: parquet\n"), 1), 0o644)
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"run", "--quiet", "--spec", specPath, "--input", "../../examples/orders/orders.csv", "--output", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("run: %d %s", code, stderr.String())
	}
	files, _ := filepath.Glob(filepath.Join(out, "dt=*", "*.parquet"))
	got := lakeread.ReadFiles(t, "parquet", files, "amount_cents")
	want := []string{"order_id", "customer_id", "email", "amount", "currency", "status", "country", "created_at", "amount_cents", "large_order"}
	if got.Count != 10 || got.Sum != "272914" || !slices.Equal(got.Columns, want) {
		t.Fatalf("DuckDB read %d rows, sum %s, columns %v; want 10, 272914, %v", got.Count, got.Sum, got.Columns, want)
	}
}

// Integer, decimal and time columns are written DELTA_BINARY_PACKED,
// strings DELTA_LENGTH_BYTE_ARRAY and floats PLAIN, and an independent
// reader (DuckDB) reads every value back.
func TestParquetEncodings(t *testing.T) {
	lakeread.RequireDuckDB(t)
	dir := t.TempDir()
	specPath := filepath.Join(dir, "spec.yaml")
	os.WriteFile(specPath, []byte(`version: 1
name: encodings
source: {format: csv}
fields:
  - {name: id, type: int}
  - {name: price, type: decimal, scale: 2}
  - {name: at, type: timestamp}
  - {name: day, type: date}
  - {name: ratio, type: float}
  - {name: note}
  - {name: ok, type: bool}
sink: {format: parquet}
`), 0o644)
	var csv strings.Builder
	csv.WriteString("id,price,at,day,ratio,note,ok\n")
	for i := range 3000 {
		fmt.Fprintf(&csv, "%d,%d.%02d,2026-11-%02dT10:00:%02dZ,2026-11-%02d,%d.5,note %d,%t\n", 1000+i, i%700, i%100, 1+i%28, i%60, 1+i%28, i%9, i%13, i%2 == 0)
	}
	csv.WriteString(",,,,,,\n") // a row of nulls
	in := filepath.Join(dir, "in.csv")
	os.WriteFile(in, []byte(csv.String()), 0o644)
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"run", "--quiet", "--spec", specPath, "--input", in, "--output", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("run: %d %s", code, stderr.String())
	}
	files, _ := filepath.Glob(filepath.Join(out, "*.parquet"))
	got := lakeread.ReadFiles(t, "parquet", files, "id")
	// 1000 + 1001 + ... + 3999, the null row adding nothing.
	if got.Count != 3001 || got.Sum != "7498500" {
		t.Fatalf("DuckDB read %d rows, sum of id %s; want 3001, 7498500", got.Count, got.Sum)
	}
	want := map[string]string{"id": "DELTA_BINARY_PACKED", "price": "DELTA_BINARY_PACKED", "at": "DELTA_BINARY_PACKED",
		"day": "DELTA_BINARY_PACKED", "ratio": "PLAIN", "note": "DELTA_LENGTH_BYTE_ARRAY", "ok": "PLAIN"}
	for col, enc := range want {
		if !strings.Contains(got.Encodings[col], enc) {
			t.Errorf("column %s: encodings %q, want %s", col, got.Encodings[col], enc)
		}
	}
	sums := lakeread.ReadFiles(t, "parquet", files, "price")
	if sums.Sum != priceSum(3000) {
		t.Errorf("sum of price %s, want %s", sums.Sum, priceSum(3000))
	}
}

// priceSum is the sum of the price column of TestParquetEncodings's n rows.
func priceSum(n int) string {
	var cents int
	for i := range n {
		cents += (i%700)*100 + i%100
	}
	return fmt.Sprintf("%d.%02d", cents/100, cents%100)
}
