package codec_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/record"
)

func floatText(f float64, text string) record.Value {
	v := record.FloatValue(f)
	v.Bytes = []byte(text)
	return v
}

func encodeAll(t *testing.T, f codec.SinkFormat, s *record.Schema, opt codec.EncoderOptions, rows [][]record.Value) []byte {
	t.Helper()
	var b bytes.Buffer
	e, err := codec.NewEncoder(&b, f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := e.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var allKinds = &record.Schema{Fields: []record.Field{
	{Name: "s", Kind: record.String},
	{Name: "i", Kind: record.Int},
	{Name: "f", Kind: record.Float},
	{Name: "fx", Kind: record.Float},
	{Name: "d", Kind: record.Decimal, Scale: 2},
	{Name: "d0", Kind: record.Decimal},
	{Name: "b", Kind: record.Bool},
	{Name: "t", Kind: record.Timestamp},
	{Name: "dt", Kind: record.Date},
	{Name: `we"ird`, Kind: record.String},
}}

const (
	jan1us   = 1704067200123456 // 2024-01-01T00:00:00.123456Z
	jan1days = 19723            // 2024-01-01
)

func TestJSONLEncoder(t *testing.T) {
	null := record.Value{}
	rows := [][]record.Value{
		{record.StringValue([]byte("plain")), record.IntValue(42), record.FloatValue(1.5), floatText(1.5, "1.50"),
			record.DecimalValue(12345), record.DecimalValue(-7), record.BoolValue(true),
			record.TimestampValue(jan1us), record.DateValue(jan1days), record.StringValue([]byte("x"))},
		{null, null, null, null, null, null, null, null, null, null},
		{record.StringValue([]byte("q\"b\\s\n\r\t\x01\x1f\x7f/<>&é")), record.IntValue(math.MinInt64),
			record.FloatValue(1e21), record.FloatValue(1e-7), record.DecimalValue(-5), record.DecimalValue(0),
			record.BoolValue(false), record.TimestampValue(-1), record.DateValue(-1),
			record.StringValue([]byte("a\xffb\xc3"))},
		{record.StringValue([]byte("0123456789abcdef\"0123456789\\abcdefgh\x00")), record.IntValue(-1),
			record.FloatValue(0), record.FloatValue(-2.25), record.DecimalValue(math.MinInt64), record.DecimalValue(math.MaxInt64),
			record.BoolValue(true), record.TimestampValue(0), record.DateValue(0),
			record.StringValue([]byte("\xe2\x82"))}, // a rune cut short
	}
	want := `{"s":"plain","i":42,"f":1.5,"fx":1.50,"d":123.45,"d0":-7,"b":true,"t":"2024-01-01T00:00:00.123456Z","dt":"2024-01-01","we\"ird":"x"}` + "\n" +
		`{"s":null,"i":null,"f":null,"fx":null,"d":null,"d0":null,"b":null,"t":null,"dt":null,"we\"ird":null}` + "\n" +
		`{"s":"q\"b\\s\n\r\t\u0001\u001f` + "\x7f" + `/<>&é","i":-9223372036854775808,"f":1e+21,"fx":1e-07,"d":-0.05,"d0":0,"b":false,"t":"1969-12-31T23:59:59.999999Z","dt":"1969-12-31","we\"ird":"a` + "\ufffd" + `b` + "\ufffd" + `"}` + "\n" +
		`{"s":"0123456789abcdef\"0123456789\\abcdefgh\u0000","i":-1,"f":0,"fx":-2.25,"d":-92233720368547758.08,"d0":9223372036854775807,"b":true,"t":"1970-01-01T00:00:00.000000Z","dt":"1970-01-01","we\"ird":"` + "\ufffd\ufffd" + `"}` + "\n"
	got := string(encodeAll(t, codec.SinkJSONL, allKinds, codec.EncoderOptions{}, rows))
	if got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Errorf("line %d:\n got %s\nwant %s", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("output differs (%d vs %d lines)", len(gl), len(wl))
	}
	for i, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("line %d is not valid JSON: %s", i+1, line)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || len(m) != len(allKinds.Fields) {
			t.Errorf("line %d: %v, %d keys", i+1, err, len(m))
		}
	}
	// The JSON decoder reads back what the encoder wrote.
	d := codec.NewJSONLDecoder(strings.NewReader(got), []string{"s", "d", `we"ird`}, 0, codec.Range{})
	res := drain(t, d)
	starts := lineStarts(want)
	checkRecs(t, res.Recs, []rec{
		{Index: 1, Line: 1, Fields: []string{"plain", "num:123.45", "x"}},
		{Index: 2, Line: 2, Offset: int64(starts[0]), Fields: []string{"null", "null", "null"}},
		{Index: 3, Line: 3, Offset: int64(starts[1]), Fields: []string{"q\"b\\s\n\r\t\x01\x1f\x7f/<>&é", "num:-0.05", "a\ufffdb\ufffd"}},
		{Index: 4, Line: 4, Offset: int64(starts[2]), Fields: []string{"0123456789abcdef\"0123456789\\abcdefgh\x00", "num:-92233720368547758.08", "\ufffd\ufffd"}},
	})
}

func TestJSONLEncoderEmptySchema(t *testing.T) {
	got := encodeAll(t, codec.SinkJSONL, &record.Schema{}, codec.EncoderOptions{}, [][]record.Value{{}, {}})
	if string(got) != "{}\n{}\n" {
		t.Errorf("got %q", got)
	}
}

func TestAppendJSONValue(t *testing.T) {
	cases := []struct {
		v     record.Value
		scale int
		want  string
	}{
		{record.Value{}, 0, "null"},
		{record.DecimalValue(1), 18, "0.000000000000000001"},
		{record.DecimalValue(-1), 18, "-0.000000000000000001"},
		{record.DecimalValue(100), 1, "10.0"},
		{record.DecimalValue(5), 3, "0.005"},
		{record.IntValue(7), 0, "7"},
		{record.FloatValue(0.1), 0, "0.1"},
		{record.FloatValue(-1e-6), 0, "-0.000001"},
		{record.FloatValue(123456789e13), 0, "1.23456789e+21"},
		{floatText(2, "2.000"), 0, "2.000"},
		{record.BoolValue(false), 0, "false"},
		{record.TimestampValue(-62135596800000000), 0, `"0001-01-01T00:00:00.000000Z"`},
		{record.TimestampValue(253402300799999999), 0, `"9999-12-31T23:59:59.999999Z"`},
		{record.DateValue(-719162), 0, `"0001-01-01"`},
		{record.StringValue(nil), 0, `""`},
		{record.StringValue([]byte("\u2028")), 0, "\"\u2028\""},
	}
	for _, c := range cases {
		got := string(codec.AppendJSONValue([]byte("x"), c.v, c.scale))
		if got != "x"+c.want {
			t.Errorf("AppendJSONValue(%+v, %d) = %s, want x%s", c.v, c.scale, got, c.want)
		}
		if !json.Valid([]byte(c.want)) {
			t.Errorf("%s is not valid JSON", c.want)
		}
	}
}

// checkJSONString checks AppendJSONString against encoding/json: the
// output is valid JSON and decodes to the input with each invalid byte
// replaced by U+FFFD.
func checkJSONString(t testing.TB, s []byte) {
	out := codec.AppendJSONString([]byte("prefix"), s)
	if !bytes.HasPrefix(out, []byte("prefix")) {
		t.Fatalf("prefix lost: %q", out)
	}
	out = out[len("prefix"):]
	if !json.Valid(out) {
		t.Fatalf("AppendJSONString(%q) = %q: not valid JSON", s, out)
	}
	var back string
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRune(s[i:])
		want.WriteRune(r) // RuneError for an invalid byte
		i += n
	}
	if back != want.String() {
		t.Fatalf("AppendJSONString(%q) = %q decodes to %q, want %q", s, out, back, want.String())
	}
}

