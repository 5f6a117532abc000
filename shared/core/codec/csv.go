package codec

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
)

// CSVOptions configures the CSV decoder.
type CSVOptions struct {
	Delimiter byte // default ','
	Quote     byte // default '"'
	Comment   byte // 0: no comment lines
	// Header says the first record names the columns. Without a header,
	// Columns names them by position.
	Header  bool
	Columns []string
	// KeepBOM keeps a leading UTF-8 byte order mark instead of dropping it.
	KeepBOM        bool
	MaxRecordBytes int
	// DetectCR reads an old Mac file, whose first line ends with a lone CR,
	// as lines that end with CR (or LF, or CRLF). Chunks are planned at LF,
	// so the first chunk of such a file reads it to the end, past its
	// Range.Limit; the chunks after it are realigned to its end and empty.
	DetectCR bool
}

func (o *CSVOptions) defaults() {
	if o.Delimiter == 0 {
		o.Delimiter = ','
	}
	if o.Quote == 0 {
		o.Quote = '"'
	}
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = DefaultMaxRecordBytes
	}
}

// Range places a decoder inside a larger stream: Start is the absolute
// offset of the reader's first byte, and decoding stops before the first
// record that starts at or after Limit (Limit <= 0: read to the end).
// Header carries the column names to a chunk that does not hold them.
type Range struct {
	Start  int64
	Limit  int64
	Header []string
}

// CSVDecoder decodes RFC 4180 CSV (plus CRLF, comments, a BOM and, with
// DetectCR, old Mac CR line ends) one record at a time. Lines without a
// quote take a fast path that splits on the delimiter in place; quoted
// records are unescaped into a scratch buffer.
type CSVDecoder struct {
	s       scanBuf
	opt     CSVOptions
	limit   int64
	line    int64 // line of s.pos, relative to the chunk start
	index   int64
	header  []string
	colIdx  []int
	fields  [][]byte
	spans   []span
	scratch []byte
	rec     RawRecord

	// unknown are the header columns no requested column names, under
	// UnknownReject: a row with a value in one is rejected.
	unknown []int
}

type span struct {
	inScratch  bool
	start, end int
}

// NewCSVDecoder returns a decoder that yields, for every record, the fields
// named in columns. With opt.Header and no rng.Header it reads the header
// first. The header (or opt.Columns, without one) is held to the
// contract here: a failure is an error that wraps ErrHeader, and
// ErrUnknownColumn or ErrMissingColumn. By default a column missing from
// the header fails.
func NewCSVDecoder(r io.Reader, columns []string, opt CSVOptions, rng Range, optFns ...func(*DecoderOptions)) (*CSVDecoder, error) {
	opt.defaults()
	d := &CSVDecoder{s: newScanBuf(r, rng.Start, opt.MaxRecordBytes), opt: opt, limit: rng.Limit, line: 1}
	if rng.Start == 0 {
		d.start()
	}
	var headerLine int64 // the header's line, when the input has one
	switch {
	case rng.Header != nil:
		d.header = rng.Header
	case opt.Header:
		h, err := d.readHeader()
		if err != nil {
			return nil, err
		}
		d.header, headerLine = h, d.rec.Line
	default:
		d.header = opt.Columns
	}
	if err := d.bind(columns, decoderOptions(optFns).Contract, headerLine); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHeader, err)
	}
	d.rec.Fields = make([]RawField, len(columns))
	return d, nil
}

// bind finds each requested column in the header and holds the header to
// the contract c. An empty input has no header, and nothing to hold.
// headerLine is the header's line in the input, or 0: the header came
// from CSVOptions.Columns or, for a later chunk, from Range.Header.
func (d *CSVDecoder) bind(columns []string, c Contract, headerLine int64) error {
	d.colIdx = make([]int, len(columns))
	for i, col := range columns {
		d.colIdx[i] = slices.Index(d.header, col)
		if d.colIdx[i] < 0 && d.header != nil && c.missing(i) != MissingNull {
			return contractErr(ErrMissingColumn, "column %q not found (have %s)%s", col, strings.Join(d.header, ", "), c.csvMissingReason(i))
		}
	}
	if c.Unknown != UnknownReject && c.Unknown != UnknownFail {
		return nil
	}
	for j, h := range d.header {
		if slices.Contains(columns, h) {
			continue
		}
		if c.Unknown == UnknownFail {
			where := ""
			switch {
			case headerLine > 0:
				where = fmt.Sprintf("line %d: ", headerLine)
			case !d.opt.Header:
				where = "csv.columns: "
			}
			return contractErr(ErrUnknownColumn, "%scolumn %q is not read by any field (source.unknown_columns is fail)", where, h)
		}
		d.unknown = append(d.unknown, j)
	}
	return nil
}

