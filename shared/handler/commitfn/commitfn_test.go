package commitfn_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-etl/sluice/examples"
	"github.com/sluice-etl/sluice/internal/lakeread"
	"github.com/sluice-etl/sluice/internal/motoserver"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/s3blob"
	"github.com/sluice-etl/sluice/shared/adapter/table/icebergtable"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/handler"
	"github.com/sluice-etl/sluice/shared/handler/commitfn"
)

const (
	input, staging, output = "sluice-input-bucket", "sluice-staging-bucket", "sluice-output-bucket"
	specLoc                = "s3://" + input + "/specs/orders.yaml"
	warehouse              = "s3://" + output + "/warehouse"
)

// inProcess is the commit function called as Lambda would call it: the
// payload through its JSON handler, a returned error as a function error.
type inProcess struct{ h lambda.Handler }

func (p inProcess) InvokeLake(ctx context.Context, payload []byte) ([]byte, error) {
	return p.h.Invoke(ctx, payload)
}

// stack is the functions' settings and dependencies on moto, with the
// commit function called in-process.
type stack struct {
	cfg  aws.Config
	s    handler.Settings
	d    handler.Deps
	c    *commitfn.Committer
	open handler.Opener
}

// newStack creates the buckets, the Glue database and the spec (the
// iceberg example on glue with the stack's warehouse, edited by edit).
func newStack(t *testing.T, edit func(string) string) *stack {
	t.Helper()
	ctx := context.Background()
	cfg := motoserver.ForTest(t)
	s3c := s3.NewFromConfig(cfg, s3blob.LocalEndpointOptions)
	for _, b := range []string{input, staging, output} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := glue.NewFromConfig(cfg).CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &gluetypes.DatabaseInput{Name: aws.String("sluice")}}); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../../../examples/orders-iceberg/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sp := strings.Replace(string(src), "  catalog: local ", "  catalog: glue #", 1)
	sp = edit(strings.Replace(sp, "namespace: default", "namespace: sluice", 1))
	st := &stack{cfg: cfg, open: handler.S3Opener(s3c)}
	in, _ := st.open(ctx, input)
	if err := storage.WriteAll(ctx, in, "specs/orders.yaml", []byte(sp)); err != nil {
		t.Fatal(err)
	}
	dir, err := examples.WriteOrders(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(dir + "/orders.csv")
	if err := storage.WriteAll(ctx, in, "incoming/orders/orders.csv", data); err != nil {
		t.Fatal(err)
	}
	st.s = handler.Settings{
		Specs: map[string]string{"incoming/orders/": specLoc}, StagingBucket: staging, OutputBucket: output, OutputPrefix: "tables",
		ChunkBytes: 64 << 20, MaxInlineChunks: 40, MaxConcurrency: 4,
		CommitFunction: "commit", Warehouse: warehouse, GlueDatabase: "sluice",
	}
	st.c = commitfn.New(st.s, handler.Deps{Open: st.open}, func(o *commitfn.Options) {
		o.Endpoint, o.Region = aws.ToString(cfg.BaseEndpoint), cfg.Region
	})
	t.Cleanup(func() { st.c.Close() })
	lakes := handler.LakeClient{Invoker: inProcess{lambda.NewHandler(st.c.Handle)}, Open: st.open, Warehouse: warehouse}
	st.d = handler.Deps{Open: st.open, Lakes: lakes.Lake}
	return st
}

func call(t *testing.T, h any, in, out any) error {
	t.Helper()
	payload, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := lambda.NewHandler(h).Invoke(context.Background(), payload)
	if err != nil {
		return err
	}
	return json.Unmarshal(resp, out)
}

func (st *stack) extract(t *testing.T) (handler.Planned, error) {
	t.Helper()
	return st.extractKey(t, "incoming/orders/orders.csv")
}

