package handler_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/handler"
)

// fakeLambda answers Invoke with a fixed output; a fault no local server
// gives on demand.
type fakeLambda struct {
	out  *lambda.InvokeOutput
	got  *lambda.InvokeInput
	fail error
}

func (f *fakeLambda) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.got = in
	return f.out, f.fail
}

func TestLambdaInvokerReturnsTheFunctionsError(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload string
		want    string
	}{
		{"handler error", `{"errorMessage":"prepare sluice.orders: table sluice.orders has column amount as double, the spec decimal(18, 2)","errorType":"errorString"}`,
			"commit-fn: prepare sluice.orders: table sluice.orders has column amount as double, the spec decimal(18, 2)"},
		{"crash", `not json`, "commit-fn: not json"},
	} {
		f := &fakeLambda{out: &lambda.InvokeOutput{FunctionError: aws.String("Unhandled"), Payload: []byte(tc.payload)}}
		_, err := handler.LambdaInvoker{API: f, Function: "commit-fn"}.InvokeLake(context.Background(), []byte(`{"op":"prepare"}`))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if aws.ToString(f.got.FunctionName) != "commit-fn" || string(f.got.Payload) != `{"op":"prepare"}` {
			t.Errorf("%s: invoked %s with %s", tc.name, aws.ToString(f.got.FunctionName), f.got.Payload)
		}
	}
	f := &fakeLambda{out: &lambda.InvokeOutput{Payload: []byte(`{"table":"sluice.orders","done":true}`)}}
	out, err := handler.LambdaInvoker{API: f, Function: "c"}.InvokeLake(context.Background(), nil)
	if err != nil || string(out) != `{"table":"sluice.orders","done":true}` {
		t.Errorf("answer %s, %v", out, err)
	}
}

// An iceberg spec on a function with no commit function fails at
// extract, saying so, before anything is staged.
func TestIcebergSpecWithoutACommitFunction(t *testing.T) {
	ctx := context.Background()
	buckets := map[string]*memblob.Bucket{"in": memblob.New(), "staging": memblob.New()}
	open := func(_ context.Context, name string) (storage.Bucket, error) { return buckets[name], nil }
	spec := "name: t\nfields: [{name: a}]\nsink: {format: iceberg, catalog: glue, table: {namespace: sluice, name: t}}\n"
	if err := storage.WriteAll(ctx, buckets["in"], "specs/t.yaml", []byte(spec)); err != nil {
		t.Fatal(err)
	}
	if err := storage.WriteAll(ctx, buckets["in"], "incoming/t/x.csv", []byte("a\n1\n")); err != nil {
		t.Fatal(err)
	}
	s := handler.Settings{Specs: map[string]string{"incoming/t/": "s3://in/specs/t.yaml"}, StagingBucket: "staging", ChunkBytes: 1 << 20, MaxInlineChunks: 4, MaxConcurrency: 1}
	_, err := handler.NewExtractor(s, handler.Deps{Open: open}).Plan(ctx, handler.ObjectRef{Bucket: "in", Key: "incoming/t/x.csv"})
	if err == nil || !strings.Contains(err.Error(), "has an iceberg sink, and this function has no commit function (SLUICE_COMMIT_FUNCTION)") {
		t.Fatalf("plan: %v", err)
	}
	if objs, _ := buckets["staging"].List(ctx, ""); len(objs) != 0 {
		t.Errorf("staging holds %d objects", len(objs))
	}
}
