package output

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
)

// TableWriter upserts rows into the sink table. Upserting the same rows
// again must leave the table as it was.
type TableWriter interface {
	Upsert(ctx context.Context, rows []map[string]any) error
}

// upsertBatch is how many rows Commit hands a TableWriter at once.
const upsertBatch = 500

// UpsertPart streams a staged JSON Lines part into t and returns the rows.
func UpsertPart(ctx context.Context, staging storage.Bucket, key string, t TableWriter) (int64, error) {
	r, err := storage.NewReader(ctx, staging, key)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", key, err)
	}
	defer r.Close()
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var rows []map[string]any
	var n int64
	for {
		var row map[string]any
		err := dec.Decode(&row)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("decode %s: %w", key, err)
		}
		rows = append(rows, row)
		n++
		if len(rows) == upsertBatch {
			if err := t.Upsert(ctx, rows); err != nil {
				return n, err
			}
			rows = rows[:0]
		}
	}
	if len(rows) > 0 {
		if err := t.Upsert(ctx, rows); err != nil {
			return n, err
		}
	}
	return n, nil
}