func TestAppendJSONString(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", `""`},
		{"abc", `"abc"`},
		{"12345678", `"12345678"`},
		{"1234567\"", `"1234567\""`},
		{"\"1234567", `"\"1234567"`},
		{"abcdefgh\\", `"abcdefgh\\"`},
		{"abcdefgh\x1f", `"abcdefgh\u001f"`},
		{"abcdefg\x80", "\"abcdefg\ufffd\""},
		{"\xff\xfe", "\"\ufffd\ufffd\""},
		{"é漢😀", "\"é漢😀\""},
		{"\b\f", `"\u0008\u000c"`},
		{"~\x7f ", "\"~\x7f \""},
		{"\xed\xa0\x80", "\"\ufffd\ufffd\ufffd\""}, // a UTF-16 surrogate is not UTF-8
	}
	for _, c := range cases {
		if got := string(codec.AppendJSONString(nil, []byte(c.in))); got != c.want {
			t.Errorf("AppendJSONString(%q) = %s, want %s", c.in, got, c.want)
		}
		checkJSONString(t, []byte(c.in))
	}
	// Every single byte, at every position of an 8-byte word.
	for c := range 256 {
		for pos := range 9 {
			s := []byte(strings.Repeat("a", 16))
			s[pos] = byte(c)
			checkJSONString(t, s)
		}
	}
}

