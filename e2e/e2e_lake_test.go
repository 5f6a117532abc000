package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/sluice-etl/sluice/internal/lakeread"
	"github.com/sluice-etl/sluice/internal/offline"
	"github.com/sluice-etl/sluice/shared/adapter/table/icebergtable"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/handler"
)

// lakeRoute is the prefix whose spec has an iceberg sink on Glue, and
// the prefix whose parquet output is registered in Glue.
const lakeRoute = `"incoming/lake/":"s3://sluice-input-bucket/specs/lake.yaml","incoming/athena/":"s3://sluice-input-bucket/specs/athena.yaml"`

// lakeSpec is the iceberg example on the stack's Glue database, with the
// stack's warehouse (the spec names none).
func lakeSpec(t *testing.T) []byte {
	t.Helper()
	src, err := os.ReadFile("../examples/orders-iceberg/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sp := strings.Replace(string(src), "  catalog: local ", "  catalog: glue #", 1)
	// A pipeline of its own: its manifests and rejects stay apart from the
	// orders example's, which other tests count.
	sp = strings.Replace(sp, "name: orders\n", "name: lake_orders\n", 1)
	return []byte(strings.Replace(sp, "namespace: default", "namespace: sluice", 1))
}

// lakeRead has icebird read the table where Glue points now.
func lakeRead(t *testing.T) lakeread.Result {
	t.Helper()
	gt, err := glue.NewFromConfig(awsCfg).GetTable(context.Background(), &glue.GetTableInput{DatabaseName: aws.String("sluice"), Name: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	return lakeread.ReadS3(t, stack.Endpoint, gt.Table.Parameters["metadata_location"], "amount_cents", "order_id", "")
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
	lakeread.RequireDuckDB(t)
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
	// DuckDB reads the data files themselves (every one is live before
	// the corrected upload).
	if got := lakeread.ReadParquetS3(t, awsCfg, "s3://sluice-output-bucket/warehouse/sluice/orders/data/", "amount_cents"); got.Count != 10 || got.Sum != "272914" || len(got.Keys) != 3 {
		t.Fatalf("DuckDB read %+v of the data files, want 10 rows summing to 272914 in 3 files", got)
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

// streamSpecLoc is the stack's stream spec, kept in S3 so a test can
// switch the stream's sink: the functions reload a spec whose ETag
// changed.
const streamSpecLoc = "s3://sluice-input-bucket/specs/clicks.yaml"

// The clicks example, with its jsonl sink or with an iceberg sink on the
// stack's Glue database that commits a shard's files a second after the
// oldest was held.
const (
	clicksJSONL   = false
	clicksIceberg = true
)

func clicksSpec(lake bool) ([]byte, error) {
	src, err := os.ReadFile("../examples/clicks/spec.yaml")
	if err != nil || !lake {
		return src, err
	}
	s := strings.Replace(string(src), "sink:\n  format: jsonl\n", "sink:\n  format: iceberg\n  catalog: glue\n  table: {namespace: sluice, name: clicks}\n", 1)
	return []byte(s + "stream: {commit_interval: 1s, commit_files: 1000}\n"), nil
}

// putStreamSpec puts the clicks spec the stream's next batches run.
func putStreamSpec(ctx context.Context, lake bool) error {
	body, err := clicksSpec(lake)
	if err != nil {
		return err
	}
	_, err = s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sluice-input-bucket"), Key: aws.String("specs/clicks.yaml"), Body: bytes.NewReader(body)})
	return err
}

// useStreamSpec switches the stream's sink for one test.
func useStreamSpec(t *testing.T, lake bool) {
	t.Helper()
	if err := putStreamSpec(context.Background(), lake); err != nil {
		t.Fatal(err)
	}
	if lake {
		t.Cleanup(func() {
			if err := putStreamSpec(context.Background(), clicksJSONL); err != nil {
				t.Error(err)
			}
		})
	}
}

// flushTables invokes the extract function with the payload its schedule
// sends every minute on AWS.
func flushTables(t *testing.T, stream string) {
	t.Helper()
	payload := `{"flush_tables":{"streams":["` + stream + `"]}}`
	out, err := lambda.NewFromConfig(awsCfg).Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String(stack.Template.PhysicalName("ExtractFunction")), Payload: []byte(payload)})
	if err != nil {
		t.Fatal(err)
	}
	if out.FunctionError != nil {
		// A fault the chaos plan injected, or a commit that lost: the
		// next flush tries again.
		t.Logf("flush: %s", out.Payload)
	}
}

// checkTable reads the clicks table with icebird: every kept record of
// the test once, and the sum of their amounts.
func (s *clicksSent) checkTable(t *testing.T) {
	t.Helper()
	gt, err := glue.NewFromConfig(awsCfg).GetTable(context.Background(), &glue.GetTableInput{DatabaseName: aws.String("sluice"), Name: aws.String("clicks")})
	if err != nil {
		t.Fatal(err)
	}
	got := lakeread.ReadS3(t, stack.Endpoint, gt.Table.Parameters["metadata_location"], "amount_cents", "event_id", s.prefix+"-")
	if got.Count != int64(s.kept) || len(got.Keys) != s.kept {
		t.Fatalf("icebird read %d rows, %d distinct, of the test's; want %d once each", got.Count, len(got.Keys), s.kept)
	}
	if got.Sum != fmt.Sprint(s.keptCents) {
		t.Fatalf("icebird read amounts summing to %s, want %d", got.Sum, s.keptCents)
	}
}

// TestStreamIcebergUnderChaos is the stream path's end-to-end test with
// the iceberg sink: clicks under killed extract and commit processes,
// DynamoDB and Lambda throttling and duplicate batches. The windows
// match the reference, and the table holds every kept record exactly
// once, committed a shard's held files at a time.
func TestStreamIcebergUnderChaos(t *testing.T) {
	needStack(t)
	lakeread.Require(t)
	useStreamSpec(t, clicksIceberg)
	seed := seedOf(t)
	plan := &offline.Chaos{Seed: seed, DynamoThrottle: 0.1, Kill: 0.15, KillWithinMS: 100, LambdaThrottle: 0.15, DuplicateKinesis: 0.5,
		Functions: []string{"extract-function", "commit-function"}}
	postChaos(t, http.MethodPost, plan)
	t.Cleanup(func() { postChaos(t, http.MethodDelete, nil) })
	sent := putClicks(t, rand.New(rand.NewPCG(seed, 7)), "/lake", 2000)
	sent.lake = true
	sent.wait(t, 3*time.Minute)
	st := postChaos(t, http.MethodGet, nil)
	postChaos(t, http.MethodDelete, nil)
	sent.check(t)
	if st.Injected[offline.FaultDuplicateBatch] == 0 || st.Injected[offline.FaultKill]+st.Injected[offline.FaultLambdaThrottle] == 0 {
		t.Fatalf("the faults did not happen: %v", st.Injected)
	}
	// The schedule's compaction: one replace commit; every kept click is
	// still in the table once.
	c := compactSpec(t, streamSpecLoc)
	if c.Sink != "sluice.clicks" || c.Merged == 0 || c.FilesAfter >= c.FilesBefore {
		t.Fatalf("compaction %+v", c)
	}
	sent.checkTable(t)
}

// compactSpec invokes the commit function as its schedule does, for one
// spec, and returns what it did.
func compactSpec(t *testing.T, loc string) handler.Compacted {
	t.Helper()
	payload := `{"op":"compact","spec":"` + loc + `"}`
	out, err := lambda.NewFromConfig(awsCfg).Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String(stack.Template.PhysicalName("CommitFunction")), Payload: []byte(payload)})
	if err != nil {
		t.Fatal(err)
	}
	var res handler.LakeOutput
	if out.FunctionError != nil || json.Unmarshal(out.Payload, &res) != nil || len(res.Compacted) != 1 {
		t.Fatalf("compact: %s", out.Payload)
	}
	return res.Compacted[0]
}

// The stream's jsonl output compacted by the commit function, as its
// schedule does: each hour's files become one, and every kept click is
// still there once, with the windows unchanged.
func TestScheduledCompactionOfTheStreamsFiles(t *testing.T) {
	needStack(t)
	useStreamSpec(t, clicksJSONL)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	sent := putClicks(t, rand.New(rand.NewPCG(seed, 11)), "/compact", 1000)
	sent.wait(t, 90*time.Second)
	c := compactSpec(t, streamSpecLoc)
	if c.Sink != "s3://sluice-output-bucket/tables/clicks" || c.Merged == 0 || c.FilesAfter >= c.FilesBefore {
		t.Fatalf("compaction %+v", c)
	}
	perHour := map[string]int{}
	for _, o := range listAll(t, "tables/clicks/hour=") {
		perHour[path.Dir(aws.ToString(o.Key))]++
	}
	for hour, n := range perHour {
		if n != 1 {
			t.Errorf("%s: %d files after compaction, want 1", hour, n)
		}
	}
	sent.check(t)
	t.Logf("%d files compacted into %d", c.FilesBefore, c.FilesAfter)
}

// An upload whose spec writes Parquet with sink.catalog glue: the load
// function registers the run's partitions as it finalizes, and DuckDB
// reads every registered partition's files, as Athena would find them.
func TestGlueRegistrationOnTheLambdaPath(t *testing.T) {
	needStack(t)
	lakeread.RequireDuckDB(t)
	src, err := os.ReadFile("../examples/orders/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sp := strings.Replace(string(src), "name: orders", "name: athena_orders", 1)
	sp = regexp.MustCompile(`(?m)^sink:\n  format: jsonl`).ReplaceAllString(sp, "sink:\n  format: parquet\n  catalog: glue\n  table: {namespace: sluice, name: orders_parquet}")
	if !strings.Contains(sp, "catalog: glue") {
		t.Fatalf("the orders example's sink is no longer jsonl:\n%s", sp)
	}
	put(t, "specs/athena.yaml", []byte(sp))
	data, err := os.ReadFile("../examples/orders/orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	before := seen(t)
	put(t, "incoming/athena/orders.csv", data)
	if e := finished(t, before, 1); e[0].Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s\n%s", e[0].Status, tail(logs.String(), 4000))
	}
	ms := manifestsFor(t, "incoming/athena/orders.csv")
	if len(ms) != 1 || counts(ms[0]) != "25/10/12/3 succeeded chunks 1" {
		t.Fatalf("manifests %v", ms)
	}
	got := lakeread.ReadGlue(t, awsCfg, "sluice", "orders_parquet", "amount_cents")
	if got.Count != 10 || got.Sum != "272914" || strings.Join(got.Partitions, ",") != "2026-11-01,2026-11-02,2026-11-03" {
		t.Fatalf("DuckDB read %+v, want the run's 10 rows in its three day partitions", got)
	}
	for _, loc := range got.Locations {
		if !strings.HasPrefix(loc, "s3://sluice-output-bucket/tables/athena_orders/dt=") {
			t.Errorf("partition location %s is not under the pipeline's output", loc)
		}
	}
}
