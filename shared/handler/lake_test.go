package handler_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/handler"
)

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