func TestCSVEncoder(t *testing.T) {
	s := &record.Schema{Fields: []record.Field{
		{Name: "s", Kind: record.String},
		{Name: "n", Kind: record.Int},
		{Name: "d", Kind: record.Decimal, Scale: 2},
		{Name: "t", Kind: record.Timestamp},
		{Name: "dt", Kind: record.Date},
		{Name: "b", Kind: record.Bool},
		{Name: "f", Kind: record.Float},
		{Name: "a,b", Kind: record.String},
	}}
	str := func(x string) record.Value { return record.StringValue([]byte(x)) }
	row := func(sv record.Value) []record.Value {
		return []record.Value{sv, record.IntValue(-3), record.DecimalValue(105), record.TimestampValue(jan1us),
			record.DateValue(jan1days), record.BoolValue(true), floatText(0.5, "0.50"), str("k")}
	}
	rows := [][]record.Value{
		row(str("plain")),
		row(str("a,b")),
		row(str(`say "hi"`)),
		row(str("line\nbreak")),
		row(str("cr\r")),
		row(str(" lead")),
		row(str("trail ")),
		row(str("mid space")),
		row(str("")),
		row(record.Value{}),
		row(str("\xff\xfe")),
		row(str(`"`)),
		{record.Value{}, record.Value{}, record.Value{}, record.Value{}, record.Value{}, record.BoolValue(false), record.FloatValue(1e21), record.Value{}},
	}
	tail := ",-3,1.05,2024-01-01T00:00:00.123456Z,2024-01-01,true,0.50,k\n"
	want := "s,n,d,t,dt,b,f,\"a,b\"\n" +
		"plain" + tail +
		`"a,b"` + tail +
		`"say ""hi"""` + tail +
		"\"line\nbreak\"" + tail +
		"\"cr\r\"" + tail +
		`" lead"` + tail +
		`"trail "` + tail +
		"mid space" + tail +
		tail +
		tail +
		"\xff\xfe" + tail +
		`""""` + tail +
		",,,,,false,1e+21,\n"
	got := string(encodeAll(t, codec.SinkCSV, s, codec.EncoderOptions{}, rows))
	if got != want {
		t.Fatalf("CSV output:\n%q\nwant\n%q", got, want)
	}

	// The CSV decoder reads every string back.
	d, err := codec.NewCSVDecoder(strings.NewReader(got), []string{"s", "a,b"}, codec.CSVOptions{Header: true}, codec.Range{})
	if err != nil {
		t.Fatal(err)
	}
	res := drain(t, d)
	if res.Err != nil || len(res.Recs) != len(rows) {
		t.Fatalf("decoded %d records, %v", len(res.Recs), res.Err)
	}
	for i, r := range rows[:len(rows)-1] {
		if g := res.Recs[i]; g.Err != nil || g.Fields[0] != string(r[0].Bytes) || g.Fields[1] != "k" {
			t.Errorf("row %d decoded as %+v", i+1, g)
		}
	}
}

