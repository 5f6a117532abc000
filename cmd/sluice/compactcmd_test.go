package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/internal/lakeread"
)

// smallFilesSpec is an example's spec writing two rows a file.
func smallFilesSpec(t *testing.T, example string) string {
	t.Helper()
	src, err := os.ReadFile("../../examples/" + example + "/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(src), "max_rows_per_file: 100000", "max_rows_per_file: 2", 1)
	if s == string(src) {
		t.Fatalf("%s's spec no longer sets max_rows_per_file", example)
	}
	path := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sluice compact on the orders example's jsonl output: each day's small
// files become one, and DuckDB reads the same rows before and after.
func TestCompactPlainOutput(t *testing.T) {
	specPath, dir := smallFilesSpec(t, "orders"), t.TempDir()
	if code, _, stderr := runCLI(t, "run", "--spec", specPath, "--input", "../../examples/orders/orders.csv", "--output", dir, "--quiet"); code != 0 {
		t.Fatalf("run: %s", stderr)
	}
	glob := []string{filepath.Join(dir, "dt=*", "*.jsonl")}
	before := lakeread.ReadFiles(t, "json", glob, "amount_cents")
	small, _ := filepath.Glob(glob[0])
	code, out, stderr := runCLI(t, "compact", "--spec", specPath, "--output", dir, "--json")
	if code != 0 {
		t.Fatalf("compact: exit %d: %s", code, stderr)
	}
	var res CompactResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	days, _ := filepath.Glob(filepath.Join(dir, "dt=*"))
	files, _ := filepath.Glob(glob[0])
	if res.FilesBefore != len(small) || len(small) <= len(days) || res.FilesAfter != len(days) || len(files) != len(days) || res.Rows == 0 {
		t.Fatalf("result %+v; %d days, %d files", res, len(days), len(files))
	}
	after := lakeread.ReadFiles(t, "json", glob, "amount_cents")
	if after.Count != 10 || after.Count != before.Count || after.Sum != before.Sum {
		t.Fatalf("DuckDB read %+v after, %+v before", after, before)
	}
}

// sluice compact on the iceberg example: one replace commit, the ledger
// shows it, and icebird reads the same rows.
func TestCompactIcebergTable(t *testing.T) {
	lakeread.Require(t)
	specPath, dir := smallFilesSpec(t, "orders-iceberg"), t.TempDir()
	if code, _, stderr := runCLI(t, "run", "--spec", specPath, "--input", "../../examples/orders/orders.csv", "--output", dir, "--quiet"); code != 0 {
		t.Fatalf("run: %s", stderr)
	}
	table := filepath.Join(dir, "warehouse", "default", "orders")
	before := lakeread.Read(t, table, "amount_cents", "order_id")
	code, out, stderr := runCLI(t, "compact", "--spec", specPath, "--output", dir, "--json")
	if code != 0 {
		t.Fatalf("compact: exit %d: %s", code, stderr)
	}
	var res CompactResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Sink != "default.orders" || res.FilesAfter != 3 || res.Merged <= res.Written || res.Rows == 0 || res.Snapshot == 0 {
		t.Fatalf("result %+v", res)
	}
	after := lakeread.Read(t, table, "amount_cents", "order_id")
	if after.Count != 10 || after.Sum != before.Sum || strings.Join(after.Keys, ",") != strings.Join(before.Keys, ",") {
		t.Fatalf("icebird read %+v after, %+v before", after, before)
	}
	_, hist, _ := runCLI(t, "table", "history", "--output", dir, "--table", "default.orders")
	if !strings.Contains(hist, "compaction/") {
		t.Fatalf("history shows no compaction:\n%s", hist)
	}
}
