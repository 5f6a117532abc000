package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/internal/lakeread"
	"github.com/sluice-etl/sluice/shared/adapter/table/icebergtable"
)

// The iceberg example, run twice: one snapshot, and icebird reads back
// the rows the orders example writes as JSON Lines (count, sum of
// amount_cents, the order ids).
func TestIcebergExampleReadBackByIcebird(t *testing.T) {
	lakeread.Require(t)
	dir := t.TempDir()
	args := []string{"run", "--spec", "../../examples/orders-iceberg/spec.yaml", "--input", "../../examples/orders/orders.csv", "--output", dir, "--json"}
	var m struct {
		RunID string `json:"run_id"`
		Out   int64  `json:"records_out"`
		Parts []struct{ Key string }
	}
	for i := range 2 {
		code, out, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("run %d: exit %d: %s", i+1, code, stderr)
		}
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatal(err)
		}
	}
	want := jsonlReference(t)
	got := lakeread.Read(t, filepath.Join(dir, "warehouse", "default", "orders"), "amount_cents", "order_id")
	if got.Count != m.Out || got.Count != want.Count || got.Sum != want.Sum || strings.Join(got.Keys, ",") != strings.Join(want.Keys, ",") {
		t.Errorf("icebird read %+v; manifest out %d; the jsonl sink wrote %+v", got, m.Out, want)
	}

	code, out, stderr := runCLI(t, "table", "history", "--output", dir, "--table", "default.orders", "--json")
	if code != 0 {
		t.Fatalf("history: exit %d: %s", code, stderr)
	}
	var hist []icebergtable.SnapshotInfo
	if err := json.Unmarshal([]byte(out), &hist); err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].RunID != m.RunID || hist[0].In != 25 || hist[0].Out != 10 || hist[0].Rejected != 12 || hist[0].Filtered != 3 {
		t.Errorf("history = %+v, want one snapshot of run %s", hist, m.RunID)
	}

	code, out, _ = runCLI(t, "table", "show", "--output", dir, "--table", "default.orders")
	for _, s := range []string{"records   10 in 3 files", "created_day=2026-11-01", "amount        decimal(18, 2)  true", "created_at    timestamptz     true", "[created_day=day(created_at)]"} {
		if code != 0 || !strings.Contains(out, s) {
			t.Errorf("table show lacks %q:\n%s", s, out)
		}
	}
	code, out, _ = runCLI(t, "table", "list", "--output", dir)
	if code != 0 || out != "default.orders\n" {
		t.Errorf("table list = %d %q", code, out)
	}
}

// jsonlReference runs the plain orders example and sums what it wrote.
func jsonlReference(t *testing.T) lakeread.Result {
	t.Helper()
	dir := t.TempDir()
	if code, _, stderr := runCLI(t, "run", "--spec", "../../examples/orders/spec.yaml", "--input", "../../examples/orders/orders.csv", "--output", dir); code != 0 {
		t.Fatalf("orders example: %s", stderr)
	}
	var r lakeread.Result
	var sum int64
	parts, _ := filepath.Glob(filepath.Join(dir, "dt=*", "part-*.jsonl"))
	for _, p := range parts {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var row struct {
				OrderID     int64 `json:"order_id"`
				AmountCents int64 `json:"amount_cents"`
			}
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				t.Fatal(err)
			}
			r.Count++
			sum += row.AmountCents
			r.Keys = append(r.Keys, strconv.FormatInt(row.OrderID, 10))
		}
		f.Close()
	}
	sort.Strings(r.Keys)
	r.Sum = strconv.FormatInt(sum, 10)
	return r
}

func TestTableCommandErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"table"}, 2, "usage: sluice table list|history|show"},
		{[]string{"table", "history", "--output", dir}, 2, "--table is required"},
		{[]string{"table", "list"}, 2, "--output is required"},
		{[]string{"table", "list", "--output", dir}, 1, "no catalog in " + dir},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.msg)
		}
	}
}
