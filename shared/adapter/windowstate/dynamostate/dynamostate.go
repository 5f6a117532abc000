// Package dynamostate keeps window state and closed-window results in
// DynamoDB (the template's window-state table: key pk, sk; TTL
// expires_at). A shard's state and its checkpoint are one item; a save is
// one TransactWriteItems that puts the state under a version condition
// together with the results, so a batch is applied exactly once.
//
// Key scheme:
//
//	pk "shard#<shard>"             sk "state"                 the snapshot (JSON), version, last_seq
//	pk "window#<start>/<end>"      sk "<group key>#<shard>"   one shard's aggregates for a closed window and key
//
// Window bounds are Unix milliseconds. A result item also holds
// window_start, window_end, group_key, shard, count and result (the
// window.Cell as JSON), and expires_at for TTL. The cells of one window
// and key from several shards add up to the window's aggregate
// (window.MergeShards); Closed does that.
//
// A save carries up to MaxResults closed windows in its transaction. When
// a batch closes more, they ride in the state item (pending_results) and
// are written right after the transaction, and again by the next Load if
// that write did not finish, so none is lost.
package dynamostate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-etl/sluice/shared/core/window"
)

// API is the part of *dynamodb.Client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Limits of one save.
const (
	// MaxStateBytes keeps the state item under DynamoDB's 400 KB.
	MaxStateBytes = 350_000
	// MaxResults is how many closed windows one transaction carries with
	// the state (DynamoDB allows 100 items); more go through
	// pending_results.
	MaxResults = 99
)

// ErrStateTooLarge refuses a save that cannot fit DynamoDB's item limit.
var ErrStateTooLarge = errors.New("window state over the 400 KB item limit")

// Options configure a Store.
type Options struct {
	// Keep is how long closed-window results live before TTL removes them
	// (default 30 days).
	Keep time.Duration
	// Clock dates results and reads their expiry (default time.Now).
	Clock func() time.Time
}

// Store is a window.Store on one table.
type Store struct {
	api   API
	table string
	opt   Options
}

var _ window.Store = (*Store)(nil)

// New returns a Store on table.
func New(api API, table string, optFns ...func(*Options)) *Store {
	st := &Store{api: api, table: table, opt: Options{Keep: 30 * 24 * time.Hour, Clock: time.Now}}
	for _, fn := range optFns {
		fn(&st.opt)
	}
	return st
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func stateKey(shard string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s("shard#" + shard), "sk": s("state")}
}

// Table is the table's name.
func (st *Store) Table() string { return st.table }

// Load implements window.Store.
func (st *Store) Load(ctx context.Context, shard string) (window.Snapshot, error) {
	out, err := st.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.table), Key: stateKey(shard), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return window.Snapshot{}, fmt.Errorf("get state of %s: %w", shard, err)
	}
	if out.Item == nil {
		return window.Snapshot{}, nil
	}
	if p, ok := out.Item["pending_results"].(*types.AttributeValueMemberS); ok {
		var ver int64
		if v, ok := out.Item["version"].(*types.AttributeValueMemberN); ok {
			ver, _ = strconv.ParseInt(v.Value, 10, 64)
		}
		if err := st.flush(ctx, shard, ver, p.Value); err != nil {
			return window.Snapshot{}, err
		}
	}
	var snap window.Snapshot
	body, ok := out.Item["state"].(*types.AttributeValueMemberS)
	if !ok {
		return snap, fmt.Errorf("state of %s has no state attribute", shard)
	}
	if err := json.Unmarshal([]byte(body.Value), &snap); err != nil {
		return snap, fmt.Errorf("decode state of %s: %w", shard, err)
	}
	return snap, nil
}

// Save implements window.Store.
func (st *Store) Save(ctx context.Context, shard string, prev int64, next window.Snapshot, results []window.Cell) error {
	body, err := json.Marshal(next)
	if err != nil {
		return err
	}
	item := stateKey(shard)
	item["state"] = s(string(body))
	item["version"] = n(next.Version)
	item["last_seq"] = s(next.LastSeq)
	size := len(body)
	var pending string
	if len(results) > MaxResults {
		b, err := json.Marshal(results)
		if err != nil {
			return err
		}
		pending = string(b)
		item["pending_results"] = s(pending)
		size += len(b)
	}
	if size > MaxStateBytes {
		return fmt.Errorf("%w: shard %s state is %d bytes (at most %d); use fewer keys, a shorter window or a smaller batch size", ErrStateTooLarge, shard, size, MaxStateBytes)
	}
	put := &types.Put{TableName: aws.String(st.table), Item: item}
	if prev == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		put.ConditionExpression = aws.String("version = :prev")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":prev": n(prev)}
	}
	items := []types.TransactWriteItem{{Put: put}}
	if pending == "" {
		for _, c := range results {
			it, err := st.resultItem(c)
			if err != nil {
				return err
			}
			items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(st.table), Item: it}})
		}
	}
	_, err = st.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) {
		for _, r := range canceled.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				return fmt.Errorf("shard %s: %w", shard, window.ErrConflict)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("save state of %s: %w", shard, err)
	}
	if pending != "" {
		return st.flush(ctx, shard, next.Version, pending)
	}
	return nil
}

// ResultItem is a closed window's item.
type ResultItem struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	WindowStart int64  `dynamodbav:"window_start"`
	WindowEnd   int64  `dynamodbav:"window_end"`
	GroupKey    string `dynamodbav:"group_key"`
	Shard       string `dynamodbav:"shard"`
	Count       int64  `dynamodbav:"count"`
	Result      string `dynamodbav:"result"`
	ExpiresAt   int64  `dynamodbav:"expires_at"`
}

