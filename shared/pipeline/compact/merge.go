package compact

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/codec"
)

// Format is how the files of one output are written: the sink's format,
// its compression (jsonl and csv) and nothing else: merging never decodes
// a value, it moves lines, records and Parquet rows as they are.
type Format struct {
	Sink        codec.SinkFormat
	Compression codec.Compression
}

// maxDecompressed bounds what one input file may inflate to.
const maxDecompressed = 16 << 30

// merge writes the rows of the inputs, in order, to w as one file, and
// returns the number of rows it read.
func merge(ctx context.Context, b storage.Bucket, keys []string, f Format, w io.Writer) (int64, error) {
	if f.Sink == codec.SinkParquet || f.Sink == codec.SinkIceberg {
		return MergeParquet(ctx, b, keys, w)
	}
	out, closeOut, err := compressor(w, f.Compression)
	if err != nil {
		return 0, err
	}
	var rows int64
	for i, key := range keys {
		n, err := copyText(ctx, b, key, f, out, f.Sink == codec.SinkCSV && i > 0)
		if err != nil {
			return 0, fmt.Errorf("merge %s: %w", key, err)
		}
		rows += n
	}
	return rows, closeOut()
}

// copyText copies one jsonl or csv file's records to w, without a csv
// file's header row when skipHeader is set, and counts them.
func copyText(ctx context.Context, b storage.Bucket, key string, f Format, w io.Writer, skipHeader bool) (int64, error) {
	rc, err := storage.NewReader(ctx, b, key)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	r, _, err := codec.Decompress(rc, f.Compression, codec.Limits{MaxBytes: maxDecompressed})
	if err != nil {
		return 0, err
	}
	defer r.Close()
	rec := newRecords(f.Sink == codec.SinkCSV)
	if skipHeader {
		rec.skip = 1
	}
	if _, err := io.Copy(&recordWriter{w: w, rec: rec}, r); err != nil {
		return 0, err
	}
	if !rec.atStart() {
		return 0, errors.New("the file does not end with a line end")
	}
	n := rec.n
	if f.Sink == codec.SinkCSV && n > 0 {
		n-- // every csv file starts with its header row
	}
	return n, nil
}

// records counts the records of jsonl or csv text: line ends, outside a
// csv field's quotes.
type records struct {
	csv    bool
	quoted bool
	n      int64
	skip   int64 // records to drop from the output (a header)
	start  bool
}

func newRecords(csv bool) *records { return &records{csv: csv, start: true} }

func (r *records) atStart() bool { return r.start }

// recordWriter passes text through to w, dropping the first rec.skip
// records, and counts the records it saw.
type recordWriter struct {
	w   io.Writer
	rec *records
}

func (rw *recordWriter) Write(p []byte) (int, error) {
	r := rw.rec
	from := 0
	for i, c := range p {
		r.start = false
		switch {
		case r.csv && c == '"':
			r.quoted = !r.quoted
		case c == '\n' && !r.quoted:
			r.n++
			r.start = true
			if r.skip > 0 {
				r.skip--
				from = i + 1
			}
		}
	}
	if r.skip > 0 {
		return len(p), nil // still inside a dropped record
	}
	if _, err := rw.w.Write(p[from:]); err != nil {
		return 0, err
	}
	return len(p), nil
}

// compressor wraps w in the sink's compression.
func compressor(w io.Writer, c codec.Compression) (io.Writer, func() error, error) {
	switch c {
	case codec.Gzip:
		gz, _ := gzip.NewWriterLevel(w, gzip.DefaultCompression)
		return gz, gz.Close, nil
	case codec.Zstd:
		zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, nil, err
		}
		return zw, zw.Close, nil
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	return bw, bw.Flush, nil
}

// MergeParquet copies the row groups of the inputs into one file with the
// first input's schema (column order, field ids, required columns),
// compressed as the first input's first column is, and returns the rows
// it copied. An input of another schema is an error.
func MergeParquet(ctx context.Context, b storage.Bucket, keys []string, w io.Writer) (int64, error) {
	var pw *parquet.GenericWriter[any]
	var schema *parquet.Schema
	var rows int64
	for _, key := range keys {
		f, err := openParquet(ctx, b, key)
		if err != nil {
			return 0, fmt.Errorf("merge %s: %w", key, err)
		}
		if pw == nil {
			schema = f.Schema()
			pw = parquet.NewGenericWriter[any](w, schema, compressionOf(f), parquet.CreatedBy("sluice", "1", ""))
		}
		conv, err := conversion(schema, f.Schema())
		if err != nil {
			return 0, fmt.Errorf("merge %s: %w (from %s)", key, err, keys[0])
		}
		for _, rg := range f.RowGroups() {
			if conv != nil {
				rg = parquet.ConvertRowGroup(rg, conv)
			}
			n, err := parquet.CopyRows(pw, rg.Rows())
			if err != nil {
				return 0, fmt.Errorf("merge %s: %w", key, err)
			}
			rows += n
		}
	}
	if pw == nil {
		return 0, errors.New("merge: no input")
	}
	return rows, pw.Close()
}

// conversion maps rows of schema from onto schema to: nil when the two
// are equal, a conversion when they hold the same columns in another
// order (files written before columns kept the spec's order), and an
// error otherwise.
func conversion(to, from *parquet.Schema) (parquet.Conversion, error) {
	if parquet.EqualNodes(to, from) {
		return nil, nil
	}
	tf, ff := to.Fields(), from.Fields()
	if len(tf) != len(ff) {
		return nil, errors.New("its schema differs")
	}
	for _, f := range tf {
		i := slices.IndexFunc(ff, func(g parquet.Field) bool { return g.Name() == f.Name() })
		if i < 0 || !parquet.EqualNodes(f, ff[i]) {
			return nil, fmt.Errorf("its schema differs at column %s", f.Name())
		}
	}
	conv, err := parquet.Convert(to, from)
	if err != nil {
		return nil, fmt.Errorf("convert its columns: %w", err)
	}
	return conv, nil
}

// openParquet reads a Parquet object whole: compaction's inputs are the
// small files.
func openParquet(ctx context.Context, b storage.Bucket, key string) (*parquet.File, error) {
	data, err := storage.ReadAll(ctx, b, key)
	if err != nil {
		return nil, err
	}
	return parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
}

// compressionOf is the codec of f's first column chunk (zstd if none).
func compressionOf(f *parquet.File) parquet.WriterOption {
	md := f.Metadata()
	if len(md.RowGroups) > 0 && len(md.RowGroups[0].Columns) > 0 {
		switch md.RowGroups[0].Columns[0].MetaData.Codec.String() {
		case "SNAPPY":
			return parquet.Compression(&parquet.Snappy)
		case "GZIP":
			return parquet.Compression(&parquet.Gzip)
		case "UNCOMPRESSED":
			return parquet.Compression(&parquet.Uncompressed)
		}
	}
	return parquet.Compression(&parquet.Zstd)
}

// CountRows counts the rows of one stored file of format f: the check of
// a merged file before its inputs are removed.
func CountRows(ctx context.Context, b storage.Bucket, key string, f Format) (int64, error) {
	if f.Sink == codec.SinkParquet || f.Sink == codec.SinkIceberg {
		pf, err := openParquet(ctx, b, key)
		if err != nil {
			return 0, err
		}
		return pf.NumRows(), nil
	}
	return copyText(ctx, b, key, f, io.Discard, false)
}
