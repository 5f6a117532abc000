package dynamosink_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-etl/sluice/shared/adapter/sink/dynamosink"
)

// fakeDB records calls; unprocessed says how many items of each call to
// hand back unprocessed (a fault moto cannot produce: it never throttles).
type fakeDB struct {
	calls       [][]types.WriteRequest
	unprocessed []int
	stored      map[string]map[string]types.AttributeValue
}

func (f *fakeDB) BatchWriteItem(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	reqs := in.RequestItems["t"]
	if len(reqs) > dynamosink.MaxBatch {
		return nil, fmt.Errorf("too many items: %d", len(reqs))
	}
	f.calls = append(f.calls, reqs)
	n := 0
	if len(f.calls) <= len(f.unprocessed) {
		n = min(f.unprocessed[len(f.calls)-1], len(reqs))
	}
	for _, r := range reqs[n:] {
		id := r.PutRequest.Item["id"].(*types.AttributeValueMemberN).Value
		f.stored[id] = r.PutRequest.Item
	}
	out := &dynamodb.BatchWriteItemOutput{}
	if n > 0 {
		out.UnprocessedItems = map[string][]types.WriteRequest{"t": reqs[:n]}
	}
	return out, nil
}

func rows(n int) []map[string]any {
	var out []map[string]any
	for i := range n {
		out = append(out, map[string]any{"id": json.Number(fmt.Sprint(i)), "name": fmt.Sprintf("n%d", i), "ok": i%2 == 0, "gone": nil})
	}
	return out
}

func TestBatchesOf25AndRetriesUnprocessed(t *testing.T) {
	db := &fakeDB{unprocessed: []int{10, 3, 0}, stored: map[string]map[string]types.AttributeValue{}}
	var sleeps []time.Duration
	w := dynamosink.New(db, "t", []string{"id"}, func(o *dynamosink.Options) {
		o.Sleep = func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }
		o.Rand = func(n int64) int64 { return n - 1 } // the top of each jitter window
	})
	if err := w.Upsert(context.Background(), rows(60)); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, c := range db.calls {
		sizes = append(sizes, len(c))
	}
	// 60 rows: 25 (10 come back, then 3 of those, then none), 25, 10.
	if fmt.Sprint(sizes) != "[25 10 3 25 10]" {
		t.Fatalf("call sizes %v", sizes)
	}
	if fmt.Sprint(sleeps) != "[50ms 100ms]" {
		t.Fatalf("backoff %v", sleeps)
	}
	if len(db.stored) != 60 {
		t.Fatalf("stored %d items, want 60", len(db.stored))
	}
	it := db.stored["7"]
	if it["name"].(*types.AttributeValueMemberS).Value != "n7" || it["ok"].(*types.AttributeValueMemberBOOL).Value || !it["gone"].(*types.AttributeValueMemberNULL).Value {
		t.Fatalf("item 7 = %v", it)
	}
}

func TestGivesUpWithError(t *testing.T) {
	db := &fakeDB{unprocessed: []int{25, 25, 25}, stored: map[string]map[string]types.AttributeValue{}}
	w := dynamosink.New(db, "t", []string{"id"}, func(o *dynamosink.Options) {
		o.MaxAttempts = 3
		o.Sleep = func(context.Context, time.Duration) error { return nil }
	})
	err := w.Upsert(context.Background(), rows(25))
	if !errors.Is(err, dynamosink.ErrUnprocessed) || len(db.calls) != 3 {
		t.Fatalf("err = %v after %d calls", err, len(db.calls))
	}
}

func TestDuplicateKeysCollapseToLast(t *testing.T) {
	db := &fakeDB{stored: map[string]map[string]types.AttributeValue{}}
	w := dynamosink.New(db, "t", []string{"id"})
	in := []map[string]any{
		{"id": json.Number("1"), "v": "first"}, {"id": json.Number("2"), "v": "x"}, {"id": json.Number("1"), "v": "last"},
	}
	if err := w.Upsert(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if len(db.calls) != 1 || len(db.calls[0]) != 2 || db.stored["1"]["v"].(*types.AttributeValueMemberS).Value != "last" {
		t.Fatalf("calls %d, stored %v", len(db.calls), db.stored)
	}
	if err := w.Upsert(context.Background(), []map[string]any{{"v": "no key"}}); err == nil {
		t.Fatal("a row without its key was accepted")
	}
}
