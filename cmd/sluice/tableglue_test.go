package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-etl/sluice/internal/motoserver"
	"github.com/sluice-etl/sluice/shared/adapter/table/icebergtable"
)

// The iceberg example with catalog glue and an s3:// warehouse, against
// moto through --endpoint, run twice: one snapshot with the run's counts,
// and sluice table list, history and show read the table from Glue.
func TestIcebergGlueRunAndLedger(t *testing.T) {
	cfg := motoserver.ForTest(t)
	ep := aws.ToString(cfg.BaseEndpoint)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("lake")}); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../../examples/orders-iceberg/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	glueSpec := strings.Replace(string(src), "  catalog: local ", "  catalog: glue\n  warehouse: s3://lake/tables #", 1)
	specPath := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(specPath, []byte(glueSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	var m struct {
		RunID string `json:"run_id"`
		Out   int64  `json:"records_out"`
		Parts []struct{ Key string }
	}
	dir := t.TempDir()
	for i := range 2 {
		code, out, stderr := runCLI(t, "run", "--spec", specPath, "--input", "../../examples/orders/orders.csv", "--output", dir, "--json", "--endpoint", ep)
		if code != 0 {
			t.Fatalf("run %d: exit %d: %s", i+1, code, stderr)
		}
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range m.Parts {
		if !strings.HasPrefix(p.Key, "tables/default/orders/data/created_day=") {
			t.Errorf("data file %s is not under the warehouse's table", p.Key)
		}
	}
	glue := []string{"--catalog", "glue", "--warehouse", "s3://lake/tables", "--endpoint", ep}
	code, out, stderr := runCLI(t, append([]string{"table", "history", "--table", "default.orders", "--json"}, glue...)...)
	if code != 0 {
		t.Fatalf("history: exit %d: %s", code, stderr)
	}
	var hist []icebergtable.SnapshotInfo
	if err := json.Unmarshal([]byte(out), &hist); err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].RunID != m.RunID || hist[0].In != 25 || hist[0].Out != 10 || hist[0].Rejected != 12 || hist[0].Filtered != 3 || hist[0].TotalRecords != 10 {
		t.Errorf("history = %+v, want one snapshot of run %s", hist, m.RunID)
	}
	code, out, _ = runCLI(t, append([]string{"table", "show", "--table", "default.orders"}, glue...)...)
	for _, s := range []string{"s3://lake/tables/default/orders", "records   10 in 3 files", "created_day=2026-11-01", "[created_day=day(created_at)]"} {
		if code != 0 || !strings.Contains(out, s) {
			t.Errorf("table show lacks %q:\n%s", s, out)
		}
	}
	code, out, _ = runCLI(t, append([]string{"table", "list"}, glue...)...)
	if code != 0 || out != "default.orders\n" {
		t.Errorf("table list = %d %q", code, out)
	}
}

func TestTableCatalogFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"table", "list", "--catalog", "hive", "--output", "x"}, "--catalog must be local or glue"},
		{[]string{"table", "list", "--catalog", "glue"}, "--warehouse is required with --catalog glue"},
		{[]string{"table", "list", "--catalog", "glue", "--warehouse", "s3://b/p", "--output", "x"}, "not with --catalog glue"},
		{[]string{"table", "list", "--warehouse", "s3://b/p"}, "--warehouse is for --catalog glue"},
		{[]string{"table", "list", "--catalog", "glue", "--warehouse", "b/p"}, "must be s3://bucket[/prefix]"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, stderr, tc.want)
		}
	}
}

// A glue sink without a warehouse is the stack's on AWS; sluice run has
// no stack, so it asks for one before reading any input.
func TestRunGlueWithoutWarehouseAsksForOne(t *testing.T) {
	src, err := os.ReadFile("../../examples/orders-iceberg/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	glueSpec := strings.Replace(string(src), "  catalog: local ", "  catalog: glue #", 1)
	specPath := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(specPath, []byte(glueSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	code, _, stderr := runCLI(t, "run", "--spec", specPath, "--input", "../../examples/orders/orders.csv", "--output", dir)
	if code == 0 || !strings.Contains(stderr, "glue catalog needs sink.warehouse") {
		t.Fatalf("exit %d, stderr %q: want the missing warehouse named", code, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the output folder holds %d entries after a refused run", len(entries))
	}
}
