package dynamostate_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-etl/sluice/internal/motoserver"
	"github.com/sluice-etl/sluice/shared/adapter/windowstate/dynamostate"
	"github.com/sluice-etl/sluice/shared/adapter/windowstate/windowtest"
	"github.com/sluice-etl/sluice/shared/core/window"
)

var (
	db     *dynamodb.Client
	dbErr  error
	tables int
)

func TestMain(m *testing.M) {
	srv, err := motoserver.Start(context.Background())
	dbErr = err
	if err == nil {
		cfg, err := srv.Config(context.Background())
		dbErr = err
		db = dynamodb.NewFromConfig(cfg)
	}
	code := m.Run()
	srv.Stop()
	os.Exit(code)
}

func newTable(t testing.TB) string {
	t.Helper()
	motoserver.Need(t, dbErr)
	tables++
	name := fmt.Sprintf("windows-%d", tables)
	if _, err := db.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
	}); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestConformanceOnMoto runs the store suite, the exactly-once property
// included, against DynamoDB on moto.
func TestConformanceOnMoto(t *testing.T) {
	windowtest.Run(t, func(t *testing.T) (window.Store, windowtest.Results) {
		table := newTable(t)
		return dynamostate.New(db, table), func(t *testing.T) map[string]window.Cell {
			out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
			if err != nil {
				t.Fatal(err)
			}
			st := dynamostate.New(db, table)
			res := map[string]window.Cell{}
			for _, it := range out.Items {
				pk := it["pk"].(*types.AttributeValueMemberS).Value
				if !strings.HasPrefix(pk, "window#") {
					continue
				}
				var b window.Bounds
				fmt.Sscanf(strings.TrimPrefix(pk, "window#"), "%d/%d", &b.Start, &b.End)
				cells, err := st.Window(context.Background(), b)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range cells {
					res[window.ResultKey(c)] = c
				}
			}
			return res
		}
	})
}

func TestLimitsRefusedClearly(t *testing.T) {
	st := dynamostate.New(db, newTable(t))
	big := window.Snapshot{Version: 1, State: window.State{Open: map[string]*window.Cell{}}}
	for i := range 5000 {
		big.State.Open[fmt.Sprintf("%d/%d/key-%05d", i, i+1, i)] = &window.Cell{Key: fmt.Sprintf("key-%05d", i), Count: 1}
	}
	if err := st.Save(context.Background(), "s", 0, big, nil); !errors.Is(err, dynamostate.ErrStateTooLarge) {
		t.Fatalf("large state: %v", err)
	}
}

// A batch that closes more windows than a transaction holds saves them
// through the state item and writes them all.
func TestManyClosedWindows(t *testing.T) {
	ctx := context.Background()
	st := dynamostate.New(db, newTable(t))
	many := make([]window.Cell, 160)
	for i := range many {
		many[i] = window.Cell{Window: window.Bounds{Start: 0, End: 60000}, Key: fmt.Sprintf("k%03d", i), Shard: "s", Count: int64(i + 1)}
	}
	if err := st.Save(ctx, "s", 0, window.Snapshot{Version: 1, LastSeq: "5"}, many); err != nil {
		t.Fatal(err)
	}
	got, err := st.Closed(ctx, window.Bounds{Start: 0, End: 60000})
	if err != nil || len(got) != 160 || got[0].Key != "k000" || got[159].Count != 160 {
		t.Fatalf("closed = %d cells, %v", len(got), err)
	}
	raw, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.Table()), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "shard#s"}, "sk": &types.AttributeValueMemberS{Value: "state"}}})
	if err != nil || raw.Item["pending_results"] != nil || raw.Item["version"] == nil {
		t.Fatalf("pending results left in the state item: %v %v", raw.Item, err)
	}
	if snap, err := st.Load(ctx, "s"); err != nil || snap.LastSeq != "5" {
		t.Fatalf("load = %+v %v", snap, err)
	}
}