// WindowPK is the partition key of a window's results.
func WindowPK(b window.Bounds) string { return fmt.Sprintf("window#%d/%d", b.Start, b.End) }

func (st *Store) resultItem(c window.Cell) (map[string]types.AttributeValue, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return attributevalue.MarshalMap(ResultItem{PK: WindowPK(c.Window), SK: c.Key + "#" + c.Shard,
		WindowStart: c.Window.Start, WindowEnd: c.Window.End, GroupKey: c.Key, Shard: c.Shard,
		Count: c.Count, Result: string(data), ExpiresAt: st.opt.Clock().Add(st.opt.Keep).Unix()})
}

// PutResults writes results outside a transaction, 25 to a request,
// retrying unprocessed items. Keys are deterministic, so a repeat leaves
// one item each.
func (st *Store) PutResults(ctx context.Context, results []window.Cell) error {
	for len(results) > 0 {
		n := min(25, len(results))
		var reqs []types.WriteRequest
		for _, c := range results[:n] {
			it, err := st.resultItem(c)
			if err != nil {
				return err
			}
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		}
		results = results[n:]
		for attempt := 0; len(reqs) > 0; attempt++ {
			if attempt == 8 {
				return fmt.Errorf("write window results: %d items still unprocessed", len(reqs))
			}
			if attempt > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Duration(25<<attempt) * time.Millisecond):
				}
			}
			out, err := st.api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{st.table: reqs}})
			if err != nil {
				return fmt.Errorf("write window results: %w", err)
			}
			reqs = out.UnprocessedItems[st.table]
		}
	}
	return nil
}

// flush writes results that rode in the state item, then removes them
// from it unless a newer version has replaced the item.
func (st *Store) flush(ctx context.Context, shard string, version int64, pending string) error {
	var cells []window.Cell
	if err := json.Unmarshal([]byte(pending), &cells); err != nil {
		return fmt.Errorf("pending results of %s: %w", shard, err)
	}
	if err := st.PutResults(ctx, cells); err != nil {
		return fmt.Errorf("pending results of %s: %w", shard, err)
	}
	_, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(st.table), Key: stateKey(shard),
		UpdateExpression:          aws.String("REMOVE pending_results"),
		ConditionExpression:       aws.String("version = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": n(version)}})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("clear pending results of %s: %w", shard, err)
	}
	return nil
}

// Window reads one closed window's results, ignoring expired items
// (TTL deletes them only eventually).
func (st *Store) Window(ctx context.Context, b window.Bounds) ([]window.Cell, error) {
	out, err := st.api.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(st.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(WindowPK(b))}})
	if err != nil {
		return nil, fmt.Errorf("query window %d/%d: %w", b.Start, b.End, err)
	}
	return st.cells(out.Items), nil
}

func (st *Store) cells(items []map[string]types.AttributeValue) []window.Cell {
	now := st.opt.Clock().Unix()
	var cells []window.Cell
	for _, it := range items {
		if e, ok := it["expires_at"].(*types.AttributeValueMemberN); ok {
			if v, _ := strconv.ParseInt(e.Value, 10, 64); v <= now {
				continue
			}
		}
		var c window.Cell
		if r, ok := it["result"].(*types.AttributeValueMemberS); ok && json.Unmarshal([]byte(r.Value), &c) == nil {
			cells = append(cells, c)
		}
	}
	return cells
}

// Closed reads one window's results with the shards merged.
func (st *Store) Closed(ctx context.Context, b window.Bounds) ([]window.Cell, error) {
	cells, err := st.Window(ctx, b)
	if err != nil {
		return nil, err
	}
	return window.MergeShards(cells), nil
}

// List reads every unexpired closed-window result whose window ends at or
// after since (Unix ms), with the shards merged, sorted by window then key.
func (st *Store) List(ctx context.Context, since int64) ([]window.Cell, error) {
	var all []window.Cell
	in := &dynamodb.ScanInput{TableName: aws.String(st.table),
		FilterExpression:          aws.String("begins_with(pk, :w) AND window_end >= :since"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":w": s("window#"), ":since": n(since)}}
	for {
		out, err := st.api.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("scan window results: %w", err)
		}
		all = append(all, st.cells(out.Items)...)
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	return window.MergeShards(all), nil
}

// ShardState is a shard's checkpoint and running counts, as `sluice
// windows --shards` lists them.
type ShardState struct {
	Shard    string          `json:"shard"`
	Snapshot window.Snapshot `json:"snapshot"`
}

// Shards reads every shard's state item.
func (st *Store) Shards(ctx context.Context) ([]ShardState, error) {
	var out []ShardState
	in := &dynamodb.ScanInput{TableName: aws.String(st.table), FilterExpression: aws.String("begins_with(pk, :s) AND sk = :state"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": s("shard#"), ":state": s("state")}}
	for {
		page, err := st.api.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("scan shard states: %w", err)
		}
		for _, it := range page.Items {
			pk, _ := it["pk"].(*types.AttributeValueMemberS)
			body, ok := it["state"].(*types.AttributeValueMemberS)
			if pk == nil || !ok {
				continue
			}
			var snap window.Snapshot
			if err := json.Unmarshal([]byte(body.Value), &snap); err != nil {
				return nil, fmt.Errorf("decode state of %s: %w", pk.Value, err)
			}
			out = append(out, ShardState{Shard: strings.TrimPrefix(pk.Value, "shard#"), Snapshot: snap})
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Shard < out[j].Shard })
	return out, nil
}
