package infer

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// Sample bounds: the first DefaultMaxRecords records, read from at most
// DefaultMaxBytes of decompressed input.
const (
	DefaultMaxRecords = 10_000
	DefaultMaxBytes   = 64 << 20
)

// SampleOptions bound a sample.
type SampleOptions struct {
	// MaxRecords is the most records read (default DefaultMaxRecords).
	MaxRecords int
	// MaxBytes is the most decompressed bytes read (default
	// DefaultMaxBytes). A record that reaches past them is left out.
	MaxBytes int
}

// Sample is the start of an input, decoded as sluice run decodes it.
type Sample struct {
	// Name is the input's object name, which settles its format as it
	// does for sluice run.
	Name        string
	Format      codec.Format
	Compression codec.Compression
	// Delimiter is the CSV delimiter found in the header line.
	Delimiter byte
	// Columns are the CSV header's names, or the JSON objects' top-level
	// keys in the order they first appear.
	Columns []string
	// Rows are the records read, their fields in Columns' order.
	Rows []Row
	// Truncated says the input goes on past the sample.
	Truncated bool
}

// Row is one record of a sample. Its fields are its own copies.
type Row struct {
	Fields []codec.RawField
	// Err says why the decoder rejected the record (sluice run rejects it
	// under the rule decode); its fields are then all missing.
	Err error
}

// ErrEmpty: the sample holds no column to infer a field from.
var ErrEmpty = errors.New("no columns in the sample")

// ReadSample reads the start of an input as sluice run's extract and
// transform stages do: the compression from the first bytes, the format
// from name and then from the decompressed data, the CSV header, a UTF-8
// byte order mark dropped and any line ends. r is read only as far as
// the sample goes.
func ReadSample(r io.Reader, name string, optFns ...func(*SampleOptions)) (*Sample, error) {
	opt := SampleOptions{MaxRecords: DefaultMaxRecords, MaxBytes: DefaultMaxBytes}
	for _, fn := range optFns {
		fn(&opt)
	}
	dr, comp, err := codec.Decompress(r, codec.CompressionAuto, limits())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer dr.Close()
	src := &source{r: dr, left: opt.MaxBytes, bound: opt.MaxBytes, keep: true}
	head := make([]byte, min(opt.MaxBytes, 64<<10))
	n, err := io.ReadFull(src, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	s := &Sample{Name: name, Compression: comp, Format: codec.FormatFromName(name)}
	if s.Format == "" {
		s.Format = codec.SniffFormat(head[:n])
	}
	d := sampleDecoder{s: s, src: src, head: head[:n], max: opt.MaxRecords}
	if s.Format == codec.FormatCSV {
		err = d.csv()
	} else {
		err = d.json()
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(s.Columns) == 0 {
		return nil, fmt.Errorf("read %s: %w%s", name, ErrEmpty, s.undecoded())
	}
	s.Truncated = s.Truncated || src.cut()
	return s, nil
}

// source is the decompressed input up to the sample's byte bound. While
// keep is set it keeps what it reads, for a second pass.
type source struct {
	r     io.Reader
	left  int // bytes the bound still allows
	bound int
	keep  bool
	kept  []byte
	more  *bool // once the bound is reached: whether the input goes on
}

func (s *source) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(len(p), s.left)]
	n, err := s.r.Read(p)
	s.left -= n
	if s.keep {
		s.kept = append(s.kept, p[:n]...)
	}
	return n, err
}

// again reads the input from its start: the bytes kept, then the rest.
func (s *source) again() io.Reader { return io.MultiReader(bytes.NewReader(s.kept), s) }

// cut reports whether the bound stopped the input short: it was reached,
// and the input goes on.
func (s *source) cut() bool {
	if s.left > 0 {
		return false
	}
	if s.more == nil {
		var b [1]byte
		n, _ := io.ReadFull(s.r, b[:])
		more := n > 0
		s.more = &more
	}
	return *s.more
}

// Describe is the sample's format and compression: "csv, gzip".
func (s *Sample) Describe() string { return string(s.Format) + ", " + compressionText(s.Compression) }

// undecoded says why the records of a sample without columns gave none:
// the first decode error.
func (s *Sample) undecoded() string {
	n, first := 0, -1
	for i, r := range s.Rows {
		if r.Err != nil {
			n++
			if first < 0 {
				first = i
			}
		}
	}
	if n > 0 {
		return fmt.Sprintf(": %d of %d records could not be decoded (record %d: %v)", n, len(s.Rows), first+1, s.Rows[first].Err)
	}
	return ""
}