func TestCSVEncoderDelimiter(t *testing.T) {
	s := &record.Schema{Fields: []record.Field{{Name: "x", Kind: record.String}, {Name: "y", Kind: record.String}}}
	rows := [][]record.Value{{record.StringValue([]byte("a,b")), record.StringValue([]byte("c;d"))}}
	got := string(encodeAll(t, codec.SinkCSV, s, codec.EncoderOptions{CSVDelimiter: ';'}, rows))
	if want := "x;y\na,b;\"c;d\"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestNewEncoderErrors(t *testing.T) {
	s := &record.Schema{Fields: []record.Field{{Name: "x", Kind: record.String}}}
	if _, err := codec.NewEncoder(&bytes.Buffer{}, "avro", s, codec.EncoderOptions{}); err == nil {
		t.Error("unknown sink format accepted")
	}
	if _, err := codec.NewEncoder(&bytes.Buffer{}, codec.SinkParquet, s, codec.EncoderOptions{ParquetCompression: "brotli9"}); err == nil {
		t.Error("unknown parquet compression accepted")
	}
	bad := &record.Schema{Fields: []record.Field{{Name: "n", Kind: record.Null}}}
	if _, err := codec.NewEncoder(&bytes.Buffer{}, codec.SinkParquet, bad, codec.EncoderOptions{}); err == nil {
		t.Error("parquet accepted a field of kind null")
	}
	for f, ext := range map[codec.SinkFormat]string{codec.SinkJSONL: ".jsonl", codec.SinkCSV: ".csv", codec.SinkParquet: ".parquet", "": ".jsonl"} {
		if f.Ext() != ext {
			t.Errorf("%q.Ext() = %q, want %q", f, f.Ext(), ext)
		}
	}
}

var parquetSchema = &record.Schema{Fields: []record.Field{
	{Name: "s", Kind: record.String},
	{Name: "i", Kind: record.Int},
	{Name: "f", Kind: record.Float},
	{Name: "d", Kind: record.Decimal, Scale: 2},
	{Name: "b", Kind: record.Bool},
	{Name: "t", Kind: record.Timestamp},
	{Name: "dt", Kind: record.Date},
	{Name: "d6", Kind: record.Decimal, Scale: 6},
}}

func parquetRows() [][]record.Value {
	null := record.Value{}
	return [][]record.Value{
		{record.StringValue([]byte("héllo")), record.IntValue(42), record.FloatValue(1.5), record.DecimalValue(12345),
			record.BoolValue(true), record.TimestampValue(jan1us), record.DateValue(jan1days), record.DecimalValue(-1)},
		{null, null, null, null, null, null, null, null},
		{record.StringValue([]byte("")), record.IntValue(math.MinInt64), record.FloatValue(-0.25), record.DecimalValue(-5),
			record.BoolValue(false), record.TimestampValue(-1), record.DateValue(-1), record.DecimalValue(math.MaxInt64)},
	}
}

// parquetValue renders a read-back value in the terms of the record model.
func parquetValue(v parquet.Value, k record.Kind) any {
	if v.IsNull() {
		return nil
	}
	switch k {
	case record.String:
		return string(v.ByteArray())
	case record.Int, record.Decimal, record.Timestamp:
		return v.Int64()
	case record.Date:
		return int64(v.Int32())
	case record.Float:
		return v.Double()
	case record.Bool:
		return v.Boolean()
	}
	return "?"
}

