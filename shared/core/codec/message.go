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
// auto) or csv. CSV messages have no header line: CSVOptions.Columns
// stands for one, so a CSV contract fails here, when the decoder is made.
func NewMessageDecoder(format Format, columns []string, opt CSVOptions, optFns ...func(*DecoderOptions)) (*MessageDecoder, error) {
	opt.defaults()
	m := &MessageDecoder{max: opt.MaxRecordBytes}
	switch format {
	case "", FormatAuto, FormatJSON, FormatJSONL:
		m.json = true
		m.obj = newObjectParser(columns, decoderOptions(optFns))
		m.rec.Fields = make([]RawField, len(columns))
	case FormatCSV:
		if len(opt.Columns) == 0 {
			return nil, fmt.Errorf("%w: CSV stream messages have no header, so csv.columns must name the columns", ErrHeader)
		}
		opt.Header = false
		d, err := NewCSVDecoder(&m.rd, columns, opt, Range{}, optFns...)
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
// a record whose Err says why; Index is 1. The error is set, and the
// record nil, when the message breaks a contract that fails (a JSON
// message's keys: CSV contracts fail in NewMessageDecoder).
func (m *MessageDecoder) Decode(data []byte) (*RawRecord, error) {
	if len(data) > m.max {
		return m.fail(data, recErr(ErrRecordTooLarge, "limit %d bytes", m.max)), nil
	}
	if m.json {
		m.rec = RawRecord{Fields: m.rec.Fields, Index: 1, Line: 1, Raw: data}
		var fatal error
		if m.rec.Err, fatal = m.obj.decode(bytes.TrimSpace(data), m.rec.Fields); fatal != nil {
			return nil, fmt.Errorf("decode message: %w", fatal)
		}
		return &m.rec, nil
	}
	d := m.csv
	m.rd.Reset(data)
	d.s.r, d.s.pos, d.s.end, d.s.base, d.s.eof, d.s.err = &m.rd, 0, 0, 0, false, nil
	d.line, d.index = 1, 0
	rec, err := d.Next()
	switch {
	case errors.Is(err, io.EOF):
		return m.fail(data, recErr(ErrColumnCount, "empty message")), nil
	case err != nil:
		return m.fail(data, recErr(ErrQuote, "%v", err)), nil
	}
	if rec.Err == nil && d.s.offset() < int64(len(data)) && len(bytes.TrimSpace(data[d.s.offset():])) > 0 {
		return m.fail(data, recErr(ErrColumnCount, "a message holds more than one CSV record")), nil
	}
	rec.Raw = data
	return rec, nil
}

func (m *MessageDecoder) fail(data []byte, err error) *RawRecord {
	if m.csv != nil {
		m.rec.Fields = m.csv.rec.Fields
	}
	clear(m.rec.Fields)
	m.rec = RawRecord{Fields: m.rec.Fields, Index: 1, Line: 1, Raw: clip(data), Err: err}
	return &m.rec
}
