package codec

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-etl/sluice/shared/core/enum"
	"github.com/sluice-etl/sluice/shared/core/record"
)

// SinkFormat names an output format.
type SinkFormat string

// Output formats.
const (
	SinkJSONL   SinkFormat = "jsonl"
	SinkCSV     SinkFormat = "csv"
	SinkParquet SinkFormat = "parquet"
	// SinkDynamoDB upserts rows into a table; its rows are staged as
	// JSON Lines.
	SinkDynamoDB SinkFormat = "dynamodb"
	// SinkIceberg writes Parquet data files and commits them to an
	// Apache Iceberg table, once per run.
	SinkIceberg SinkFormat = "iceberg"
)

// SinkFormats are the output formats; "" is jsonl.
var SinkFormats = enum.Set[SinkFormat]{Name: "format",
	Values: []SinkFormat{SinkJSONL, SinkCSV, SinkParquet, SinkDynamoDB, SinkIceberg}, EmptyOK: true}

// Check validates an output format against SinkFormats.
func (f SinkFormat) Check() error { return SinkFormats.Check(f) }

// OrDefault is f, or jsonl when f is "".
func (f SinkFormat) OrDefault() SinkFormat {
	if f == "" {
		return SinkJSONL
	}
	return f
}

// sinkCompressions are the compressions of each output format that
// writes files, in the order messages list them.
var sinkCompressions = map[SinkFormat][]Compression{
	SinkJSONL:   {CompressionNone, Gzip, Zstd},
	SinkCSV:     {CompressionNone, Gzip, Zstd},
	SinkParquet: {Zstd, Snappy, Gzip, CompressionNone},
	SinkIceberg: {Zstd, Snappy, Gzip, CompressionNone},
}

// Compressions are the compressions output in format f may use (none for
// dynamodb, which writes no files).
func (f SinkFormat) Compressions() []Compression {
	return slices.Clone(sinkCompressions[f.OrDefault()])
}

// CheckCompression validates c as the compression of output in format f:
// one of f's Compressions, or "" (none; zstd for parquet).
func (f SinkFormat) CheckCompression(c Compression) error {
	list := sinkCompressions[f.OrDefault()]
	switch {
	case c == "" || slices.Contains(list, c):
		return nil
	case len(list) == 0:
		return fmt.Errorf("compression does not apply to the %s sink", f)
	case f == SinkParquet || f == SinkIceberg:
		return fmt.Errorf("want %s for %s", enum.List(list), f)
	}
	return fmt.Errorf("want %s for %s output", enum.List(list), f.OrDefault())
}

// Ext returns the file extension for the format.
func (f SinkFormat) Ext() string {
	switch f {
	case SinkCSV:
		return ".csv"
	case SinkParquet, SinkIceberg:
		return ".parquet"
	}
	return ".jsonl"
}

// Encoder writes rows of a fixed schema.
type Encoder interface {
	// Encode writes one row; values line up with the schema's fields.
	Encode(row []record.Value) error
	// Close flushes buffered data and writes any footer. It does not close
	// the underlying writer.
	Close() error
}

// EncoderOptions tune the encoders.
type EncoderOptions struct {
	// ParquetCompression is Zstd (default), Snappy, Gzip or
	// CompressionNone.
	ParquetCompression Compression
	// ParquetRowGroupRows caps rows per row group (default 128Ki).
	ParquetRowGroupRows int64
	// CSVDelimiter for CSV output (default ',').
	CSVDelimiter byte
	// ParquetFieldIDs gives each Parquet column a field id: its entry in
	// FieldIDs, or without them its field's position in the schema plus
	// one, the ids of an Iceberg table built from the same schema (see
	// IcebergFieldID).
	ParquetFieldIDs bool
	// FieldIDs are the field ids of the schema's fields, in order, for
	// ParquetFieldIDs: the ids an existing Iceberg table gives the
	// columns, which stay with a column when others are added or no
	// longer written.
	FieldIDs []int
	// ParquetRequired marks the columns of the schema fields whose entry
	// is true as required instead of optional; such a field must never
	// be null.
	ParquetRequired []bool
}

