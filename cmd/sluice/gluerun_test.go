package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-etl/sluice/internal/motoserver"
)

// glueOrdersSpec is the orders example registered in Glue: the table
// sales.orders, partitioned by day.
func glueOrdersSpec(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("../../examples/orders/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(src), "  format: jsonl\n", "  format: parquet\n  catalog: glue\n  table: {namespace: sales, name: orders}\n", 1)
	if s == string(src) {
		t.Fatal("the orders example's sink changed")
	}
	path := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sluice run with catalog glue and an s3:// output, against moto through
// --endpoint: the output lands under the prefix, the rejects where Athena
// does not read them, and Glue holds the table with one partition per
// day of the run, at the day's folder.
func TestRunRegistersInGlue(t *testing.T) {
	cfg := motoserver.ForTest(t)
	ep := aws.ToString(cfg.BaseEndpoint)
	ctx := context.Background()
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("lake")}); err != nil {
		t.Fatal(err)
	}
	gc := glue.NewFromConfig(cfg)
	if _, err := gc.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &types.DatabaseInput{Name: aws.String("sales")}}); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runCLI(t, "run", "--spec", glueOrdersSpec(t), "--input", "../../examples/orders/orders.csv", "--output", "s3://lake/tables/orders", "--endpoint", ep, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var m struct {
		Status  string
		Parts   []struct{ Key, Partition string }
		Rejects []struct{ Key string }
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	var wantParts []string
	for _, p := range m.Parts {
		if !strings.HasPrefix(p.Key, "tables/orders/"+p.Partition+"/part-") {
			t.Errorf("part %s is not in its partition's folder under the prefix", p.Key)
		}
		v, _ := strings.CutPrefix(p.Partition, "dt=")
		if !slices.Contains(wantParts, v) {
			wantParts = append(wantParts, v)
		}
	}
	if len(m.Rejects) == 0 || !strings.HasPrefix(m.Rejects[0].Key, "tables/orders/_rejects/") {
		t.Errorf("rejects %v, want them under tables/orders/_rejects/", m.Rejects)
	}
	for _, key := range []string{"tables/orders/_manifest.json", "tables/orders/_SUCCESS"} {
		if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("lake"), Key: &key}); err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}
	parts, err := gc.GetPartitions(ctx, &glue.GetPartitionsInput{DatabaseName: aws.String("sales"), TableName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range parts.Partitions {
		got = append(got, p.Values[0])
		if loc := aws.ToString(p.StorageDescriptor.Location); loc != "s3://lake/tables/orders/dt="+p.Values[0]+"/" {
			t.Errorf("partition %v at %s", p.Values, loc)
		}
	}
	slices.Sort(got)
	slices.Sort(wantParts)
	if len(got) == 0 || !slices.Equal(got, wantParts) {
		t.Errorf("partitions in Glue %v, want the run's %v", got, wantParts)
	}
}

// With a local output, catalog glue is refused before anything is
// written: Athena cannot read local files.
func TestRunGlueNeedsS3Output(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, _, stderr := runCLI(t, "run", "--spec", glueOrdersSpec(t), "--input", "../../examples/orders/orders.csv", "--output", dir)
	if code == 0 || !strings.Contains(stderr, "sink.catalog glue registers the output in Glue for Athena, which reads S3 only: --output must be s3://bucket[/prefix], not "+dir) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the output folder was created: %v", err)
	}
}
