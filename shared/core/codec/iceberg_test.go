package codec_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/record"
)

// The iceberg sink's Parquet files carry field ids (schema position + 1)
// and mark required columns required; without the options the schema is
// the plain one, every column optional and without ids.
func TestParquetFieldIDsAndRequiredColumns(t *testing.T) {
	s := &record.Schema{Fields: []record.Field{{Name: "id", Kind: record.Int}, {Name: "name", Kind: record.String}, {Name: "at", Kind: record.Timestamp}}}
	encode := func(opt codec.EncoderOptions, rows ...[]record.Value) ([]byte, error) {
		var buf bytes.Buffer
		enc, err := codec.NewEncoder(&buf, codec.SinkIceberg, s, opt)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return nil, err
			}
		}
		err = enc.Close()
		return buf.Bytes(), err
	}
	row := []record.Value{{Kind: record.Int, Int: 7}, {Kind: record.Null}, {Kind: record.Timestamp, Int: 1_700_000_000_000_000}}
	opt := codec.EncoderOptions{ParquetFieldIDs: true, ParquetRequired: []bool{true, false, true}}
	data, err := encode(opt, row)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		id       int
		required bool
	}{"id": {1, true}, "name": {2, false}, "at": {3, true}}
	for _, fld := range f.Schema().Fields() {
		w := want[fld.Name()]
		if fld.ID() != w.id || fld.Required() != w.required {
			t.Errorf("column %s: id %d required %v, want %d %v", fld.Name(), fld.ID(), fld.Required(), w.id, w.required)
		}
	}
	if f.NumRows() != 1 {
		t.Errorf("%d rows", f.NumRows())
	}
	if _, err := encode(opt, []record.Value{{Kind: record.Null}, {Kind: record.Null}, row[2]}); err == nil || !strings.Contains(err.Error(), "required column 0 is null") {
		t.Errorf("a null in a required column: err = %v", err)
	}

	plain, err := codec.ParquetSchema(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, fld := range plain.Fields() {
		if fld.ID() != 0 || !fld.Optional() {
			t.Errorf("plain schema column %s: id %d optional %v", fld.Name(), fld.ID(), fld.Optional())
		}
	}
}
