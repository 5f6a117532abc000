package codec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// objectParser maps the members of one JSON object onto requested columns.
type objectParser struct {
	cols  map[string]int
	names []string
	// fast reads flat objects, with the duplicate-name check done here;
	// strict is jsontext's own, for objects holding objects or arrays.
	fast, strict jsontext.Decoder
	// src feeds obj to a decoder: jsontext reads a bytes.Buffer in
	// place, so the values it returns alias obj.
	src   bytes.Buffer
	arena []byte
	keys  keyChecks
	// unknownKey is DecoderOptions.UnknownKey.
	unknownKey func(key []byte)
	// next is the column the next member most likely names: members
	// usually come in the same order, record after record.
	next int
	// unknown holds the names of the object's members no column reads,
	// to find duplicates among them.
	unknown [][]byte
}

func newObjectParser(columns []string, o DecoderOptions) objectParser {
	m := make(map[string]int, len(columns))
	for i, c := range columns {
		m[c] = i
	}
	return objectParser{cols: m, names: columns, keys: newKeyChecks(o.Contract, len(columns)), unknownKey: o.UnknownKey}
}

// decode decodes obj into fields and applies the contract. It returns the
// record's error, and the error that stops the decoder when the record
// breaks a contract that fails. Field bytes alias obj or the parser's
// arena. On either error every field is left RawMissing.
func (p *objectParser) decode(obj []byte, fields []RawField) (rec, fatal error) {
	clear(fields)
	if p.keys.on {
		p.keys.reset()
	}
	rec = p.parseObject(obj, fields)
	if rec == nil && p.keys.on {
		rec, fatal = p.keys.check(fields, p.names)
	}
	if rec != nil || fatal != nil {
		clear(fields)
	}
	return rec, fatal
}

// errNested stops the fast parse of an object that holds an object or an
// array: those are checked by the strict decoder, nested names and all.
var errNested = errors.New("nested value")

// fastOptions let the flat parse skip jsontext's name tracking, which
// costs a set insert per member; parseMembers checks names itself.
var fastOptions = []jsontext.Options{jsontext.AllowDuplicateNames(true)}

func (p *objectParser) parseObject(obj []byte, fields []RawField) error {
	if p.scanFlat(obj, fields) {
		return nil
	}
	clear(fields)
	if p.keys.on {
		p.keys.reset()
	}
	p.src = *bytes.NewBuffer(obj)
	p.fast.Reset(&p.src, fastOptions...)
	err := p.parseMembers(&p.fast, obj, fields, false)
	if err != errNested {
		return err
	}
	clear(fields)
	if p.keys.on {
		p.keys.reset()
	}
	p.src = *bytes.NewBuffer(obj)
	p.strict.Reset(&p.src)
	return p.parseMembers(&p.strict, obj, fields, true)
}