func TestParquetEncoder(t *testing.T) {
	for _, c := range []struct {
		compression string
		codec       format.CompressionCodec
	}{
		{"", format.Zstd},
		{"zstd", format.Zstd},
		{"snappy", format.Snappy},
		{"gzip", format.Gzip},
		{"none", format.Uncompressed},
	} {
		t.Run("compression "+c.compression, func(t *testing.T) {
			rows := parquetRows()
			data := encodeAll(t, codec.SinkParquet, parquetSchema, codec.EncoderOptions{ParquetCompression: codec.Compression(c.compression), ParquetRowGroupRows: 2}, rows)
			f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if f.NumRows() != int64(len(rows)) {
				t.Fatalf("NumRows = %d, want %d", f.NumRows(), len(rows))
			}

			// Logical and physical types, by column name.
			types := map[string]string{}
			for _, el := range f.Metadata().Schema[1:] {
				typ, _ := el.Type.Get()
				rep, _ := el.RepetitionType.Get()
				types[el.Name] = typ.String() + " " + el.LogicalType.String() + " " + rep.String()
			}
			wantTypes := map[string]string{
				"s":  "BYTE_ARRAY STRING OPTIONAL",
				"i":  "INT64 INT(64,true) OPTIONAL",
				"f":  "DOUBLE  OPTIONAL",
				"d":  "INT64 DECIMAL(18,2) OPTIONAL",
				"d6": "INT64 DECIMAL(18,6) OPTIONAL",
				"b":  "BOOLEAN  OPTIONAL",
				"t":  "INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MICROS) OPTIONAL",
				"dt": "INT32 DATE OPTIONAL",
			}
			for name, want := range wantTypes {
				if types[name] != want {
					t.Errorf("column %s: %q, want %q", name, types[name], want)
				}
			}
			if len(types) != len(wantTypes) {
				t.Errorf("columns %v", types)
			}
			// A structured check of the timestamp, date and decimal types.
			for _, el := range f.Metadata().Schema[1:] {
				switch lt := el.LogicalType.Value.(type) {
				case *format.TimestampType:
					if _, micros := lt.Unit.Value.(*format.MicroSeconds); el.Name != "t" || !lt.IsAdjustedToUTC || !micros {
						t.Errorf("column %s: %v", el.Name, lt)
					}
				case *format.DateType:
					if el.Name != "dt" {
						t.Errorf("column %s is a DATE", el.Name)
					}
				case *format.DecimalType:
					if lt.Precision != 18 || (el.Name == "d" && lt.Scale != 2) || (el.Name == "d6" && lt.Scale != 6) {
						t.Errorf("column %s: %v", el.Name, lt)
					}
				}
			}

			// Row groups of at most two rows, every column chunk compressed
			// with the requested codec.
			if n := len(f.Metadata().RowGroups); n != 2 {
				t.Errorf("%d row groups, want 2", n)
			}
			for gi, rg := range f.Metadata().RowGroups {
				for _, cc := range rg.Columns {
					if cc.MetaData.Codec != c.codec {
						t.Errorf("row group %d column %v: codec %v, want %v", gi, cc.MetaData.PathInSchema, cc.MetaData.Codec, c.codec)
					}
				}
			}

			// Values.
			colKind := map[int]record.Kind{}
			colName := map[int]string{}
			for i, path := range f.Schema().Columns() {
				colName[i] = path[0]
				colKind[i] = parquetSchema.Fields[parquetSchema.Index(path[0])].Kind
			}
			var got []map[string]any
			for _, rg := range f.RowGroups() {
				rr := rg.Rows()
				buf := make([]parquet.Row, 10)
				for {
					n, err := rr.ReadRows(buf)
					for _, row := range buf[:n] {
						m := map[string]any{}
						for _, v := range row {
							m[colName[v.Column()]] = parquetValue(v, colKind[v.Column()])
						}
						got = append(got, m)
					}
					if err != nil {
						break
					}
				}
				rr.Close()
			}
			want := []map[string]any{
				{"s": "héllo", "i": int64(42), "f": 1.5, "d": int64(12345), "b": true, "t": int64(jan1us), "dt": int64(jan1days), "d6": int64(-1)},
				{"s": nil, "i": nil, "f": nil, "d": nil, "b": nil, "t": nil, "dt": nil, "d6": nil},
				{"s": "", "i": int64(math.MinInt64), "f": -0.25, "d": int64(-5), "b": false, "t": int64(-1), "dt": int64(-1), "d6": int64(math.MaxInt64)},
			}
			if len(got) != len(want) {
				t.Fatalf("read %d rows, want %d", len(got), len(want))
			}
			for i := range want {
				for k, wv := range want[i] {
					if gv, ok := got[i][k]; !ok || gv != wv {
						t.Errorf("row %d column %s = %#v, want %#v", i+1, k, gv, wv)
					}
				}
			}
		})
	}
}
