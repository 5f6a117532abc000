package codec_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/record"
)

// The iceberg sink's Parquet files carry field ids (schema position + 1,
// or the table's ids when given) and mark required columns required; without the options the schema is
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

	// An evolved table's ids: kept by each column whatever its position.
	opt.FieldIDs = []int{1, 9, 3}
	if data, err = encode(opt, row); err != nil {
		t.Fatal(err)
	}
	if f, err = parquet.OpenFile(bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	for _, fld := range f.Schema().Fields() {
		if w := map[string]int{"id": 1, "name": 9, "at": 3}[fld.Name()]; fld.ID() != w {
			t.Errorf("with FieldIDs, column %s: id %d, want %d", fld.Name(), fld.ID(), w)
		}
	}
	opt.FieldIDs = []int{1, 2}
	if _, err := encode(opt, row); err == nil || err.Error() != "parquet: 2 field ids for 3 fields" {
		t.Errorf("too few field ids: err = %v", err)
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