// IcebergFieldID is the Iceberg field id of the schema field at index i
// in a table built from the schema, and the Parquet field id the encoder
// writes for it with ParquetFieldIDs and no FieldIDs.
func IcebergFieldID(i int) int { return i + 1 }

// fieldID is the Parquet field id of the schema field at index i.
func (opt EncoderOptions) fieldID(i int) int {
	if i < len(opt.FieldIDs) {
		return opt.FieldIDs[i]
	}
	return IcebergFieldID(i)
}

// NewEncoder returns an encoder of format f writing to w.
func NewEncoder(w io.Writer, f SinkFormat, s *record.Schema, opt EncoderOptions) (Encoder, error) {
	switch f {
	case SinkJSONL, "":
		return newJSONLEncoder(w, s), nil
	case SinkCSV:
		return newCSVEncoder(w, s, opt)
	case SinkParquet, SinkIceberg:
		return newParquetEncoder(w, s, opt)
	}
	return nil, fmt.Errorf("unknown sink format %q", f)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func AppendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	i := 0
	for i < len(s) {
		// Skip eight plain ASCII bytes at a time.
		for i+8 <= len(s) && plain8(binary.LittleEndian.Uint64(s[i:])) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const (
	lo7 = 0x0101010101010101
	hi  = 0x8080808080808080
)

// plain8 reports whether none of the eight bytes in x needs attention in
// a JSON string: no control byte, quote, backslash or non-ASCII byte.
func plain8(x uint64) bool {
	ctl := (x - lo7*0x20) & ^x & hi // a byte < 0x20
	q := x ^ (lo7 * '"')            // zero byte where '"'
	bs := x ^ (lo7 * '\\')          // zero byte where '\\'
	hasQ := (q - lo7) & ^q & hi
	hasBS := (bs - lo7) & ^bs & hi
	return (ctl | hasQ | hasBS | x&hi) == 0
}

// AppendJSONValue appends v as a JSON value.
func AppendJSONValue(dst []byte, v record.Value, scale int) []byte {
	switch v.Kind {
	case record.Null:
		return append(dst, "null"...)
	case record.String:
		return AppendJSONString(dst, v.Bytes)
	case record.Timestamp, record.Date:
		dst = append(dst, '"')
		dst = record.AppendText(dst, v, scale)
		return append(dst, '"')
	}
	return record.AppendOutput(dst, v, scale)
}

type jsonlEncoder struct {
	w      *bufio.Writer
	keys   [][]byte
	scales []int
	line   []byte
}

func newJSONLEncoder(w io.Writer, s *record.Schema) *jsonlEncoder {
	e := &jsonlEncoder{w: bufio.NewWriterSize(w, 256<<10)}
	for i, f := range s.Fields {
		var k []byte
		if i == 0 {
			k = append(k, '{')
		} else {
			k = append(k, ',')
		}
		k = AppendJSONString(k, []byte(f.Name))
		k = append(k, ':')
		e.keys = append(e.keys, k)
		e.scales = append(e.scales, f.Scale)
	}
	return e
}

func (e *jsonlEncoder) Encode(row []record.Value) error {
	b := e.line[:0]
	for i := range row {
		b = append(b, e.keys[i]...)
		switch v := &row[i]; v.Kind {
		case record.String:
			if v.Int == record.PlainString {
				b = append(b, '"')
				b = append(b, v.Bytes...)
				b = append(b, '"')
			} else {
				b = AppendJSONString(b, v.Bytes)
			}
		case record.Int:
			b = strconv.AppendInt(b, v.Int, 10)
		case record.Float:
			if v.Bytes != nil {
				b = append(b, v.Bytes...)
			} else {
				b = record.AppendFloat(b, v.Float)
			}
		default:
			b = AppendJSONValue(b, *v, e.scales[i])
		}
	}
	if len(row) == 0 {
		b = append(b, '{')
	}
	b = append(b, '}', '\n')
	e.line = b
	_, err := e.w.Write(b)
	return err
}

func (e *jsonlEncoder) Close() error { return e.w.Flush() }

type csvEncoder struct {
	w      *bufio.Writer
	delim  byte
	scales []int
	line   []byte
	text   []byte
}

func newCSVEncoder(w io.Writer, s *record.Schema, opt EncoderOptions) (*csvEncoder, error) {
	e := &csvEncoder{w: bufio.NewWriterSize(w, 256<<10), delim: opt.CSVDelimiter}
	if e.delim == 0 {
		e.delim = ','
	}
	b := e.line[:0]
	for i, f := range s.Fields {
		if i > 0 {
			b = append(b, e.delim)
		}
		b = e.appendField(b, []byte(f.Name))
		e.scales = append(e.scales, f.Scale)
	}
	b = append(b, '\n')
	if _, err := e.w.Write(b); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *csvEncoder) appendField(dst, s []byte) []byte {
	quote := len(s) > 0 && (s[0] == ' ' || s[len(s)-1] == ' ')
	for _, c := range s {
		if c == e.delim || c == '"' || c == '\n' || c == '\r' {
			quote = true
			break
		}
	}
	if !quote {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for _, c := range s {
		if c == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

func (e *csvEncoder) Encode(row []record.Value) error {
	b := e.line[:0]
	for i, v := range row {
		if i > 0 {
			b = append(b, e.delim)
		}
		if v.Kind == record.Null {
			continue
		}
		e.text = record.AppendOutput(e.text[:0], v, e.scales[i])
		b = e.appendField(b, e.text)
	}
	b = append(b, '\n')
	e.line = b
	_, err := e.w.Write(b)
	return err
}

func (e *csvEncoder) Close() error { return e.w.Flush() }

// ParquetSchema maps a record schema onto Parquet types that Athena, Spark
// and DuckDB read: strings as UTF8 byte arrays, timestamps as INT64
// microseconds adjusted to UTC, dates as DATE, decimals as DECIMAL(18, s).
// Every column is optional.
func ParquetSchema(s *record.Schema) (*parquet.Schema, error) {
	return parquetSchema(s, EncoderOptions{})
}

// parquetSchema is ParquetSchema with the field ids and required columns
// of opt.
func parquetSchema(s *record.Schema, opt EncoderOptions) (*parquet.Schema, error) {
	if opt.FieldIDs != nil && len(opt.FieldIDs) != len(s.Fields) {
		return nil, fmt.Errorf("parquet: %d field ids for %d fields", len(opt.FieldIDs), len(s.Fields))
	}
	g := orderedGroup{Group: parquet.Group{}}
	for i, f := range s.Fields {
		var n parquet.Node
		switch f.Kind {
		case record.String:
			n = parquet.String()
		case record.Int:
			n = parquet.Int(64)
		case record.Float:
			n = parquet.Leaf(parquet.DoubleType)
		case record.Bool:
			n = parquet.Leaf(parquet.BooleanType)
		case record.Decimal:
			n = parquet.Decimal(f.Scale, 18, parquet.Int64Type)
		case record.Timestamp:
			n = parquet.Timestamp(parquet.Microsecond)
		case record.Date:
			n = parquet.Date()
		default:
			return nil, fmt.Errorf("parquet: field %q has no parquet type for %s", f.Name, f.Kind)
		}
		if deltaEncoded(f.Kind) {
			n = parquet.Encoded(n, &parquet.DeltaBinaryPacked)
		}
		if i < len(opt.ParquetRequired) && opt.ParquetRequired[i] {
			n = parquet.Required(n)
		} else {
			n = parquet.Optional(n)
		}
		if opt.ParquetFieldIDs {
			n = parquet.FieldID(n, opt.fieldID(i))
		}
		g.Group[f.Name] = n
		g.names = append(g.names, f.Name)
	}
	return parquet.NewSchema("sluice", g), nil
}

// deltaEncoded reports whether a column of kind k is written with
// DELTA_BINARY_PACKED: integers, decimals, timestamps and dates, whose
// values are close together or ordered (ids, amounts, times). The deltas
// take a few bits where plain pages take 8 bytes a value, and so leave
// zstd less to do: on the reference job the file is 9 % smaller and the
// run 6 % faster. Strings keep parquet-go's DELTA_LENGTH_BYTE_ARRAY (the
// prefix-sharing DELTA_BYTE_ARRAY made that file larger and slower), and
// floats stay PLAIN.
func deltaEncoded(k record.Kind) bool {
	switch k {
	case record.Int, record.Decimal, record.Timestamp, record.Date:
		return true
	}
	return false
}

// orderedGroup is a Parquet group whose columns keep the record schema's
// order: parquet.Group, a map, would sort them by name, and readers show
// a file's columns in the order they are stored.
type orderedGroup struct {
	parquet.Group
	names []string
}

// Fields returns the group's fields in the schema's order.
func (g orderedGroup) Fields() []parquet.Field {
	byName := make(map[string]parquet.Field, len(g.names))
	for _, f := range g.Group.Fields() {
		byName[f.Name()] = f
	}
	out := make([]parquet.Field, len(g.names))
	for i, n := range g.names {
		out[i] = byName[n]
	}
	return out
}

// parquetBatchRows is how many rows the Parquet encoder gathers before it
// hands them to the writer, a column at a time: one call per column and
// batch, not per row, keeps the writer's per-call cost off the per-row
// path.
const parquetBatchRows = 1024

// parquetEncoder gathers rows into column vectors and writes each vector
// straight to its column writer (parquet-go's columnar write path), with
// no rows to take apart again. It ends a row group every groupRows rows.
type parquetEncoder struct {
	w         *parquet.GenericWriter[any]
	order     []int // order[i]: parquet column index of schema field i
	kinds     []record.Kind
	def       []int // definition level of a present value: 0 for required columns
	groupRows int   // rows in a row group
	inGroup   int   // rows written to the current row group
	// cols[c] is parquet column c's values of the batch gathered so far,
	// n rows; bytes holds copies of its strings, which the caller may
	// reuse, and spans says where each is.
	cols  [][]parquet.Value
	n     int
	bytes []byte
	spans []strSpan
}

// strSpan is one string of the batch: bytes[off:off+len] is the value of
// parquet column col in the batch's row row.
type strSpan struct{ row, col, def, off, len int32 }

func newParquetEncoder(w io.Writer, s *record.Schema, opt EncoderOptions) (*parquetEncoder, error) {
	ps, err := parquetSchema(s, opt)
	if err != nil {
		return nil, err
	}
	codec, err := parquetCodec(opt.ParquetCompression)
	if err != nil {
		return nil, err
	}
	rows := opt.ParquetRowGroupRows
	if rows <= 0 {
		rows = 128 << 10
	}
	e := &parquetEncoder{
		w: parquet.NewGenericWriter[any](w, ps, codec, parquet.MaxRowsPerRowGroup(rows), parquet.CreatedBy("sluice", "1", ""),
			parquet.DictionaryMaxBytes(parquetDictionaryBytes)),
		order:     make([]int, len(s.Fields)),
		def:       make([]int, len(s.Fields)),
		groupRows: int(rows),
		cols:      make([][]parquet.Value, len(s.Fields)),
	}
	values := make([]parquet.Value, parquetBatchRows*len(s.Fields))
	for c := range e.cols {
		e.cols[c] = values[c*parquetBatchRows : (c+1)*parquetBatchRows : (c+1)*parquetBatchRows]
	}
	cols := ps.Columns()
	for i, f := range s.Fields {
		e.kinds = append(e.kinds, f.Kind)
		e.def[i] = 1
		if i < len(opt.ParquetRequired) && opt.ParquetRequired[i] {
			e.def[i] = 0
		}
		for j, c := range cols {
			if len(c) == 1 && c[0] == f.Name {
				e.order[i] = j
			}
		}
	}
	return e, nil
}

// zstdFastest is shared by every encoder: the codec keeps its zstd
// encoders, whose tables are costly to make.
var zstdFastest = &pageZstd{}

// parquetCodec is the page compression for c. Zstd runs at its fastest
// level: the default level costs twice the time for a few per cent less.
func parquetCodec(c Compression) (parquet.WriterOption, error) {
	switch c {
	case "", Zstd:
		return parquet.Compression(zstdFastest), nil
	case Snappy:
		return parquet.Compression(&parquet.Snappy), nil
	case Gzip:
		return parquet.Compression(&parquet.Gzip), nil
	case CompressionNone:
		return parquet.Compression(&parquet.Uncompressed), nil
	}
	return nil, fmt.Errorf("parquet: unknown compression %q", c)
}

func (e *parquetEncoder) Encode(row []record.Value) error {
	r := e.n
	for i, v := range row {
		col := e.order[i]
		if v.Kind == record.Null {
			if e.def[i] == 0 {
				return fmt.Errorf("parquet: required column %d is null", i)
			}
			e.cols[col][r] = parquet.NullValue().Level(0, 0, col)
			continue
		}
		var pv parquet.Value
		switch e.kinds[i] {
		case record.String:
			e.spans = append(e.spans, strSpan{row: int32(r), col: int32(col), def: int32(e.def[i]), off: int32(len(e.bytes)), len: int32(len(v.Bytes))})
			e.bytes = append(e.bytes, v.Bytes...)
			continue
		case record.Int, record.Decimal, record.Timestamp:
			pv = parquet.Int64Value(v.Int)
		case record.Date:
			pv = parquet.Int32Value(int32(v.Int))
		case record.Float:
			pv = parquet.DoubleValue(v.Float)
		case record.Bool:
			pv = parquet.BooleanValue(v.Int != 0)
		}
		e.cols[col][r] = pv.Level(0, e.def[i], col)
	}
	e.n++
	if e.n == parquetBatchRows || e.inGroup+e.n == e.groupRows || len(e.bytes) >= parquetBatchBytes {
		return e.flush()
	}
	return nil
}

// parquetBatchBytes flushes a batch early when its strings grow large.
const parquetBatchBytes = 1 << 20

// flush writes the gathered batch a column at a time, its strings
// pointing into bytes, which is reused only after the column writers have
// copied them; it ends the row group when the group is full.
func (e *parquetEncoder) flush() error {
	if e.n == 0 {
		return nil
	}
	for _, sp := range e.spans {
		col := int(sp.col)
		e.cols[col][sp.row] = parquet.ByteArrayValue(e.bytes[sp.off:sp.off+sp.len:sp.off+sp.len]).Level(0, int(sp.def), col)
	}
	for c, w := range e.w.ColumnWriters() {
		if _, err := w.WriteRowValues(e.cols[c][:e.n]); err != nil {
			return fmt.Errorf("parquet: column %d: %w", c, err)
		}
	}
	e.inGroup += e.n
	e.n, e.bytes, e.spans = 0, e.bytes[:0], e.spans[:0]
	if e.inGroup >= e.groupRows {
		e.inGroup = 0
		return e.w.Flush()
	}
	return nil
}

func (e *parquetEncoder) Close() error {
	if err := e.flush(); err != nil {
		return err
	}
	return e.w.Close()
}

// parquetDictionaryBytes bounds a string column's dictionary in a row
// group: past it, the column's later pages are written plain, so that
// columns of many distinct values (ids, e-mail addresses) do not pay for
// a dictionary that saves nothing.
const parquetDictionaryBytes = 256 << 10
