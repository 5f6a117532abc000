package compact_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-etl/sluice/internal/lakeread"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/pipeline/compact"
)

// parquetFile writes rows of (id, amount_cents) under a schema whose
// columns are in the order nodes lists them (or by name, with a plain
// group).
func parquetFile(t *testing.T, root parquet.Node, ids ...int64) []byte {
	t.Helper()
	schema := parquet.NewSchema("sluice", root)
	var b bytes.Buffer
	w := parquet.NewGenericWriter[any](&b, schema)
	idCol, amountCol := -1, -1
	for i, c := range schema.Columns() {
		switch c[0] {
		case "id":
			idCol = i
		case "amount_cents":
			amountCol = i
		}
	}
	for _, id := range ids {
		row := make(parquet.Row, 2)
		row[idCol] = parquet.Int64Value(id).Level(0, 1, idCol)
		row[amountCol] = parquet.Int64Value(id*100).Level(0, 1, amountCol)
		if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// idFirst is a group whose fields come id first, amount_cents second:
// the spec's order, which is not the names' order.
type idFirst struct{ parquet.Group }

func (g idFirst) Fields() []parquet.Field {
	f := g.Group.Fields() // by name: amount_cents, id
	return []parquet.Field{f[1], f[0]}
}

// Files written when columns were stored by name merge with files that
// keep the spec's order: the merged file has the first input's order and
// every row, as DuckDB reads it.
func TestMergeParquetAcrossColumnOrders(t *testing.T) {
	lakeread.RequireDuckDB(t)
	ctx := context.Background()
	cols := parquet.Group{"id": parquet.Optional(parquet.Int(64)), "amount_cents": parquet.Optional(parquet.Int(64))}
	b := memblob.New()
	storage.WriteAll(ctx, b, "a.parquet", parquetFile(t, idFirst{cols}, 1, 2, 3))
	storage.WriteAll(ctx, b, "b.parquet", parquetFile(t, cols, 4, 5))
	var merged bytes.Buffer
	n, err := compact.MergeParquet(ctx, b, []string{"a.parquet", "b.parquet"}, &merged)
	if err != nil || n != 5 {
		t.Fatalf("merge: %d rows, %v", n, err)
	}
	path := filepath.Join(t.TempDir(), "merged.parquet")
	os.WriteFile(path, merged.Bytes(), 0o644)
	got := lakeread.ReadFiles(t, "parquet", []string{path}, "amount_cents")
	if got.Count != 5 || got.Sum != "1500" || !slices.Equal(got.Columns, []string{"id", "amount_cents"}) {
		t.Fatalf("DuckDB read %d rows, sum %s, columns %v", got.Count, got.Sum, got.Columns)
	}
	// Other columns are still refused.
	var other bytes.Buffer
	w := parquet.NewGenericWriter[any](&other, parquet.NewSchema("sluice", parquet.Group{"id": parquet.Optional(parquet.Int(64)), "note": parquet.Optional(parquet.String())}))
	w.WriteRows([]parquet.Row{{parquet.Int64Value(6).Level(0, 1, 0), parquet.ByteArrayValue([]byte("x")).Level(0, 1, 1)}})
	w.Close()
	storage.WriteAll(ctx, b, "c.parquet", other.Bytes())
	if _, err := compact.MergeParquet(ctx, b, []string{"a.parquet", "c.parquet"}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "merge c.parquet: its schema differs at column amount_cents") {
		t.Fatalf("merge of another schema: %v", err)
	}
}
