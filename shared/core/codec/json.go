package codec

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

// objectParser maps the members of one JSON object onto requested columns.
type objectParser struct {
	cols  map[string]int
	dec   jsontext.Decoder
	arena []byte
}

func newObjectParser(columns []string) objectParser {
	m := make(map[string]int, len(columns))
	for i, c := range columns {
		m[c] = i
	}
	return objectParser{cols: m}
}

// parse decodes obj into fields. Field bytes alias obj or the parser's arena.
// On error every field is left RawMissing.
func (p *objectParser) parse(obj []byte, fields []RawField) error {
	clear(fields)
	err := p.parseObject(obj, fields)
	if err != nil {
		clear(fields)
	}
	return err
}

func (p *objectParser) parseObject(obj []byte, fields []RawField) error {
	p.arena = p.arena[:0]
	p.dec.Reset(bytes.NewBuffer(obj))
	tok, err := p.dec.ReadToken()
	if err != nil {
		return recErr(ErrInvalidJSON, "%s", jsonReason(err))
	}
	if tok.Kind() != '{' {
		return recErr(ErrNotObject, "got %s", kindName(tok.Kind()))
	}
	for p.dec.PeekKind() != '}' {
		name, err := p.dec.ReadValue()
		if err != nil {
			return recErr(ErrInvalidJSON, "%s", jsonReason(err))
		}
		key := name[1 : len(name)-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			start := len(p.arena)
			if p.arena, err = jsontext.AppendUnquote(p.arena, name); err != nil {
				return recErr(ErrInvalidJSON, "%s", jsonReason(err))
			}
			key = p.arena[start:]
		}
		idx, want := p.cols[string(key)]
		if !want {
			if err := p.dec.SkipValue(); err != nil {
				return recErr(ErrInvalidJSON, "%s", jsonReason(err))
			}
			continue
		}
		v, err := p.dec.ReadValue()
		if err != nil {
			return recErr(ErrInvalidJSON, "%s", jsonReason(err))
		}
		switch v.Kind() {
		case '"':
			s := v[1 : len(v)-1]
			if bytes.IndexByte(s, '\\') >= 0 {
				start := len(p.arena)
				if p.arena, err = jsontext.AppendUnquote(p.arena, v); err != nil {
					return recErr(ErrInvalidJSON, "%s", jsonReason(err))
				}
				s = p.arena[start:]
			}
			fields[idx] = RawField{Kind: RawString, Bytes: s}
		case '0':
			fields[idx] = RawField{Kind: RawNumber, Bytes: v}
		case 't', 'f':
			fields[idx] = RawField{Kind: RawBool, Bytes: v}
		case 'n':
			fields[idx] = RawField{Kind: RawNull}
		default:
			fields[idx] = RawField{Kind: RawJSON, Bytes: v}
		}
	}
	if _, err := p.dec.ReadToken(); err != nil {
		return recErr(ErrInvalidJSON, "%s", jsonReason(err))
	}
	if _, err := p.dec.ReadToken(); !errors.Is(err, io.EOF) {
		return recErr(ErrInvalidJSON, "unexpected data after the object")
	}
	return nil
}

func jsonReason(err error) string {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", se.Err, se.ByteOffset+1)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of data"
	}
	return err.Error()
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "a string"
	case '0':
		return "a number"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '[':
		return "an array"
	case '{':
		return "an object"
	}
	return "invalid JSON"
}

// JSONLDecoder decodes JSON Lines: one object per line. A bad line is
// quarantined and decoding goes on with the next line.
type JSONLDecoder struct {
	s     scanBuf
	max   int
	limit int64
	line  int64
	index int64
	p     objectParser
	rec   RawRecord
}

// NewJSONLDecoder returns a JSON Lines decoder over r.
func NewJSONLDecoder(r io.Reader, columns []string, maxRecord int, rng Range) *JSONLDecoder {
	if maxRecord <= 0 {
		maxRecord = DefaultMaxRecordBytes
	}
	d := &JSONLDecoder{s: newScanBuf(r, rng.Start, maxRecord), max: maxRecord, limit: rng.Limit, line: 1, p: newObjectParser(columns)}
	if rng.Start == 0 {
		d.s.stripBOM()
	}
	d.rec.Fields = make([]RawField, len(columns))
	return d
}

// End implements Decoder.
func (d *JSONLDecoder) End() int64 { return d.s.offset() }

// Lines implements Decoder.
func (d *JSONLDecoder) Lines() int64 { return d.line - 1 }