// parseMembers reads obj's members through dec. Unless strict, it
// returns errNested at the first object or array value and finds
// duplicate names itself, with jsontext's words and offsets.
func (p *objectParser) parseMembers(dec *jsontext.Decoder, obj []byte, fields []RawField, strict bool) error {
	p.arena, p.unknown, p.next = p.arena[:0], p.unknown[:0], 0
	tok, err := dec.ReadToken()
	if err != nil {
		return recErr(ErrInvalidJSON, "%s", jsonReason(err))
	}
	if tok.Kind() != '{' {
		return recErr(ErrNotObject, "got %s", kindName(tok.Kind()))
	}
	for dec.PeekKind() != '}' {
		if err := p.member(dec, fields, strict); err != nil {
			return err
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return recErr(ErrInvalidJSON, "%s", jsonReason(err))
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return recErr(ErrInvalidJSON, "unexpected data after the object")
	}
	return nil
}

// member reads one name and its value into fields.
func (p *objectParser) member(dec *jsontext.Decoder, fields []RawField, strict bool) error {
	if !strict && dec.PeekKind() != '"' {
		return errNested // a malformed name: the strict parse words it
	}
	name, err := dec.ReadValue()
	if err != nil {
		return recErr(ErrInvalidJSON, "%s", jsonReason(err))
	}
	nameAt := dec.InputOffset() - int64(len(name))
	key, err := p.unquote(name)
	if err != nil {
		return err
	}
	idx, want := p.column(key)
	if !strict {
		if err := p.duplicate(fields, idx, want, key, nameAt); err != nil {
			return err
		}
		if k := dec.PeekKind(); k == '{' || k == '[' {
			return errNested
		}
	}
	if !want {
		return p.skip(dec, key)
	}
	v, err := dec.ReadValue()
	if err != nil {
		return recErr(ErrInvalidJSON, "%s", jsonReason(err))
	}
	return p.set(fields, idx, v)
}

// duplicate reports a name the object has had before: a column already
// set, or an unknown name already seen.
func (p *objectParser) duplicate(fields []RawField, idx int, want bool, key []byte, nameAt int64) error {
	if want {
		if fields[idx].Kind != RawMissing {
			return duplicateName(nameAt)
		}
		return nil
	}
	for _, seen := range p.unknown {
		if bytes.Equal(seen, key) {
			return duplicateName(nameAt)
		}
	}
	p.unknown = append(p.unknown, key)
	return nil
}

// duplicateName is the error jsontext gives a repeated member name that
// starts at offset at.
func duplicateName(at int64) error {
	return recErr(ErrInvalidJSON, "duplicate object member name at byte %d", at+1)
}

// unquote is a member name's text, unescaped into the arena if need be.
func (p *objectParser) unquote(name jsontext.Value) ([]byte, error) {
	key := name[1 : len(name)-1]
	if bytes.IndexByte(key, '\\') < 0 {
		return key, nil
	}
	start := len(p.arena)
	var err error
	if p.arena, err = jsontext.AppendUnquote(p.arena, name); err != nil {
		return nil, recErr(ErrInvalidJSON, "%s", jsonReason(err))
	}
	return p.arena[start:], nil
}

// column is the column key names, trying the expected one first.
func (p *objectParser) column(key []byte) (int, bool) {
	if p.next < len(p.names) && string(key) == p.names[p.next] {
		p.next++
		return p.next - 1, true
	}
	idx, ok := p.cols[string(key)]
	if ok {
		p.next = idx + 1
	}
	return idx, ok
}

// skip passes over the value of a member no column reads.
func (p *objectParser) skip(dec *jsontext.Decoder, key []byte) error {
	if p.unknownKey != nil {
		p.unknownKey(key)
	}
	if p.keys.unknown != "" {
		p.keys.sawUnknown(key)
	}
	if err := dec.SkipValue(); err != nil {
		return recErr(ErrInvalidJSON, "%s", jsonReason(err))
	}
	return nil
}

// set stores value v of column idx.
func (p *objectParser) set(fields []RawField, idx int, v jsontext.Value) error {
	switch v.Kind() {
	case '"':
		s := v[1 : len(v)-1]
		if bytes.IndexByte(s, '\\') >= 0 {
			start := len(p.arena)
			var err error
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
	return nil
}

func jsonReason(err error) string { return jsonReasonAt(err, 0) }

// jsonReasonAt words err as jsonReason does, for a tokenizer whose first
// byte is at offset base.
func jsonReasonAt(err error, base int64) string {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", se.Err, base+se.ByteOffset+1)
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
func NewJSONLDecoder(r io.Reader, columns []string, maxRecord int, rng Range, optFns ...func(*DecoderOptions)) *JSONLDecoder {
	if maxRecord <= 0 {
		maxRecord = DefaultMaxRecordBytes
	}
	o := decoderOptions(optFns)
	d := &JSONLDecoder{s: newScanBuf(r, rng.Start, maxRecord), max: maxRecord, limit: rng.Limit, line: 1, p: newObjectParser(columns, o)}
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
		var fatal error
		if d.rec.Err, fatal = d.p.decode(line, d.rec.Fields); fatal != nil {
			return nil, fmt.Errorf("jsonl: line %d (record %d, byte %d): %w", d.rec.Line, d.rec.Index, d.rec.Offset, fatal)
		}
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
// that is not an object is quarantined, and so is one over the record size
// limit: an element too large to buffer is scanned past without being
// kept, and decoding resumes after it. A syntax error outside such an
// element, or a cut-short document, stops the stream with an error naming
// the byte offset.
type JSONDecoder struct {
	dec *jsontext.Decoder
	cr  *countingReader // the input after a UTF-8 byte order mark
	// base is the offset in cr's bytes of dec's first byte: the tokenizer
	// is restarted after an element too large to buffer.
	base    int64
	readErr error // the last error guardReader returned
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

// jsonOptions let duplicate names and invalid UTF-8 through the outer
// tokenizer: they are the element's fault, not the stream's, and the
// record parser rejects the element alone.
var jsonOptions = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

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
func NewJSONDecoder(r io.Reader, columns []string, maxRecord int, optFns ...func(*DecoderOptions)) *JSONDecoder {
	if maxRecord <= 0 {
		maxRecord = DefaultMaxRecordBytes
	}
	o := decoderOptions(optFns)
	d := &JSONDecoder{max: maxRecord, p: newObjectParser(columns, o)}
	d.bom.r = r
	d.cr = &countingReader{r: &d.bom}
	d.dec = jsontext.NewDecoder(&guardReader{d: d}, jsonOptions...)
	d.rec.Fields = make([]RawField, len(columns))
	return d
}

// guardReader stops a single JSON value from growing past the record limit:
// the jsontext decoder buffers a whole value, so bytes read since the last
// value boundary are bounded here. It never reads past that bound, so the
// value that trips it does not depend on how the input's reads fall.
type guardReader struct{ d *JSONDecoder }

func (g *guardReader) Read(p []byte) (int, error) {
	d := g.d
	room := d.base + d.dec.InputOffset() + int64(d.max) + readChunk + 1 - d.cr.n
	if room <= 0 {
		d.readErr = recErr(ErrRecordTooLarge, "limit %d bytes", d.max)
		return 0, d.readErr
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	if len(p) > readChunk {
		p = p[:readChunk]
	}
	n, err := d.cr.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		d.readErr = err
	}
	return n, err
}

// End implements Decoder.
func (d *JSONDecoder) End() int64 { return d.bom.n + d.base + d.dec.InputOffset() }

// Lines implements Decoder. JSON documents are not line oriented.
func (d *JSONDecoder) Lines() int64 { return 0 }

func (d *JSONDecoder) fail(err error, what string) error {
	if d.readErr != nil && errors.Is(err, d.readErr) {
		err = d.readErr // the reader's own error, without the tokenizer's wording of it
	}
	if errors.Is(err, ErrRecordTooLarge) {
		return fmt.Errorf("json: record %d at byte %d: %w", d.index+1, d.End(), err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || (errors.Is(err, io.EOF) && d.started) {
		return fmt.Errorf("json: %w: input ends inside %s after %d records (byte %d)", ErrTruncated, what, d.index, d.bom.n+d.cr.n)
	}
	if err == d.readErr {
		return fmt.Errorf("json: %s after %d records: %w", what, d.index, err)
	}
	// Wrap the cause: a read error (a truncated compressed stream, a
	// network failure) must stay visible to errors.Is.
	return fmt.Errorf("json: %s after %d records: %w", what, d.index, reasonError{err, d.base})
}

// reasonError words a jsontext error as jsonReason does and wraps it.
type reasonError struct {
	err  error
	base int64 // the offset of the tokenizer's first byte
}

func (e reasonError) Error() string { return jsonReasonAt(e.err, e.base) }
func (e reasonError) Unwrap() error { return e.err }

// Next implements Decoder.
func (d *JSONDecoder) Next() (*RawRecord, error) {
	if d.done {
		return nil, io.EOF
	}
	if !d.started {
		if err := d.begin(); err != nil {
			return nil, err
		}
	}
	for {
		if d.array && d.dec.PeekKind() == ']' {
			if _, err := d.dec.ReadToken(); err != nil {
				return nil, d.fail(err, d.what())
			}
			return nil, d.finish()
		}
		v, err := d.dec.ReadValue()
		if errors.Is(err, ErrRecordTooLarge) {
			rec, err := d.skip()
			if rec == nil && err == nil {
				continue // the element fit after all: read it again
			}
			return rec, err
		}
		if err != nil {
			return nil, d.fail(err, d.what())
		}
		return d.record(v)
	}
}

// begin reads the start of the document: an array, or a single object.
func (d *JSONDecoder) begin() error {
	switch d.dec.PeekKind() {
	case '[':
		if _, err := d.dec.ReadToken(); err != nil {
			return d.fail(err, "the array")
		}
		d.started, d.array = true, true
	case '{':
		d.started = true
	default:
		_, err := d.dec.ReadToken()
		if errors.Is(err, io.EOF) {
			d.done = true
			return io.EOF // empty document
		}
		if err == nil {
			return fmt.Errorf("json: %w: the document must be an object or an array of objects", ErrNotObject)
		}
		return d.fail(err, "the document")
	}
	return nil
}

func (d *JSONDecoder) what() string {
	if d.array {
		return "the array"
	}
	return "the object"
}

// record decodes the element v.
func (d *JSONDecoder) record(v jsontext.Value) (*RawRecord, error) {
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
		var fatal error
		if d.rec.Err, fatal = d.p.decode(v, d.rec.Fields); fatal != nil {
			return nil, fmt.Errorf("json: record %d (byte %d): %w", d.rec.Index, d.rec.Offset, fatal)
		}
	}
	if !d.array {
		if err := d.finish(); err != io.EOF {
			return nil, err
		}
	}
	return &d.rec, nil
}

// skip deals with an element the tokenizer would not buffer: it scans past
// the element without keeping it, quarantines it, and restarts the
// tokenizer after it. When the element turns out to fit (it came after a
// long run of whitespace) skip returns neither record nor error, and the
// tokenizer reads the element again.
func (d *JSONDecoder) skip() (*RawRecord, error) {
	sc := valueScan{r: d.cr, buf: bytes.Clone(d.dec.UnreadBuffer()), pos: d.base + d.dec.InputOffset(),
		array: d.array, keep: max(d.max+1, maxRawKept)}
	if err := sc.run(); err != nil {
		d.readErr = sc.err
		return nil, d.fail(err, d.what())
	}
	// The restarted tokenizer first reads "[" and, after an element, a
	// stand-in one ("0"), to be where the first one was in the array.
	before := ""
	if d.array {
		before = "["
		if d.index > 0 {
			before = "[0"
		}
		if sc.comma {
			before += ","
		}
	}
	switch {
	case sc.noValue:
		// Not a value: the tokenizer says what is wrong.
		return nil, d.restart(sc.restAt, sc.rest, before)
	case sc.n <= int64(d.max):
		return nil, d.restart(sc.start, append(sc.head, sc.rest...), before)
	}
	d.index++
	clear(d.rec.Fields)
	d.rec = RawRecord{Fields: d.rec.Fields, Index: d.index, Offset: d.bom.n + sc.start, Raw: clip(sc.head),
		Err: recErr(ErrRecordTooLarge, "limit %d bytes", d.max)}
	after := ""
	if d.array {
		after = "[0"
	}
	if err := d.restart(sc.restAt, sc.rest, after); err != nil {
		return nil, err
	}
	if !d.array {
		if err := d.finish(); err != io.EOF {
			return nil, err
		}
	}
	return &d.rec, nil
}

// restart starts a new tokenizer at at, an offset in cr's bytes, over
// buffered (the bytes from at already read from cr) and then the rest of
// cr. It first reads prefix: "[" and a stand-in element to stand for the
// part of the array before at.
func (d *JSONDecoder) restart(at int64, buffered []byte, prefix string) error {
	d.base, d.readErr = at-int64(len(prefix)), nil
	src := io.MultiReader(strings.NewReader(prefix), bytes.NewReader(buffered), &guardReader{d: d})
	d.dec = jsontext.NewDecoder(src, jsonOptions...)
	if prefix == "" {
		return nil
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return d.fail(err, d.what())
	}
	if strings.HasPrefix(prefix, "[0") {
		if _, err := d.dec.ReadValue(); err != nil { // the stand-in
			return d.fail(err, d.what())
		}
	}
	return nil
}

func (d *JSONDecoder) finish() error {
	d.done = true
	if _, err := d.dec.ReadToken(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("json: unexpected data after the document at byte %d", d.End())
	}
	return io.EOF
}

// valueScan finds the end of one JSON value (with, in an array, the
// whitespace and comma before it) without keeping more than its first
// bytes: it tracks strings, escapes and nesting, and does not validate.
type valueScan struct {
	r     io.Reader
	buf   []byte // bytes read and not yet scanned
	pos   int64  // offset of buf[0]
	array bool
	keep  int // how many of the value's first bytes to keep in head

	comma   bool   // a comma came before the value
	noValue bool   // the next byte does not start a value; rest starts at it
	start   int64  // offset of the value's first byte
	n       int64  // the value's length
	head    []byte // the value's first bytes
	rest    []byte // bytes read past the value, from restAt
	restAt  int64

	inValue, scalar, inString, escaped bool
	depth                              int
	err                                error // the reader's error
}

// run scans until the value ends, or returns an error: io.ErrUnexpectedEOF
// when the input ends inside it, or the reader's error.
func (v *valueScan) run() error {
	chunk := make([]byte, readChunk)
	for {
		from := 0 // where the value's bytes in buf begin
		for i, c := range v.buf {
			switch {
			case !v.inValue:
				if !v.startValue(c, i) {
					continue
				}
				if v.noValue {
					return nil
				}
				from = i
			case v.scalar:
				if jsonDelim(c) {
					v.stop(from, i)
					return nil
				}
			case v.step(c):
				v.stop(from, i+1)
				return nil
			}
		}
		if v.inValue {
			v.keepHead(v.buf[from:])
		}
		v.pos += int64(len(v.buf))
		v.buf = nil
		n, err := io.ReadAtLeast(v.r, chunk, 1)
		if n == 0 {
			if errors.Is(err, io.EOF) {
				if v.inValue && v.scalar {
					v.stop(0, 0) // a number at the end of the input
					return nil
				}
				return io.ErrUnexpectedEOF
			}
			v.err = err
			return err
		}
		v.buf = chunk[:n]
	}
}

// startValue looks at byte c, at index i of buf, before the value: it
// skips whitespace and, in an array, one comma. It reports whether the
// value (or something that is not one) starts at c.
func (v *valueScan) startValue(c byte, i int) bool {
	switch {
	case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		return false
	case c == ',' && v.array && !v.comma:
		v.comma = true
		return false
	case c == '{' || c == '[':
		v.depth = 1
	case c == '"':
		v.inString = true
	case c == '-' || c >= '0' && c <= '9' || c == 't' || c == 'f' || c == 'n':
		v.scalar = true
	default:
		v.noValue = true
		v.restAt, v.rest = v.pos+int64(i), bytes.Clone(v.buf[i:])
		return true
	}
	v.inValue, v.start = true, v.pos+int64(i)
	return true
}

// step takes byte c of a string, object or array value (not its first)
// and reports whether the value ends with it.
func (v *valueScan) step(c byte) bool {
	if v.inString {
		switch {
		case v.escaped:
			v.escaped = false
		case c == '\\':
			v.escaped = true
		case c == '"':
			v.inString = false
			return v.depth == 0
		}
		return false
	}
	switch c {
	case '"':
		v.inString = true
	case '{', '[':
		v.depth++
	case '}', ']':
		v.depth--
		return v.depth == 0
	}
	return false
}

// stop ends the value before buf[end]; its bytes in buf begin at from.
func (v *valueScan) stop(from, end int) {
	v.keepHead(v.buf[from:end])
	v.n = v.pos + int64(end) - v.start
	v.restAt, v.rest = v.pos+int64(end), bytes.Clone(v.buf[end:])
}

func (v *valueScan) keepHead(b []byte) {
	if room := v.keep - len(v.head); room > 0 {
		v.head = append(v.head, b[:min(len(b), room)]...)
	}
}

// jsonDelim reports whether c ends a number or literal.
func jsonDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ',', ']', '}':
		return true
	}
	return false
}

func jsonValid(b []byte) bool { return jsontext.Value(b).IsValid() }
