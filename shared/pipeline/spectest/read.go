package spectest

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// row is an output row as its file holds it: field name to value text.
type row map[string]cell

// cell is a value's text in the output, or null.
type cell struct {
	text string
	null bool
}

// readRejects reads the rejects files a run published, in order.
func readRejects(ctx context.Context, b storage.Bucket, parts []output.Part) ([]output.RejectRecord, error) {
	var all []output.RejectRecord
	for _, p := range parts {
		rr, err := output.ReadRejects(ctx, b, p.Key)
		if err != nil {
			return nil, fmt.Errorf("read rejects: %w", err)
		}
		all = append(all, rr...)
	}
	return all, nil
}

// readOutput reads the rows a run wrote: from the table of a dynamodb
// sink, or from the parts, in the order listed, in the sink's format.
func readOutput(ctx context.Context, p *plan.Plan, b storage.Bucket, parts []output.Part, table *memTable) ([]row, error) {
	if table != nil {
		rows := make([]row, len(table.rows))
		for i, r := range table.rows {
			rows[i] = row{}
			for k, v := range r {
				rows[i][k] = jsonCell(v)
			}
		}
		return rows, nil
	}
	var rows []row
	for _, part := range parts {
		data, err := storage.ReadAll(ctx, b, part.Key)
		if err != nil {
			return nil, fmt.Errorf("read output: %w", err)
		}
		more, err := decodePart(p, data)
		if err != nil {
			return nil, fmt.Errorf("read output %s: %w", part.Key, err)
		}
		rows = append(rows, more...)
	}
	return rows, nil
}

// decodePart reads one part in the sink's format.
func decodePart(p *plan.Plan, data []byte) ([]row, error) {
	f := p.Spec.Sink.Format.OrDefault()
	if f == codec.SinkParquet || f == codec.SinkIceberg {
		return readParquet(p, data)
	}
	r, _, err := codec.Decompress(bytes.NewReader(data), codec.CompressionAuto, codec.Limits{})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if f == codec.SinkCSV {
		return readCSV(p, r)
	}
	return readJSONL(r)
}

func readJSONL(r io.Reader) ([]row, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var rows []row
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		rw := row{}
		for k, v := range m {
			rw[k] = jsonCell(v)
		}
		rows = append(rows, rw)
	}
}

// jsonCell is a JSON value's text: a string's, a number's as written.
func jsonCell(v any) cell {
	switch v := v.(type) {
	case nil:
		return cell{null: true}
	case string:
		return cell{text: v}
	case json.Number:
		return cell{text: v.String()}
	case bool:
		if v {
			return cell{text: "true"}
		}
		return cell{text: "false"}
	}
	b, _ := json.Marshal(v)
	return cell{text: string(b)}
}

// readCSV reads a CSV part: its header, then rows; an empty value is
// null, as the CSV encoder writes null.
func readCSV(p *plan.Plan, r io.Reader) ([]row, error) {
	cr := csv.NewReader(r)
	if d := p.Spec.Sink.CSV.Delimiter; d != "" {
		c, err := spec.CharOption(d)
		if err != nil {
			return nil, err
		}
		cr.Comma = rune(c)
	}
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	var rows []row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		rw := row{}
		for i, name := range header {
			if i < len(rec) {
				rw[name] = cell{text: rec[i], null: rec[i] == ""}
			}
		}
		rows = append(rows, rw)
	}
}

// readParquet reads a Parquet part, each column by the output field of
// its name.
func readParquet(p *plan.Plan, data []byte) ([]row, error) {
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	byColumn := map[int]record.Field{}
	for _, fd := range p.Out.Fields {
		if leaf, ok := f.Schema().Lookup(fd.Name); ok {
			byColumn[leaf.ColumnIndex] = fd
		}
	}
	var rows []row
	buf := make([]parquet.Row, 64)
	for _, rg := range f.RowGroups() {
		rr := rg.Rows()
		for {
			n, err := rr.ReadRows(buf)
			for _, pr := range buf[:n] {
				rw := row{}
				for _, v := range pr {
					if fd, ok := byColumn[v.Column()]; ok {
						rw[fd.Name] = parquetCell(v, fd)
					}
				}
				rows = append(rows, rw)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				_ = rr.Close()
				return nil, err
			}
		}
		if err := rr.Close(); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// parquetCell is a Parquet value's text, as the field's kind writes it.
func parquetCell(v parquet.Value, fd record.Field) cell {
	if v.IsNull() {
		return cell{null: true}
	}
	var rv record.Value
	switch fd.Kind {
	case record.String:
		rv = record.StringValue(v.ByteArray())
	case record.Int:
		rv = record.IntValue(v.Int64())
	case record.Float:
		rv = record.FloatValue(v.Double())
	case record.Decimal:
		rv = record.DecimalValue(v.Int64())
	case record.Bool:
		rv = record.BoolValue(v.Boolean())
	case record.Timestamp:
		rv = record.TimestampValue(v.Int64())
	case record.Date:
		rv = record.DateValue(int64(v.Int32()))
	default:
		return cell{text: v.String()}
	}
	return cell{text: string(record.AppendText(nil, rv, fd.Scale))}
}