// Next implements Decoder.
func (d *JSONLDecoder) Next() (*RawRecord, error) {
	s := &d.s
	for {
		if d.limit > 0 && s.offset() >= d.limit {
			return nil, io.EOF
		}
		// Take the offset first: nextLine skips past a line that is too long.
		off := s.offset()
		line, next, res, raw := s.nextLine(d.max)
		if s.err != nil {
			return nil, fmt.Errorf("jsonl: read at byte %d: %w", s.offset(), s.err)
		}
		if res == lineEOF {
			return nil, io.EOF
		}
		d.rec.Offset, d.rec.Line, d.rec.Err = off, d.line, nil
		s.pos = next
		d.line++
		if res == lineTooLong {
			d.index++
			d.rec.Index, d.rec.Raw = d.index, raw
			d.rec.Err = recErr(ErrRecordTooLarge, "limit %d bytes", d.max)
			clear(d.rec.Fields)
			return &d.rec, nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		d.index++
		d.rec.Index = d.index
		d.rec.Raw = line
		d.rec.Err = d.p.parse(line, d.rec.Fields)
		return &d.rec, nil
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// JSONDecoder decodes a JSON document that is either one object or an
// array of objects, streaming the array one element at a time. An element
// that is not an object is quarantined; a syntax error or a cut-short
// document stops the stream with an error naming the byte offset.
type JSONDecoder struct {
	dec     *jsontext.Decoder
	cr      *countingReader
	max     int
	index   int64
	started bool
	array   bool
	done    bool
	p       objectParser
	rec     RawRecord
	own     []byte // a copy of a top-level object
	bom     bomSkipper
}

// bomSkipper drops a leading UTF-8 byte order mark, which the JSON decoder
// would reject; n says how many bytes it dropped, to keep offsets true.
type bomSkipper struct {
	r       io.Reader
	checked bool
	pending []byte
	err     error
	n       int64
}

func (b *bomSkipper) Read(p []byte) (int, error) {
	if !b.checked {
		b.checked = true
		head := make([]byte, 3)
		n, err := io.ReadFull(b.r, head)
		if n == 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF {
			n, b.n = 0, 3
		}
		b.pending = head[:n]
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			b.err = err
		}
	}
	if len(b.pending) > 0 {
		n := copy(p, b.pending)
		b.pending = b.pending[n:]
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	return b.r.Read(p)
}

// NewJSONDecoder returns a decoder for a JSON object or array of objects.
func NewJSONDecoder(r io.Reader, columns []string, maxRecord int) *JSONDecoder {
	if maxRecord <= 0 {
		maxRecord = DefaultMaxRecordBytes
	}
	d := &JSONDecoder{max: maxRecord, p: newObjectParser(columns)}
	d.bom.r = r
	cr := &countingReader{r: &d.bom}
	d.cr = cr
	// Duplicate names and invalid UTF-8 are the element's fault, not the
	// stream's: the outer decoder lets them through and the record parser
	// rejects the element alone.
	d.dec = jsontext.NewDecoder(&guardReader{d: d}, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	d.rec.Fields = make([]RawField, len(columns))
	return d
}

// guardReader stops a single JSON value from growing past the record limit:
// the jsontext decoder buffers a whole value, so bytes read since the last
// value boundary are bounded here.
type guardReader struct{ d *JSONDecoder }

func (g *guardReader) Read(p []byte) (int, error) {
	d := g.d
	if d.cr.n-d.dec.InputOffset() > int64(d.max)+readChunk {
		return 0, recErr(ErrRecordTooLarge, "limit %d bytes", d.max)
	}
	if len(p) > readChunk {
		p = p[:readChunk]
	}
	return d.cr.Read(p)
}

// End implements Decoder.
func (d *JSONDecoder) End() int64 { return d.bom.n + d.dec.InputOffset() }

// Lines implements Decoder. JSON documents are not line oriented.
func (d *JSONDecoder) Lines() int64 { return 0 }

func (d *JSONDecoder) fail(err error, what string) error {
	if errors.Is(err, ErrRecordTooLarge) {
		return fmt.Errorf("json: record %d at byte %d: %w", d.index+1, d.End(), err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || (errors.Is(err, io.EOF) && d.started) {
		return fmt.Errorf("json: %w: input ends inside %s after %d records (byte %d)", ErrTruncated, what, d.index, d.bom.n+d.cr.n)
	}
	// Wrap the cause: a read error (a truncated compressed stream, a
	// network failure) must stay visible to errors.Is.
	return fmt.Errorf("json: %s after %d records: %w", what, d.index, reasonError{err})
}

// reasonError words a jsontext error as jsonReason does and wraps it.
type reasonError struct{ err error }

func (e reasonError) Error() string { return jsonReason(e.err) }
func (e reasonError) Unwrap() error { return e.err }

// Next implements Decoder.
func (d *JSONDecoder) Next() (*RawRecord, error) {
	if d.done {
		return nil, io.EOF
	}
	if !d.started {
		switch d.dec.PeekKind() {
		case '[':
			if _, err := d.dec.ReadToken(); err != nil {
				return nil, d.fail(err, "the array")
			}
			d.started, d.array = true, true
		case '{':
			d.started = true
		default:
			_, err := d.dec.ReadToken()
			if errors.Is(err, io.EOF) {
				d.done = true
				return nil, io.EOF // empty document
			}
			if err == nil {
				return nil, fmt.Errorf("json: %w: the document must be an object or an array of objects", ErrNotObject)
			}
			return nil, d.fail(err, "the document")
		}
	}
	if d.array && d.dec.PeekKind() == ']' {
		if _, err := d.dec.ReadToken(); err != nil {
			return nil, d.fail(err, "the array")
		}
		return nil, d.finish()
	}
	v, err := d.dec.ReadValue()
	if err != nil {
		if d.array {
			return nil, d.fail(err, "the array")
		}
		return nil, d.fail(err, "the object")
	}
	d.index++
	d.rec.Index = d.index
	d.rec.Offset = d.End() - int64(len(v))
	if !d.array {
		// v is only valid until the decoder's next read, and finish reads.
		v = append(d.own[:0], v...)
		d.own = v
	}
	d.rec.Raw = clip(v)
	if len(v) > d.max {
		clear(d.rec.Fields)
		d.rec.Err = recErr(ErrRecordTooLarge, "limit %d bytes", d.max)
	} else {
		d.rec.Err = d.p.parse(v, d.rec.Fields)
	}
	if !d.array {
		if err := d.finish(); err != io.EOF {
			return nil, err
		}
	}
	return &d.rec, nil
}

func (d *JSONDecoder) finish() error {
	d.done = true
	if _, err := d.dec.ReadToken(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("json: unexpected data after the document at byte %d", d.End())
	}
	return io.EOF
}

func jsonValid(b []byte) bool { return jsontext.Value(b).IsValid() }
