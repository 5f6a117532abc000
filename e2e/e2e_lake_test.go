package e2e

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/sluice-etl/sluice/internal/lakeread"
	"github.com/sluice-etl/sluice/shared/adapter/table/icebergtable"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// lakeRoute is the prefix whose spec has an iceberg sink on Glue.
const lakeRoute = `"incoming/lake/":"s3://sluice-input-bucket/specs/lake.yaml"`

// lakeSpec is the iceberg example on the stack's Glue database, with the
// stack's warehouse (the spec names none).
func lakeSpec(t *testing.T) []byte {
	t.Helper()
	src, err := os.ReadFile("../examples/orders-iceberg/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sp := strings.Replace(string(src), "  catalog: local ", "  catalog: glue #", 1)
	return []byte(strings.Replace(sp, "namespace: default", "namespace: sluice", 1))
}

// lakeRead has icebird read the table where Glue points now.
func lakeRead(t *testing.T) lakeread.Result {
	t.Helper()
	gt, err := glue.NewFromConfig(awsCfg).GetTable(context.Background(), &glue.GetTableInput{DatabaseName: aws.String("sluice"), Name: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	return lakeread.ReadS3(t, stack.Endpoint, gt.Table.Parameters["metadata_location"], "amount_cents", "order_id")
}

// lakeHistory is the table's ledger.
func lakeHistory(t *testing.T) []icebergtable.SnapshotInfo {
	t.Helper()
	// iceberg-go's Glue catalog takes the SDK's default credentials.
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	c, err := icebergtable.Open(context.Background(), icebergtable.Location{Kind: spec.CatalogGlue, Warehouse: "s3://sluice-output-bucket/warehouse",
		Region: "us-east-1", Endpoint: stack.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	h, err := c.History(context.Background(), "sluice.orders")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// An upload under a prefix whose spec has an iceberg sink on Glue runs
// through the real bootstraps and the state machine: extract prepares the
// table through the commit function, finalize commits the run once, and
// icebird reads the rows back from moto's S3 where Glue points. The same
// object delivered again adds nothing; a corrected version of it replaces
// its rows in one more snapshot.
func TestIcebergSinkOnGlueEndToEnd(t *testing.T) {
	needStack(t)
	lakeread.Require(t)
	put(t, "specs/lake.yaml", lakeSpec(t))
	data, err := os.ReadFile("../examples/orders/orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	before := seen(t)
	put(t, "incoming/lake/orders.csv", data)
	put(t, "incoming/lake/orders.csv", data)
	for _, e := range finished(t, before, 2) {
		if e.Status != sfntypes.ExecutionStatusSucceeded {
			t.Fatalf("execution %s %s\n%s", aws.ToString(e.Name), e.Status, logs.String())
		}
	}
	ms := manifestsFor(t, "incoming/lake/orders.csv")
	if len(ms) != 1 || counts(ms[0]) != "25/10/12/3 succeeded chunks 1" {
		t.Fatalf("manifests %v", ms)
	}
	runID := ms[0]["run_id"].(string)
	const keys = "1001,1002,1003,1006,1007,1014,1015,1020,1022,1024"
	if got := lakeRead(t); got.Count != 10 || got.Sum != "272914" || strings.Join(got.Keys, ",") != keys {
		t.Fatalf("icebird read %+v, want the 10 rows of run %s", got, runID)
	}
	if h := lakeHistory(t); len(h) != 1 || h[0].RunID != runID || h[0].In != 25 || h[0].Out != 10 || h[0].Rejected != 12 || h[0].Filtered != 3 {
		t.Fatalf("history %+v, want one snapshot of run %s", h, runID)
	}

	// A corrected upload: order 1001 (1999 cents) withdrawn.
	fixed := bytes.Replace(data, []byte("1001,501,alice@example.com,19.99,USD,paid,US,2026-11-01T09:15:00Z,\n"), nil, 1)
	if len(fixed) == len(data) {
		t.Fatal("the fixture no longer holds order 1001")
	}
	before = seen(t)
	put(t, "incoming/lake/orders.csv", fixed)
	if e := finished(t, before, 1); e[0].Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("corrected upload: execution %s", e[0].Status)
	}
	if got := lakeRead(t); got.Count != 9 || got.Sum != "270915" || strings.Join(got.Keys, ",") != strings.TrimPrefix(keys, "1001,") {
		t.Fatalf("after the corrected upload icebird read %+v, want the 9 rows of the new version only", got)
	}
	h := lakeHistory(t)
	if len(h) != 2 || h[1].RunID == runID || h[1].Out != 9 || h[1].TotalRecords != 9 {
		t.Fatalf("history after the corrected upload %+v", h)
	}
}