// Header returns the column names in file order (nil for an empty file).
func (d *CSVDecoder) Header() []string { return d.header }

// End implements Decoder.
func (d *CSVDecoder) End() int64 { return d.s.offset() }

// Lines implements Decoder.
func (d *CSVDecoder) Lines() int64 { return d.line - 1 }

// start reads the start of the input: it drops a UTF-8 byte order mark
// unless KeepBOM, and with DetectCR settles the line ends.
func (d *CSVDecoder) start() {
	if !d.opt.KeepBOM {
		d.s.stripBOM()
	}
	if d.opt.DetectCR && d.firstLineEndsWithCR() {
		d.s.cr, d.limit = true, 0
	}
}

// firstLineEndsWithCR reports whether the first line break outside quoted
// fields, within the record size limit, is a CR that no LF follows.
func (d *CSVDecoder) firstLineEndsWithCR() bool {
	s, q := &d.s, d.opt.Quote
	// A quote opens a quoted field at the start of a field, or right after
	// the quote that closed one (an escaped quote).
	quoted, open := false, true
	for rel := 0; rel <= d.opt.MaxRecordBytes; rel++ {
		if s.pos+rel == s.end && !s.fill() {
			return false
		}
		c := s.buf[s.pos+rel]
		if quoted {
			if c == q {
				quoted, open = false, true
			}
			continue
		}
		switch {
		case c == q && open:
			quoted = true
		case c == '\n':
			return false
		case c == '\r':
			next := s.peek(rel + 2)
			return len(next) == rel+2 && next[rel+1] != '\n'
		}
		open = c == d.opt.Delimiter
	}
	return false
}

func (d *CSVDecoder) readHeader() ([]string, error) {
	ok, err := d.readRecord()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil // empty input: no header, no records
	}
	if d.rec.Err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrHeader, d.rec.Line, d.rec.Err)
	}
	h := make([]string, len(d.fields))
	seen := make(map[string]int, len(h))
	for i, f := range d.fields {
		h[i] = strings.TrimSpace(string(f))
		if h[i] == "" {
			return nil, fmt.Errorf("%w: line %d: column %d has an empty name", ErrHeader, d.rec.Line, i+1)
		}
		if j, dup := seen[h[i]]; dup {
			return nil, fmt.Errorf("%w: line %d: duplicate column name %q (columns %d and %d)", ErrHeader, d.rec.Line, h[i], j+1, i+1)
		}
		seen[h[i]] = i
	}
	return h, nil
}

// Next implements Decoder.
func (d *CSVDecoder) Next() (*RawRecord, error) {
	ok, err := d.readRecord()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, io.EOF
	}
	d.index++
	d.rec.Index = d.index
	if d.rec.Err == nil && d.header != nil && len(d.fields) != len(d.header) {
		d.rec.Err = recErr(ErrColumnCount, "want %d, got %d", len(d.header), len(d.fields))
	}
	if d.rec.Err == nil && len(d.unknown) > 0 {
		d.rejectUnknown()
	}
	if d.rec.Err != nil {
		clear(d.rec.Fields) // not the previous record's stale fields
		return &d.rec, nil
	}
	for i, c := range d.colIdx {
		if c < 0 || c >= len(d.fields) {
			d.rec.Fields[i] = RawField{Kind: RawMissing}
			continue
		}
		d.rec.Fields[i] = RawField{Kind: RawString, Bytes: d.fields[c]}
	}
	return &d.rec, nil
}

// rejectUnknown rejects the record when it has a value in an unknown
// column: an empty value is no value.
func (d *CSVDecoder) rejectUnknown() {
	for _, j := range d.unknown {
		if len(d.fields[j]) > 0 {
			d.rec.Err = recErr(ErrUnknownColumn, "column %q has a value, and no field reads it", d.header[j])
			return
		}
	}
}

