package icebergtable

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/iceberg-go/table"
	"github.com/parquet-go/parquet-go"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
)

// checkFieldIDs makes sure the data files at keys carry, for each of
// their columns, the field id the table gives that column's name: a
// file written with positions as ids for a table whose ids are not
// positions would put its values in other columns, silently where the
// types agree. While the table's ids for the spec's columns are their
// positions, positional files and files with the table's ids are the
// same, and no footer is read.
func (t *Table) checkFieldIDs(ctx context.Context, tbl *table.Table, keys []string) error {
	sc := tbl.Schema()
	if positional(sc, t.schema) {
		return nil
	}
	for _, key := range keys {
		cols, err := parquetFieldIDs(ctx, t.cat.Files(), key)
		if err != nil {
			return fmt.Errorf("table %s: data file %s: %w", t.name, key, err)
		}
		for _, c := range cols {
			f, ok := sc.FindFieldByName(c.name)
			switch {
			case !ok:
				return fmt.Errorf("table %s: data file %s has column %s, which the table's schema %d does not", t.name, key, c.name, sc.ID)
			case f.ID != c.id:
				return fmt.Errorf("table %s: data file %s gives column %s the field id %d, the table %d: "+
					"the file was written without the table's field ids, and its values would land in another column", t.name, key, c.name, c.id, f.ID)
			}
		}
	}
	return nil
}

// column is a top-level column of a Parquet file: its name and field id.
type column struct {
	name string
	id   int
}

// parquetFieldIDs reads the top-level columns of a Parquet file's footer.
func parquetFieldIDs(ctx context.Context, b storage.Bucket, key string) ([]column, error) {
	attrs, err := b.Attributes(ctx, key)
	if err != nil {
		return nil, err
	}
	f, err := parquet.OpenFile(&bucketReaderAt{ctx: ctx, b: b, key: key}, attrs.Size,
		parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, fmt.Errorf("read the footer: %w", err)
	}
	var cols []column
	for _, fld := range f.Schema().Fields() {
		cols = append(cols, column{name: fld.Name(), id: fld.ID()})
	}
	return cols, nil
}

// bucketReaderAt reads an object by ranges.
type bucketReaderAt struct {
	ctx context.Context
	b   storage.Bucket
	key string
}

func (r *bucketReaderAt) ReadAt(p []byte, off int64) (int, error) {
	rc, err := r.b.NewRangeReader(r.ctx, r.key, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}