// Cells of one window and key from two shards add up on reading.
func TestShardsMergeOnRead(t *testing.T) {
	ctx := context.Background()
	st := dynamostate.New(db, newTable(t))
	b := window.Bounds{Start: 60000, End: 120000}
	a := window.Cell{Window: b, Key: "k", Shard: "s1", Count: 2, Fields: map[string]window.Agg{"v": {Count: 2, Sum: 5, Min: 1, Max: 4}}}
	c := window.Cell{Window: b, Key: "k", Shard: "s2", Count: 1, Fields: map[string]window.Agg{"v": {Count: 1, Sum: 9, Min: 9, Max: 9}}}
	if err := st.Save(ctx, "s1", 0, window.Snapshot{Version: 1, LastSeq: "1"}, []window.Cell{a}); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(ctx, "s2", 0, window.Snapshot{Version: 1, LastSeq: "1"}, []window.Cell{c}); err != nil {
		t.Fatal(err)
	}
	got, err := st.List(ctx, 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("list = %v %v", got, err)
	}
	if m := got[0]; m.Count != 3 || m.Fields["v"] != (window.Agg{Count: 3, Sum: 14, Min: 1, Max: 9}) || m.Shard != "" {
		t.Fatalf("merged = %+v", m)
	}
	if later, _ := st.List(ctx, 120001); len(later) != 0 {
		t.Fatalf("since filter: %v", later)
	}
}

func TestExpiredResultsAreIgnored(t *testing.T) {
	table := newTable(t)
	st := dynamostate.New(db, table)
	c := window.Cell{Window: window.Bounds{Start: 0, End: 60000}, Key: "k", Count: 1}
	if err := st.Save(context.Background(), "s", 0, window.Snapshot{Version: 1}, []window.Cell{c}); err != nil {
		t.Fatal(err)
	}
	if cells, _ := st.Window(context.Background(), c.Window); len(cells) != 1 {
		t.Fatalf("fresh result: %v", cells)
	}
	later := dynamostate.New(db, table, func(o *dynamostate.Options) {
		o.Clock = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
	})
	if cells, _ := later.Window(context.Background(), c.Window); len(cells) != 0 {
		t.Fatalf("expired result still read: %v", cells)
	}
}

// counting wraps the client and counts the write requests and the items
// they carry.
type counting struct {
	dynamostate.API
	calls, items int
}

func (c *counting) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.calls++
	c.items += len(in.TransactItems)
	return c.API.TransactWriteItems(ctx, in, o...)
}

func (c *counting) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.calls++
	for _, reqs := range in.RequestItems {
		c.items += len(reqs)
	}
	return c.API.BatchWriteItem(ctx, in, o...)
}

// batch makes n records over keys group keys in one minute, plus one
// record two minutes on that closes that minute.
func batch(n, keys, base int) []window.SeqRecord {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	out := make([]window.SeqRecord, 0, n+1)
	for i := range n {
		out = append(out, window.SeqRecord{Seq: fmt.Sprintf("%012d", base+i), Record: window.Record{
			Time: t0.Add(time.Duration(i%60) * time.Second), Key: fmt.Sprintf("k%d", i%keys), Values: map[string]float64{"amount": float64(i)}}})
	}
	return append(out, window.SeqRecord{Seq: fmt.Sprintf("%012d", base+n), Record: window.Record{Time: t0.Add(3 * time.Minute), Key: "k0"}})
}

// TestWritesGrowWithWindowsNotRecords: a batch costs one transaction
// whose items are the state plus the windows and keys it closed, however
// many records it held.
func TestWritesGrowWithWindowsNotRecords(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ records, keys, items int }{
		{100, 5, 6}, {10_000, 5, 6}, {10_000, 50, 51},
	} {
		c := &counting{API: db}
		st := dynamostate.New(c, newTable(t))
		if _, err := window.Apply(ctx, st, windowtest.Spec, "s", batch(tc.records, tc.keys, 0)); err != nil {
			t.Fatal(err)
		}
		if c.calls != 1 || c.items != tc.items {
			t.Errorf("%d records over %d keys: %d write calls with %d items, want 1 with %d", tc.records, tc.keys, c.calls, c.items, tc.items)
		}
	}
}

// BenchmarkWritesPerBatch reports the DynamoDB write calls and items of
// one batch on moto, by records and keys.
func BenchmarkWritesPerBatch(b *testing.B) {
	ctx := context.Background()
	for _, records := range []int{100, 1000, 10_000} {
		for _, keys := range []int{1, 10, 50} {
			b.Run(fmt.Sprintf("records=%d/keys=%d", records, keys), func(b *testing.B) {
				c := &counting{API: db}
				st := dynamostate.New(c, newTable(b))
				base := 0
				for b.Loop() {
					shard := fmt.Sprintf("s%d", base)
					if _, err := window.Apply(ctx, st, windowtest.Spec, shard, batch(records, keys, base)); err != nil {
						b.Fatal(err)
					}
					base += records + 1
				}
				b.ReportMetric(float64(c.calls)/float64(b.N), "writes/batch")
				b.ReportMetric(float64(c.items)/float64(b.N), "items/batch")
			})
		}
	}
}