// readRecord reads the next non-blank, non-comment record into d.fields and
// d.rec's position fields. It reports false at the end of input or chunk.
func (d *CSVDecoder) readRecord() (bool, error) {
	s := &d.s
	max := d.opt.MaxRecordBytes
	for {
		if d.limit > 0 && s.offset() >= d.limit {
			return false, nil
		}
		// Take the offset first: nextLine skips past a line that is too long.
		off := s.offset()
		line, next, res, raw := s.nextLine(max)
		if s.err != nil {
			return false, fmt.Errorf("csv: read at byte %d: %w", s.offset(), s.err)
		}
		d.rec.Offset = off
		d.rec.Line = d.line
		d.rec.Err = nil
		switch res {
		case lineEOF:
			return false, nil
		case lineTooLong:
			s.pos = next
			d.line++
			d.rec.Raw = raw
			d.rec.Err = recErr(ErrRecordTooLarge, "limit %d bytes", max)
			return true, nil
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) == 0 || (d.opt.Comment != 0 && line[0] == d.opt.Comment) {
			s.pos = next
			d.line++
			continue
		}
		if bytes.IndexByte(line, d.opt.Quote) < 0 {
			d.splitFast(line)
			d.rec.Raw = line
			s.pos = next
			d.line++
			return true, nil
		}
		if err := d.readQuoted(next); err != nil {
			return false, err
		}
		return true, nil
	}
}

func (d *CSVDecoder) splitFast(line []byte) {
	d.fields = d.fields[:0]
	delim := d.opt.Delimiter
	for {
		j := bytes.IndexByte(line, delim)
		if j < 0 {
			d.fields = append(d.fields, line)
			return
		}
		d.fields = append(d.fields, line[:j])
		line = line[j+1:]
	}
}

type quoteStatus uint8

const (
	quoteOK quoteStatus = iota
	quoteNeedMore
	quoteBad
)

// readQuoted parses a record that contains quotes, possibly over several
// physical lines. lineNext is the end of the record's first physical line,
// where decoding resumes if the record cannot be parsed.
func (d *CSVDecoder) readQuoted(lineNext int) error {
	s := &d.s
	max := d.opt.MaxRecordBytes
	lineNextAbs := s.base + int64(lineNext)
	for {
		// Parse at most max+1 bytes: that is enough to tell a record of up
		// to max bytes (plus its line break) from a longer one, and it makes
		// the outcome independent of how reads split the input.
		data, atEOF := s.buf[s.pos:s.end], s.eof
		if len(data) > max+1 {
			data, atEOF = data[:max+1], false
		}
		st, used, nl, at := d.parseQuoted(data, atEOF)
		over := st == quoteOK && used > max && data[used-1] != '\n'
		if over {
			st = quoteNeedMore // a record at the end of input, over the limit
		}
		switch st {
		case quoteOK:
			d.rec.Raw = s.buf[s.pos : s.pos+used]
			d.resolveSpans(s.buf[s.pos:])
			s.pos += used
			d.line += nl
			return nil
		case quoteNeedMore:
			if !over && s.end-s.pos <= max+1 && !s.eof && s.err == nil {
				s.fill() // makes progress: new bytes, end of input or an error
				continue
			}
			if s.err != nil {
				return fmt.Errorf("csv: read at byte %d: %w", s.offset(), s.err)
			}
			// Unterminated quote: quarantine the first physical line and
			// resume on the next one.
			next := int(lineNextAbs - s.base)
			d.rec.Raw = append([]byte(nil), clip(bytes.TrimRight(s.buf[s.pos:next], "\r\n"))...)
			if over || s.end-s.pos > max+1 {
				d.rec.Err = recErr(ErrQuote, "quoted field not closed within max_record_bytes (%d)", max)
			} else {
				d.rec.Err = recErr(ErrQuote, "quoted field not closed before end of input")
			}
			s.pos = next
			d.line++
			return nil
		case quoteBad:
			// Quarantine up to the end of the physical line holding the
			// bad byte (within the first max+1 bytes of the record), reading
			// on as needed, and resume after that line.
			errAbs := s.base + int64(s.pos+at)
			for !s.eof && s.err == nil && s.end-s.pos <= max+1 &&
				s.indexEOL(s.buf[int(errAbs-s.base):s.end]) < 0 {
				s.fill()
			}
			if s.err != nil {
				return fmt.Errorf("csv: read at byte %d: %w", s.offset(), s.err)
			}
			errAt := int(errAbs - s.base)
			win := s.buf[s.pos:min(s.end, s.pos+max+1)]
			stop := len(win)
			if i := s.indexEOL(win[at:]); i >= 0 {
				stop = at + i + 1
			}
			d.rec.Raw = append([]byte(nil), clip(bytes.TrimRight(win[:stop], "\r\n"))...)
			d.rec.Err = recErr(ErrQuote, "unexpected character after closing quote at byte %d of the record", at+1)
			if i := s.indexEOL(s.buf[errAt:s.end]); i >= 0 {
				d.line += s.countEOL(s.buf[s.pos : errAt+i+1])
				s.pos = s.pastEOL(errAt + i)
			} else {
				d.line += s.countEOL(s.buf[s.pos:s.end])
				s.pos = s.end
				if s.skipPastNewline() {
					d.line++
				}
			}
			return nil
		}
	}
}

