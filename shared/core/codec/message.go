package codec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MessageDecoder decodes stream messages, each one record: a JSON object,
// or one CSV record whose columns are named by CSVOptions.Columns. It
// reuses its buffers, so the record it returns is valid until the next call.
type MessageDecoder struct {
	json bool
	max  int
	obj  objectParser
	csv  *CSVDecoder
	rd   bytes.Reader
	rec  RawRecord
}

// NewMessageDecoder returns a decoder for format json (also jsonl and
// auto) or csv. CSV messages have no header line.
func NewMessageDecoder(format Format, columns []string, opt CSVOptions) (*MessageDecoder, error) {
	opt.defaults()
	m := &MessageDecoder{max: opt.MaxRecordBytes}
	switch format {
	case "", FormatAuto, FormatJSON, FormatJSONL:
		m.json = true
		m.obj = newObjectParser(columns)
		m.rec.Fields = make([]RawField, len(columns))
	case FormatCSV:
		if len(opt.Columns) == 0 {
			return nil, fmt.Errorf("%w: CSV stream messages have no header, so csv.columns must name the columns", ErrHeader)
		}
		opt.Header = false
		d, err := NewCSVDecoder(&m.rd, columns, opt, Range{})
		if err != nil {
			return nil, err
		}
		m.csv = d
	default:
		return nil, fmt.Errorf("unknown message format %q", format)
	}
	return m, nil
}

// Decode decodes one message. A message that is not one valid record gives
// a record whose Err says why; Index is 1.
func (m *MessageDecoder) Decode(data []byte) *RawRecord {
	if len(data) > m.max {
		r := m.fail(data, recErr(ErrRecordTooLarge, "limit %d bytes", m.max))
		return r
	}
	if m.json {
		m.rec = RawRecord{Fields: m.rec.Fields, Index: 1, Line: 1, Raw: data}
		m.rec.Err = m.obj.parse(bytes.TrimSpace(data), m.rec.Fields)
		return &m.rec
	}
	d := m.csv
	m.rd.Reset(data)
	d.s.r, d.s.pos, d.s.end, d.s.base, d.s.eof, d.s.err = &m.rd, 0, 0, 0, false, nil
	d.line, d.index = 1, 0
	rec, err := d.Next()
	switch {
	case errors.Is(err, io.EOF):
		return m.fail(data, recErr(ErrColumnCount, "empty message"))
	case err != nil:
		return m.fail(data, recErr(ErrQuote, "%v", err))
	}
	if rec.Err == nil && d.s.offset() < int64(len(data)) && len(bytes.TrimSpace(data[d.s.offset():])) > 0 {
		return m.fail(data, recErr(ErrColumnCount, "a message holds more than one CSV record"))
	}
	rec.Raw = data
	return rec
}

func (m *MessageDecoder) fail(data []byte, err error) *RawRecord {
	if m.csv != nil {
		m.rec.Fields = m.csv.rec.Fields
	}
	clear(m.rec.Fields)
	m.rec = RawRecord{Fields: m.rec.Fields, Index: 1, Line: 1, Raw: clip(data), Err: err}
	return &m.rec
}
