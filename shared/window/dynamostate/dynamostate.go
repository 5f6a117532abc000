// Package dynamostate keeps window state and closed-window results in
// DynamoDB (the template's window-state table: key pk, sk; TTL
// expires_at). A shard's state and its checkpoint are one item; a save is
// one TransactWriteItems that puts the state under a version condition
// together with the results, so a batch is applied exactly once.
//
// Key scheme:
//
//	pk "shard#<shard>"             sk "state"          the snapshot (JSON), version, last_seq
//	pk "window#<start>/<end>"      sk "<group key>"    one closed window's aggregates
//
// Window bounds are Unix milliseconds.
package dynamostate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-etl/sluice/shared/window"
)

// API is the part of *dynamodb.Client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Limits of one save.
const (
	// MaxStateBytes keeps the state item under DynamoDB's 400 KB.
	MaxStateBytes = 350_000
	// MaxResults is how many closed windows one transaction can carry
	// with the state (DynamoDB allows 100 items).
	MaxResults = 99
)

// Errors for saves that cannot fit DynamoDB's limits.
var (
	ErrStateTooLarge = errors.New("window state over the 400 KB item limit")
	ErrTooManyClosed = errors.New("too many windows closed in one batch")
)

// Store is a window.Store on one table.
type Store struct {
	api   API
	table string
	// Keep is how long closed-window results live before TTL removes them.
	Keep time.Duration
	Now  func() time.Time
}

var _ window.Store = (*Store)(nil)

// New returns a Store on table.
func New(api API, table string) *Store {
	return &Store{api: api, table: table, Keep: 30 * 24 * time.Hour, Now: time.Now}
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func stateKey(shard string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s("shard#" + shard), "sk": s("state")}
}

// Load implements window.Store.
func (st *Store) Load(ctx context.Context, shard string) (window.Snapshot, error) {
	out, err := st.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.table), Key: stateKey(shard), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return window.Snapshot{}, fmt.Errorf("get state of %s: %w", shard, err)
	}
	if out.Item == nil {
		return window.Snapshot{}, nil
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
	if len(results) > MaxResults {
		return fmt.Errorf("%w: %d (at most %d); use a smaller batch size", ErrTooManyClosed, len(results), MaxResults)
	}
	body, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if len(body) > MaxStateBytes {
		return fmt.Errorf("%w: shard %s state is %d bytes (at most %d); use fewer keys or a shorter window", ErrStateTooLarge, shard, len(body), MaxStateBytes)
	}
	item := stateKey(shard)
	item["state"] = s(string(body))
	item["version"] = n(next.Version)
	item["last_seq"] = s(next.LastSeq)
	put := &types.Put{TableName: aws.String(st.table), Item: item}
	if prev == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		put.ConditionExpression = aws.String("version = :prev")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":prev": n(prev)}
	}
	items := []types.TransactWriteItem{{Put: put}}
	expires := st.Now().Add(st.Keep).Unix()
	for _, c := range results {
		data, err := json.Marshal(c)
		if err != nil {
			return err
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(st.table), Item: map[string]types.AttributeValue{
			"pk": s(fmt.Sprintf("window#%d/%d", c.Window.Start, c.Window.End)), "sk": s(c.Key),
			"count": n(c.Count), "result": s(string(data)), "expires_at": n(expires),
		}}})
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
	return nil
}

// Window reads one closed window's results, ignoring expired items
// (TTL deletes them only eventually).
func (st *Store) Window(ctx context.Context, b window.Bounds) ([]window.Cell, error) {
	out, err := st.api.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(st.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(fmt.Sprintf("window#%d/%d", b.Start, b.End))}})
	if err != nil {
		return nil, fmt.Errorf("query window %d/%d: %w", b.Start, b.End, err)
	}
	now := st.Now().Unix()
	var cells []window.Cell
	for _, it := range out.Items {
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
	return cells, nil
}