// limits are sluice run's default decompression limits.
func limits() codec.Limits {
	return codec.Limits{MaxBytes: spec.DefaultMaxDecompressedBytes, MaxRatio: spec.DefaultMaxCompressionRatio,
		MaxZstdWindow: spec.DefaultMaxZstdWindow, RequireUTF8: true}
}

// sampleDecoder decodes the sample. head is the input's first bytes.
type sampleDecoder struct {
	s    *Sample
	src  *source
	head []byte
	max  int
}

// csv reads the header, then the records, with the options a spec that
// names the sample's delimiter gives sluice run.
func (d *sampleDecoder) csv() error {
	d.s.Delimiter = sniffDelimiter(d.head)
	opt := plan.CSVOptions(&spec.Spec{Source: spec.Source{CSV: spec.CSVOptions{Delimiter: delimiterOption(d.s.Delimiter)}}}, 0)
	head, err := codec.NewCSVDecoder(d.src.again(), nil, opt, codec.Range{})
	if err != nil {
		return err
	}
	d.s.Columns = head.Header()
	d.src.keep = false
	dec, err := codec.NewCSVDecoder(d.src.again(), d.s.Columns, opt, codec.Range{})
	if err != nil {
		return err
	}
	return d.records(dec)
}

// json finds the objects' keys in a first pass, then reads their values.
func (d *sampleDecoder) json() error {
	seen := map[string]bool{}
	keys := func(o *codec.DecoderOptions) {
		o.UnknownKey = func(k []byte) {
			if len(k) > 0 && !seen[string(k)] {
				seen[string(k)] = true
				d.s.Columns = append(d.s.Columns, string(k))
			}
		}
	}
	if err := d.records(d.jsonDecoder(nil, keys)); err != nil {
		return err
	}
	d.s.Rows, d.s.Truncated = d.s.Rows[:0], false
	d.src.keep = false
	return d.records(d.jsonDecoder(d.s.Columns))
}

func (d *sampleDecoder) jsonDecoder(columns []string, optFns ...func(*codec.DecoderOptions)) codec.Decoder {
	r := d.src.again()
	if d.s.Format == codec.FormatJSONL {
		return codec.NewJSONLDecoder(r, columns, 0, codec.Range{}, optFns...)
	}
	return codec.NewJSONDecoder(r, columns, 0, optFns...)
}

// records reads up to max records. When the input goes on past the
// sample's byte bound, the record that reaches it is left out: it may be
// cut short. A record after the last one read marks the sample as
// truncated.
func (d *sampleDecoder) records(dec codec.Decoder) error {
	for {
		if len(d.s.Rows) == d.max {
			if _, err := dec.Next(); err == nil {
				d.s.Truncated = true
			}
			return nil
		}
		rec, err := dec.Next()
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil && d.src.cut():
			return nil // a document cut short by the bound
		case err != nil:
			return err
		case dec.End() >= int64(d.src.bound) && d.src.cut():
			return nil
		}
		row := Row{Fields: make([]codec.RawField, len(rec.Fields)), Err: rec.Err}
		for i, f := range rec.Fields {
			row.Fields[i] = codec.RawField{Kind: f.Kind, Bytes: bytes.Clone(f.Bytes)}
		}
		d.s.Rows = append(d.s.Rows, row)
	}
}

// sniffDelimiter is the delimiter of the first line, outside quotes: the
// most frequent of comma, tab, semicolon and bar, comma on a tie.
func sniffDelimiter(buf []byte) byte {
	buf = bytes.TrimPrefix(buf, []byte{0xEF, 0xBB, 0xBF})
	counts := map[byte]int{}
	quoted := false
	for _, c := range buf {
		if c == '"' {
			quoted = !quoted
		}
		if !quoted && (c == '\n' || c == '\r') {
			break
		}
		if !quoted {
			counts[c]++
		}
	}
	best := byte(',')
	for _, c := range []byte{'\t', ';', '|'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return best
}

// delimiterOption is a delimiter as a spec writes it.
func delimiterOption(c byte) string {
	if c == '\t' {
		return "tab"
	}
	return string(c)
}
