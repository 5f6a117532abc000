// Package dynamosink upserts output rows into a DynamoDB table with
// BatchWriteItem: at most 25 items a call, UnprocessedItems retried with
// exponential backoff and full jitter. A put replaces the item with the
// same key, so writing the same rows again changes nothing.
package dynamosink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// BatchWriteItemAPI is the DynamoDB operation the writer uses.
type BatchWriteItemAPI interface {
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

var _ BatchWriteItemAPI = (*dynamodb.Client)(nil)

// MaxBatch is DynamoDB's BatchWriteItem limit. (moto accepts more; AWS
// does not, so the writer enforces it.)
const MaxBatch = 25

// Options tune the retries.
type Options struct {
	// MaxAttempts bounds the calls made for one batch (default 10).
	MaxAttempts int
	// BaseDelay and MaxDelay shape the backoff (default 50 ms and 5 s).
	BaseDelay, MaxDelay time.Duration
	// Sleep waits; tests replace it.
	Sleep func(context.Context, time.Duration) error
	// Rand returns a number in [0, n); tests replace it.
	Rand func(n int64) int64
}

// Writer upserts rows into one table.
type Writer struct {
	api   BatchWriteItemAPI
	table string
	key   []string
	o     Options
}

// ErrUnprocessed is returned when items stay unprocessed after every retry.
var ErrUnprocessed = errors.New("items still unprocessed after retries")

// New returns a Writer for table, whose primary key attributes are key
// (partition key, then sort key if any).
func New(api BatchWriteItemAPI, table string, key []string, optFns ...func(*Options)) *Writer {
	o := Options{MaxAttempts: 10, BaseDelay: 50 * time.Millisecond, MaxDelay: 5 * time.Second,
		Sleep: sleepCtx, Rand: rand.Int64N}
	for _, f := range optFns {
		f(&o)
	}
	return &Writer{api: api, table: table, key: key, o: o}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Upsert writes rows. Rows with the same key in one call collapse to the
// last one, as sequential puts would leave it; BatchWriteItem refuses a
// batch holding one key twice.
func (w *Writer) Upsert(ctx context.Context, rows []map[string]any) error {
	var batch []types.WriteRequest
	index := map[string]int{}
	for i, row := range rows {
		item, err := Item(row)
		if err != nil {
			return fmt.Errorf("dynamodb %s: row %d: %w", w.table, i, err)
		}
		k, err := w.keyOf(row)
		if err != nil {
			return fmt.Errorf("dynamodb %s: row %d: %w", w.table, i, err)
		}
		req := types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
		if j, dup := index[k]; dup {
			batch[j] = req
			continue
		}
		if len(batch) == MaxBatch {
			if err := w.write(ctx, batch); err != nil {
				return err
			}
			batch, index = batch[:0], map[string]int{}
		}
		index[k] = len(batch)
		batch = append(batch, req)
	}
	if len(batch) > 0 {
		return w.write(ctx, batch)
	}
	return nil
}

func (w *Writer) keyOf(row map[string]any) (string, error) {
	var b strings.Builder
	for _, k := range w.key {
		v, ok := row[k]
		if !ok || v == nil {
			return "", fmt.Errorf("key attribute %q is missing or null", k)
		}
		fmt.Fprintf(&b, "%d:%v|", len(fmt.Sprint(v)), v)
	}
	return b.String(), nil
}

func (w *Writer) write(ctx context.Context, batch []types.WriteRequest) error {
	pending := append([]types.WriteRequest(nil), batch...)
	for attempt := 0; ; attempt++ {
		out, err := w.api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{w.table: pending},
		})
		if err != nil {
			return fmt.Errorf("dynamodb %s: batch write of %d items: %w", w.table, len(pending), err)
		}
		pending = out.UnprocessedItems[w.table]
		if len(pending) == 0 {
			return nil
		}
		if attempt+1 >= w.o.MaxAttempts {
			return fmt.Errorf("dynamodb %s: %d %w (%d attempts)", w.table, len(pending), ErrUnprocessed, attempt+1)
		}
		if err := w.o.Sleep(ctx, w.backoff(attempt)); err != nil {
			return err
		}
	}
}

// backoff is full jitter: a random wait in [0, min(max, base·2^attempt)].
func (w *Writer) backoff(attempt int) time.Duration {
	ceiling := w.o.MaxDelay
	if attempt < 30 {
		if d := w.o.BaseDelay << attempt; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return time.Duration(w.o.Rand(int64(ceiling) + 1))
}

// Item converts a decoded JSON row (numbers as json.Number) to a DynamoDB
// item: strings S, numbers N (exact text), booleans BOOL, null NULL.
func Item(row map[string]any) (map[string]types.AttributeValue, error) {
	item := make(map[string]types.AttributeValue, len(row))
	for k, v := range row {
		switch x := v.(type) {
		case string:
			item[k] = &types.AttributeValueMemberS{Value: x}
		case json.Number:
			item[k] = &types.AttributeValueMemberN{Value: x.String()}
		case float64:
			item[k] = &types.AttributeValueMemberN{Value: fmt.Sprint(x)}
		case bool:
			item[k] = &types.AttributeValueMemberBOOL{Value: x}
		case nil:
			item[k] = &types.AttributeValueMemberNULL{Value: true}
		default:
			return nil, fmt.Errorf("attribute %q: unsupported %T", k, v)
		}
	}
	return item, nil
}
