package handler_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-etl/sluice/examples"
	"github.com/sluice-etl/sluice/internal/motoserver"
	"github.com/sluice-etl/sluice/shared/adapter/metrics/dynamometrics"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/s3blob"
	"github.com/sluice-etl/sluice/shared/handler"
)

// TestPipelineOnMoto runs extract, transform, load and finalize against a
// real S3 and DynamoDB API (moto_server on loopback) through the same
// clients the mains create.
func TestPipelineOnMoto(t *testing.T) {
	cfg := motoserver.ForTest(t)
	ctx := context.Background()
	s3c := s3.NewFromConfig(cfg, s3blob.LocalEndpointOptions)
	ddb := dynamodb.NewFromConfig(cfg)
	for _, b := range []string{"sluice-input-bucket", "sluice-staging-bucket", "sluice-output-bucket"} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("sluice-metrics-table"),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("run_id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("run_id"), KeyType: ddbtypes.KeyTypeHash}},
	}); err != nil {
		t.Fatal(err)
	}
	dir, err := examples.WriteOrders(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(dir + "/orders.csv")
	open := handler.S3Opener(s3c)
	in, _ := open(ctx, "sluice-input-bucket")
	if err := storage.WriteAll(ctx, in, "incoming/orders/orders.csv", data); err != nil {
		t.Fatal(err)
	}
	s := handler.Settings{
		Specs: map[string]string{"incoming/orders/": "bundled:orders"}, StagingBucket: "sluice-staging-bucket",
		OutputBucket: "sluice-output-bucket", OutputPrefix: "tables", MetricsTable: "sluice-metrics-table",
		ChunkBytes: 64 << 20, MaxInlineChunks: 40, MaxConcurrency: 4,
	}
	deps := handler.Deps{Open: open, Metrics: dynamometrics.New(ddb, "sluice-metrics-table")}

	var planned handler.Planned
	if err := invoke(t, handler.NewExtractor(s, deps), fixture(t, "eventbridge-object-created.json"), &planned); err != nil {
		t.Fatal(err)
	}
	var done handler.ChunkDone
	chunk, _ := json.Marshal(planned.Chunks[0])
	if err := invoke(t, handler.NewTransformer(s, deps).Handle, chunk, &done); err != nil || done.Records != 25 {
		t.Fatalf("transform: %+v %v", done, err)
	}
	ld := handler.NewLoader(s, deps)
	var loaded, final handler.LoadOutput
	payload, _ := json.Marshal(handler.LoadInput{Action: handler.ActionLoad, Run: planned})
	if err := invoke(t, ld.Handle, payload, &loaded); err != nil {
		t.Fatal(err)
	}
	payload, _ = json.Marshal(handler.LoadInput{Action: handler.ActionFinalize, Run: planned, ManifestKey: loaded.ManifestKey})
	if err := invoke(t, ld.Handle, payload, &final); err != nil {
		t.Fatal(err)
	}
	if final.Status != "succeeded" || final.In != 25 || final.Out != 10 || final.Rejected != 12 || final.Filtered != 3 {
		t.Fatalf("final = %+v", final)
	}
	out, _ := open(ctx, "sluice-output-bucket")
	objs, err := out.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var rows int
	for _, o := range objs {
		keys = append(keys, o.Key)
		if strings.HasPrefix(o.Key, "tables/orders/dt=") {
			b, _ := storage.ReadAll(ctx, out, o.Key)
			rows += strings.Count(string(b), "\n")
		}
	}
	// Parts of three days, the rejects, the manifest, the profile and
	// _SUCCESS, and the source index naming the run.
	if len(keys) != 8 || rows != 10 || !strings.HasPrefix(keys[1], "tables/_sources/orders/") {
		t.Fatalf("output objects %v with %d rows", keys, rows)
	}
	if left, _ := handler.S3Opener(s3c)(ctx, "sluice-staging-bucket"); left != nil {
		if l, _ := left.List(ctx, ""); len(l) != 0 {
			t.Fatalf("staging not cleared: %d objects", len(l))
		}
	}
	item, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("sluice-metrics-table"),
		Key: map[string]ddbtypes.AttributeValue{"run_id": &ddbtypes.AttributeValueMemberS{Value: planned.RunID}}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(k string) string {
		switch v := item.Item[k].(type) {
		case *ddbtypes.AttributeValueMemberS:
			return v.Value
		case *ddbtypes.AttributeValueMemberN:
			return v.Value
		}
		return "?"
	}
	if get("status") != "succeeded" || get("records_in") != "25" || get("records_out") != "10" || get("records_rejected") != "12" || get("pipeline") != "orders" {
		t.Fatalf("metrics item = %v", item.Item)
	}
}