// parseQuoted parses one record at the start of data. It returns the bytes
// used (terminator included), the line breaks consumed and, for quoteBad,
// the index of the offending byte.
func (d *CSVDecoder) parseQuoted(data []byte, atEOF bool) (st quoteStatus, used int, nl int64, at int) {
	q, delim := d.opt.Quote, d.opt.Delimiter
	d.spans = d.spans[:0]
	d.scratch = d.scratch[:0]
	i := 0
	for {
		if i < len(data) && data[i] == q {
			i++
			start := len(d.scratch)
			for {
				j := bytes.IndexByte(data[i:], q)
				if j < 0 {
					return quoteNeedMore, 0, 0, 0
				}
				d.scratch = append(d.scratch, data[i:i+j]...)
				nl += d.s.countEOL(data[i : i+j])
				i += j + 1
				if i < len(data) && data[i] == q {
					d.scratch = append(d.scratch, q)
					i++
					continue
				}
				break
			}
			d.spans = append(d.spans, span{inScratch: true, start: start, end: len(d.scratch)})
			if i == len(data) {
				if !atEOF {
					return quoteNeedMore, 0, 0, 0
				}
				return quoteOK, i, nl, 0
			}
			switch c := data[i]; {
			case c == delim:
				i++
				continue
			case c == '\n':
				return quoteOK, i + 1, nl + 1, 0
			case c == '\r' && i+1 < len(data) && data[i+1] == '\n':
				return quoteOK, i + 2, nl + 1, 0
			case c == '\r' && i+1 == len(data):
				if !atEOF {
					return quoteNeedMore, 0, 0, 0
				}
				if d.s.cr {
					nl++
				}
				return quoteOK, i + 1, nl, 0
			case c == '\r' && d.s.cr:
				return quoteOK, i + 1, nl + 1, 0
			default:
				return quoteBad, 0, 0, i
			}
		}
		// Unquoted field: runs to the delimiter or the end of the line. A
		// quote inside it is taken literally.
		j := i
		if d.s.cr {
			for j < len(data) && data[j] != delim && data[j] != '\n' && data[j] != '\r' {
				j++
			}
		} else {
			for j < len(data) && data[j] != delim && data[j] != '\n' {
				j++
			}
		}
		if j == len(data) {
			if !atEOF {
				return quoteNeedMore, 0, 0, 0
			}
			end := j
			if end > i && data[end-1] == '\r' {
				end--
			}
			d.spans = append(d.spans, span{start: i, end: end})
			return quoteOK, j, nl, 0
		}
		if data[j] == delim {
			d.spans = append(d.spans, span{start: i, end: j})
			i = j + 1
			continue
		}
		if data[j] == '\r' { // a line break: only with d.s.cr
			d.spans = append(d.spans, span{start: i, end: j})
			switch {
			case j+1 < len(data) && data[j+1] == '\n':
				return quoteOK, j + 2, nl + 1, 0
			case j+1 < len(data) || atEOF:
				return quoteOK, j + 1, nl + 1, 0
			}
			return quoteNeedMore, 0, 0, 0
		}
		end := j
		if end > i && data[end-1] == '\r' {
			end--
		}
		d.spans = append(d.spans, span{start: i, end: end})
		return quoteOK, j + 1, nl + 1, 0
	}
}

func (d *CSVDecoder) resolveSpans(data []byte) {
	d.fields = d.fields[:0]
	for _, sp := range d.spans {
		if sp.inScratch {
			d.fields = append(d.fields, d.scratch[sp.start:sp.end])
		} else {
			d.fields = append(d.fields, data[sp.start:sp.end])
		}
	}
}