func (st *stack) extractKey(t *testing.T, key string) (handler.Planned, error) {
	t.Helper()
	var planned handler.Planned
	err := call(t, handler.NewExtractor(st.s, st.d).Plan, handler.ObjectRef{Bucket: input, Key: key}, &planned)
	return planned, err
}

// run plans, transforms, loads and finalizes the upload, as the state
// machine does, and returns the final answer.
func (st *stack) run(t *testing.T) handler.LoadOutput {
	t.Helper()
	return st.runKey(t, "incoming/orders/orders.csv")
}

// runKey runs the upload of key.
func (st *stack) runKey(t *testing.T, key string) handler.LoadOutput {
	t.Helper()
	planned, err := st.extractKey(t, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range planned.Chunks {
		var done handler.ChunkDone
		if err := call(t, handler.NewTransformer(st.s, st.d).Handle, c, &done); err != nil {
			t.Fatal(err)
		}
	}
	ld := handler.NewLoader(st.s, st.d)
	var loaded, final handler.LoadOutput
	if err := call(t, ld.Handle, handler.LoadInput{Action: handler.ActionLoad, Run: planned}, &loaded); err != nil {
		t.Fatal(err)
	}
	fin := handler.LoadInput{Action: handler.ActionFinalize, Run: planned, ManifestKey: loaded.ManifestKey}
	if err := call(t, ld.Handle, fin, &final); err != nil {
		t.Fatal(err)
	}
	// A retried finalize (its answer lost) commits nothing again.
	var again handler.LoadOutput
	if err := call(t, ld.Handle, fin, &again); err != nil || again != final {
		t.Fatalf("retried finalize: %+v, %v; first %+v", again, err, final)
	}
	return final
}

// table opens the table the functions committed to, from Glue.
func (st *stack) table(t *testing.T) *icebergtable.Catalog {
	t.Helper()
	c, err := icebergtable.Open(context.Background(), icebergtable.Location{Kind: spec.CatalogGlue, Warehouse: warehouse,
		Region: st.cfg.Region, Endpoint: aws.ToString(st.cfg.BaseEndpoint)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// The Lambda path of the iceberg sink: extract prepares the table through
// the commit function, load publishes the data files into the stack's
// warehouse, finalize commits them once. Run twice (S3 repeating the
// event), and with finalize retried, the table holds one snapshot with
// the run's counts.
func TestLambdaPathCommitsOnceToGlue(t *testing.T) {
	st := newStack(t, func(s string) string { return s })
	first := st.run(t)
	if first.Status != "succeeded" || first.In != 25 || first.Out != 10 || first.Rejected != 12 || first.Filtered != 3 {
		t.Fatalf("first run: %+v", first)
	}
	if second := st.run(t); second.RunID != first.RunID || second.Out != first.Out {
		t.Fatalf("second run: %+v, first %+v", second, first)
	}
	ctx := context.Background()
	hist, err := st.table(t).History(ctx, "sluice.orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].RunID != first.RunID || hist[0].Out != 10 || hist[0].In != 25 || hist[0].Rejected != 12 ||
		hist[0].Filtered != 3 || hist[0].TotalRecords != 10 || !strings.HasSuffix(hist[0].Source, "incoming/orders/orders.csv") {
		t.Fatalf("history %+v, want one snapshot of run %s", hist, first.RunID)
	}
	// icebird, not iceberg-go, reads the table from where Glue points.
	gt, err := glue.NewFromConfig(st.cfg).GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String("sluice"), Name: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	got := lakeread.ReadS3(t, aws.ToString(st.cfg.BaseEndpoint), gt.Table.Parameters["metadata_location"], "amount_cents", "order_id", "")
	// The jsonl sink's rows of the same upload (examples/orders).
	wantKeys := "1001,1002,1003,1006,1007,1014,1015,1020,1022,1024"
	if got.Count != 10 || got.Sum != "272914" || strings.Join(got.Keys, ",") != wantKeys {
		t.Errorf("icebird read %+v, want 10 rows, amount_cents summing to 272914, order ids %s", got, wantKeys)
	}
	out, _ := st.open(ctx, output)
	objs, err := out.List(ctx, "warehouse/sluice/orders/data/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 {
		t.Errorf("%d data files in the warehouse, want one per day (3)", len(objs))
	}
	marker := layout.SuccessKey(layout.RunManifestPrefix(layout.PipelinePrefix("tables", "orders"), first.RunID))
	if objs, _ := out.List(ctx, marker); len(objs) != 1 {
		t.Errorf("no success marker after the commit")
	}
}

// A spec whose table is outside the stack's Glue database, or whose
// warehouse is outside the stack's, fails at extract, naming both, before
// any of the run's data is written.
func TestCommitFunctionKeepsToTheStacksGrants(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(string) string
		want string
	}{
		"database": {func(s string) string { return strings.Replace(s, "namespace: sluice", "namespace: finance", 1) },
			"table finance.orders is outside this deployment's Glue database sluice"},
		"warehouse": {func(s string) string {
			return strings.Replace(s, "  catalog: glue #", "  catalog: glue\n  warehouse: s3://other/lake #", 1)
		},
			"warehouse s3://other/lake is outside this deployment's s3://sluice-output-bucket/warehouse"},
		"local catalog": {func(s string) string { return strings.Replace(s, "  catalog: glue #", "  catalog: local #", 1) },
			"the iceberg sink's local catalog is for sluice run on one machine"},
	} {
		t.Run(name, func(t *testing.T) {
			st := newStack(t, tc.edit)
			_, err := st.extract(t)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("extract: %v, want %q", err, tc.want)
			}
			sb, _ := st.open(context.Background(), staging)
			if objs, _ := sb.List(context.Background(), ""); len(objs) != 0 {
				t.Errorf("staging holds %d objects after a refused run", len(objs))
			}
		})
	}
}

// A spec that gains a column in the middle of its output, on the Lambda
// path: extract's prepare evolves the table (the new column gets a new
// field id, the columns after it keep theirs), the data files carry the
// table's ids, and icebird reads the new column null for the first run's
// rows.
func TestLambdaPathEvolvesTheTable(t *testing.T) {
	st := newStack(t, func(s string) string { return s })
	first := st.run(t)
	ctx := context.Background()
	in, _ := st.open(ctx, input)
	sp, err := storage.ReadAll(ctx, in, "specs/orders.yaml")
	if err != nil {
		t.Fatal(err)
	}
	grown := strings.Replace(string(sp), "  - name: email\n", "  - name: notes\n  - name: email\n", 1)
	if grown == string(sp) {
		t.Fatal("the example no longer has an email field")
	}
	if err := storage.WriteAll(ctx, in, "specs/orders.yaml", []byte(grown)); err != nil {
		t.Fatal(err)
	}
	more := []byte("order_id,user_id,email,amount,currency,status,country,created_at,notes\n1100,599,zed@example.com,5.00,USD,paid,US,2026-11-03T10:00:00Z,late note\n")
	if err := storage.WriteAll(ctx, in, "incoming/orders/more.csv", more); err != nil {
		t.Fatal(err)
	}
	second := st.runKey(t, "incoming/orders/more.csv")
	if second.RunID == first.RunID || second.Out != 1 {
		t.Fatalf("second run %+v", second)
	}
	gt, err := glue.NewFromConfig(st.cfg).GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String("sluice"), Name: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	// The first run's 10 rows, written before the column existed, read
	// it null; the new row has its note.
	got := lakeread.ReadS3Nulls(t, aws.ToString(st.cfg.BaseEndpoint), gt.Table.Parameters["metadata_location"], "amount_cents", "order_id", "", "notes")
	if got.Count != 11 || got.Sum != "273414" || got.Nulls != 10 {
		t.Fatalf("icebird read %+v, want 11 rows summing to 273414, the first run's 10 notes null", got)
	}
}
