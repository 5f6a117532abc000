package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

type csvCase struct {
	name     string
	in       string
	cols     []string         // default: a, b
	opt      codec.CSVOptions // Header is forced on unless noHeader
	rng      codec.Range      // default: the whole input
	noHeader bool
	// newErr is a sentinel NewCSVDecoder must fail with.
	newErr error
	newMsg string
	header []string // Header() after construction, when set
	want   []rec
	// end is End() after io.EOF; -1 means len(in).
	end int64
	// lines is Lines() after io.EOF; -1 skips the check.
	lines int64
}

func z(n int) string { return strings.Repeat("z", n) }

var csvCases = []csvCase{
	{
		name: "basic", in: "a,b\n1,2\n3,4\n",
		header: []string{"a", "b"},
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{"1", "2"}, Raw: "1,2"},
			{Index: 2, Line: 3, Offset: 8, Fields: []string{"3", "4"}, Raw: "3,4"},
		},
		end: -1, lines: 3,
	},
	{
		name: "unbalanced quote mid-file", in: "a,b\n1,\"x\n2,y\n3,z\n",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Err: codec.ErrQuote, Raw: `1,"x`, Msg: "not closed before end of input"},
			{Index: 2, Line: 3, Offset: 9, Fields: []string{"2", "y"}},
			{Index: 3, Line: 4, Offset: 13, Fields: []string{"3", "z"}},
		},
		end: -1, lines: 4,
	},
	{
		name: "unbalanced quote at EOF without newline", in: "a,b\n1,2\n3,\"oops",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{"1", "2"}},
			{Index: 2, Line: 3, Offset: 8, Err: codec.ErrQuote, Raw: `3,"oops`},
		},
		end: -1, lines: -1,
	},
	{
		name: "unbalanced quote on the last line", in: "a,b\n1,2\n3,\"oops\n",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{"1", "2"}},
			{Index: 2, Line: 3, Offset: 8, Err: codec.ErrQuote, Raw: `3,"oops`},
		},
		end: -1, lines: 3,
	},
	{
		name: "unbalanced quote with more than max_record_bytes after it",
		in:   "a,b\n1,\"x\n" + strings.Repeat("2,y\n", 10),
		opt:  codec.CSVOptions{MaxRecordBytes: 16},
		want: append([]rec{{Index: 1, Line: 2, Offset: 4, Err: codec.ErrQuote, Raw: `1,"x`, Msg: "within max_record_bytes (16)"}},
			func() []rec {
				var r []rec
				for i := range 10 {
					r = append(r, rec{Index: int64(i + 2), Line: int64(i + 3), Offset: int64(9 + 4*i), Fields: []string{"2", "y"}})
				}
				return r
			}()...),
		end: -1, lines: 12,
	},
	{
		name: "garbage after closing quote", in: "a,b\n\"x\"y,2\n3,4\n",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Err: codec.ErrQuote, Raw: `"x"y,2`, Msg: "after closing quote at byte 4 of the record"},
			{Index: 2, Line: 3, Offset: 11, Fields: []string{"3", "4"}},
		},
		end: -1, lines: 3,
	},
	{
		name: "garbage after a closing quote on a continuation line", in: "a,b\n\"x\ny\"z,1\n3,4\n",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Err: codec.ErrQuote, Raw: "\"x\ny\"z,1", Msg: "at byte 6 of the record"},
			{Index: 2, Line: 4, Offset: 13, Fields: []string{"3", "4"}},
		},
		end: -1, lines: 4,
	},
	{
		name: "garbage after closing quote at EOF", in: "a,b\n1,\"x\"y",
		want: []rec{{Index: 1, Line: 2, Offset: 4, Err: codec.ErrQuote, Raw: `1,"x"y`}},
		end:  -1, lines: -1,
	},
	{
		name: "bare CR after closing quote", in: "a,b\n\"x\"\r,2\n3,4\n",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Err: codec.ErrQuote, Raw: "\"x\"\r,2"},
			{Index: 2, Line: 3, Offset: 11, Fields: []string{"3", "4"}},
		},
		end: -1, lines: 3,
	},
	{
		name: "wrong column count", in: "a,b\n1,2,3\n4\n5,6\n",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Err: codec.ErrColumnCount, Raw: "1,2,3", Msg: "want 2, got 3"},
			{Index: 2, Line: 3, Offset: 10, Err: codec.ErrColumnCount, Raw: "4", Msg: "want 2, got 1"},
			{Index: 3, Line: 4, Offset: 12, Fields: []string{"5", "6"}},
		},
		end: -1, lines: 4,
	},
	{
		name: "wrong column count in a quoted record", in: "a,b\n\"1\",\"2\",\"3\"\n5,6\n",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Err: codec.ErrColumnCount},
			{Index: 2, Line: 3, Offset: 16, Fields: []string{"5", "6"}},
		},
		end: -1, lines: 3,
	},
	{
		name: "BOM stripped", in: "\xef\xbb\xbfa,b\n1,2\n",
		header: []string{"a", "b"},
		want:   []rec{{Index: 1, Line: 2, Offset: 7, Fields: []string{"1", "2"}}},
		end:    -1, lines: 2,
	},
	{
		name: "BOM stripped before a quoted header", in: "\xef\xbb\xbf\"a\",b\n1,2\n",
		header: []string{"a", "b"},
		want:   []rec{{Index: 1, Line: 2, Offset: 9, Fields: []string{"1", "2"}}},
		end:    -1, lines: 2,
	},
	{
		name: "KeepBOM keeps it", in: "\xef\xbb\xbfa,b\n1,2\n",
		cols:   []string{"\ufeffa", "b"},
		opt:    codec.CSVOptions{KeepBOM: true},
		header: []string{"\ufeffa", "b"},
		want:   []rec{{Index: 1, Line: 2, Offset: 7, Fields: []string{"1", "2"}}},
		end:    -1, lines: 2,
	},
	{
		name: "KeepBOM: the plain name is not found", in: "\xef\xbb\xbfa,b\n1,2\n",
		opt:    codec.CSVOptions{KeepBOM: true},
		newErr: codec.ErrHeader, newMsg: `column "a" not found`,
	},
	{
		name: "BOM without header keeps offsets", in: "\xef\xbb\xbf1,2\n",
		noHeader: true, opt: codec.CSVOptions{Columns: []string{"a", "b"}},
		want: []rec{{Index: 1, Line: 1, Offset: 3, Fields: []string{"1", "2"}}},
		end:  -1, lines: 1,
	},
	{
		name: "CRLF line endings, also inside quotes", in: "a,b\r\n1,2\r\n\"x\r\ny\",3\r\n4,5\r\n",
		header: []string{"a", "b"},
		want: []rec{
			{Index: 1, Line: 2, Offset: 5, Fields: []string{"1", "2"}, Raw: "1,2"},
			{Index: 2, Line: 3, Offset: 10, Fields: []string{"x\r\ny", "3"}, Raw: "\"x\r\ny\",3\r\n"},
			{Index: 3, Line: 5, Offset: 20, Fields: []string{"4", "5"}},
		},
		end: -1, lines: 5,
	},
	{
		name: "CRLF after a quoted last field", in: "a,b\r\n1,\"2\"\r\n3,4\r\n",
		want: []rec{
			{Index: 1, Line: 2, Offset: 5, Fields: []string{"1", "2"}},
			{Index: 2, Line: 3, Offset: 12, Fields: []string{"3", "4"}},
		},
		end: -1, lines: 3,
	},
	{
		name: "newlines inside quotes", in: "a,b\n\"l1\nl2\nl3\",x\n5,6\n",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{"l1\nl2\nl3", "x"}},
			{Index: 2, Line: 5, Offset: 17, Fields: []string{"5", "6"}},
		},
		end: -1, lines: 5,
	},
	{
		name: "escaped double quotes", in: "a,b\n\"say \"\"hi\"\"\",\"\"\"\"\n\"\",x\n",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{`say "hi"`, `"`}},
			{Index: 2, Line: 3, Offset: 22, Fields: []string{"", "x"}},
		},
		end: -1, lines: 3,
	},
	{
		name: "line over max_record_bytes", in: "a,b\n1,2\n" + z(40) + "\n3,4\n",
		opt: codec.CSVOptions{MaxRecordBytes: 16},
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{"1", "2"}},
			{Index: 2, Line: 3, Offset: 8, Err: codec.ErrRecordTooLarge, Raw: z(17), Msg: "limit 16 bytes"},
			{Index: 3, Line: 4, Offset: 49, Fields: []string{"3", "4"}},
		},
		end: -1, lines: 4,
	},
	{
		name: "line over max_record_bytes at EOF", in: "a,b\n1,2\n" + z(40),
		opt: codec.CSVOptions{MaxRecordBytes: 16},
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{"1", "2"}},
			{Index: 2, Line: 3, Offset: 8, Err: codec.ErrRecordTooLarge, Raw: z(17)},
		},
		end: -1, lines: -1,
	},
	{
		name: "quoted line over max_record_bytes", in: "a,b\n\"" + z(30) + "\",1\n3,4\n",
		opt: codec.CSVOptions{MaxRecordBytes: 16},
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Err: codec.ErrRecordTooLarge, Raw: `"` + z(16)},
			{Index: 2, Line: 3, Offset: 39, Fields: []string{"3", "4"}},
		},
		end: -1, lines: 3,
	},
	{
		name: "records of exactly max_record_bytes pass",
		in:   "a,b\n" + z(14) + ",y\n" + "\"zzzzz\nzzzzzz\",y\n" + z(13) + ",y\r\n" + "\"" + z(12) + "\",y",
		opt:  codec.CSVOptions{MaxRecordBytes: 16},
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{z(14), "y"}},
			{Index: 2, Line: 3, Offset: 21, Fields: []string{"zzzzz\nzzzzzz", "y"}},
			{Index: 3, Line: 5, Offset: 38, Fields: []string{z(13), "y"}}, // 15 bytes + \r
			{Index: 4, Line: 6, Offset: 55, Fields: []string{z(12), "y"}},
		},
		end: -1, lines: -1,
	},
	{
		name: "records one byte over max_record_bytes are rejected",
		in:   "a,b\n" + z(15) + ",y\n" + z(14) + ",y\r\n" + "\"zzzzz\nzzzzzzz\",y\n" + "1,2\n" + "\"" + z(13) + "\",y",
		opt:  codec.CSVOptions{MaxRecordBytes: 16},
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Err: codec.ErrRecordTooLarge, Raw: z(15) + ",y"},
			{Index: 2, Line: 3, Offset: 22, Err: codec.ErrRecordTooLarge, Raw: z(14) + ",y\r"},
			// The quoted field does not close within the limit: the first
			// line is quarantined and decoding resumes on the next one.
			{Index: 3, Line: 4, Offset: 40, Err: codec.ErrQuote, Raw: `"zzzzz`, Msg: "within max_record_bytes (16)"},
			{Index: 4, Line: 5, Offset: 47, Fields: []string{`zzzzzzz"`, "y"}},
			{Index: 5, Line: 6, Offset: 58, Fields: []string{"1", "2"}},
			{Index: 6, Line: 7, Offset: 62, Err: codec.ErrRecordTooLarge},
		},
		end: -1, lines: -1,
	},
	{
		name: "invalid UTF-8 passes through", in: "a,b\n\xff\xfe,\"\xc3(\"\n",
		want: []rec{{Index: 1, Line: 2, Offset: 4, Fields: []string{"\xff\xfe", "\xc3("}}},
		end:  -1, lines: 2,
	},
	{
		name: "empty file", in: "",
		want: nil, end: 0, lines: 0,
	},
	{
		name: "BOM only", in: "\xef\xbb\xbf",
		want: nil, end: 3, lines: 0,
	},
	{
		name: "blank lines only", in: "\n\r\n",
		want: nil, end: 3, lines: 2,
	},
	{
		name: "header only", in: "a,b\n",
		header: []string{"a", "b"},
		want:   nil, end: 4, lines: 1,
	},
	{
		name: "header only without newline", in: "a,b",
		header: []string{"a", "b"},
		want:   nil, end: 3, lines: -1,
	},
	{
		name: "header names are trimmed", in: " a , b \n1,2\n",
		header: []string{"a", "b"},
		want:   []rec{{Index: 1, Line: 2, Offset: 8, Fields: []string{"1", "2"}}},
		end:    -1, lines: 2,
	},
	{name: "duplicate header names", in: "a,b,a\n1,2,3\n", newErr: codec.ErrHeader, newMsg: `line 1: duplicate column name "a" (columns 1 and 3)`},
	{name: "duplicate header names after trimming", in: "a,b, b\n", newErr: codec.ErrHeader, newMsg: `duplicate column name "b"`},
	{name: "empty header name", in: "a,,b\n", newErr: codec.ErrHeader, newMsg: "column 2 has an empty name"},
	{name: "unbalanced quote in header", in: "\"a,b\n1,2\n", newErr: codec.ErrHeader, newMsg: "line 1"},
	{name: "missing requested column", in: "a,b\n1,2\n", cols: []string{"a", "z"}, newErr: codec.ErrHeader, newMsg: `column "z" not found (have a, b)`},
	{
		name: "comment lines", in: "# c1\na,b\n# c2 \"x\n1,2\n#3,4\n5,6\n",
		opt:    codec.CSVOptions{Comment: '#'},
		header: []string{"a", "b"},
		want: []rec{
			{Index: 1, Line: 4, Offset: 17, Fields: []string{"1", "2"}},
			{Index: 2, Line: 6, Offset: 26, Fields: []string{"5", "6"}},
		},
		end: -1, lines: 6,
	},
	{
		name: "no comment character: # is data", in: "a,b\n#3,4\n",
		want: []rec{{Index: 1, Line: 2, Offset: 4, Fields: []string{"#3", "4"}}},
		end:  -1, lines: 2,
	},
	{
		name: "blank lines skipped", in: "a,b\n\n1,2\n\r\n\n3,4\n\n",
		want: []rec{
			{Index: 1, Line: 3, Offset: 5, Fields: []string{"1", "2"}},
			{Index: 2, Line: 6, Offset: 12, Fields: []string{"3", "4"}},
		},
		end: -1, lines: 7,
	},
	{
		name: "last line without newline", in: "a,b\n1,2\n3,4",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{"1", "2"}},
			{Index: 2, Line: 3, Offset: 8, Fields: []string{"3", "4"}, Raw: "3,4"},
		},
		end: -1, lines: -1,
	},
	{
		name: "last line quoted without newline", in: "a,b\n1,\"x\"",
		want: []rec{{Index: 1, Line: 2, Offset: 4, Fields: []string{"1", "x"}}},
		end:  -1, lines: -1,
	},
	{
		name: "last record multi-line without newline", in: "a,b\n\"x\ny\",2",
		want: []rec{{Index: 1, Line: 2, Offset: 4, Fields: []string{"x\ny", "2"}, Raw: "\"x\ny\",2"}},
		end:  -1, lines: -1,
	},
	{
		name: "last line ends in CR", in: "a,b\n1,2\r",
		want: []rec{{Index: 1, Line: 2, Offset: 4, Fields: []string{"1", "2"}}},
		end:  -1, lines: -1,
	},
	{
		name: "last quoted record ends in CR", in: "a,b\n1,\"x\ny\"\r",
		want: []rec{{Index: 1, Line: 2, Offset: 4, Fields: []string{"1", "x\ny"}}},
		end:  -1, lines: -1,
	},
	{
		name: "no header: Columns name the fields", in: "1,2,3\n4,5,6\n7,8\n",
		noHeader: true, opt: codec.CSVOptions{Columns: []string{"a", "b", "c"}},
		cols: []string{"c", "a"},
		want: []rec{
			{Index: 1, Line: 1, Offset: 0, Fields: []string{"3", "1"}},
			{Index: 2, Line: 2, Offset: 6, Fields: []string{"6", "4"}},
			{Index: 3, Line: 3, Offset: 12, Err: codec.ErrColumnCount, Raw: "7,8"},
		},
		end: -1, lines: 3,
	},
	{
		name: "no header: unknown column", in: "1,2\n",
		noHeader: true, opt: codec.CSVOptions{Columns: []string{"a", "b"}},
		cols: []string{"d"}, newErr: codec.ErrHeader,
	},
	{
		name: "tab delimiter", in: "a\tb\n1,5\t2\n\"x\ty\"\t3\n",
		opt: codec.CSVOptions{Delimiter: '\t'},
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{"1,5", "2"}},
			{Index: 2, Line: 3, Offset: 10, Fields: []string{"x\ty", "3"}},
		},
		end: -1, lines: 3,
	},
	{
		name: "semicolon delimiter", in: "a;b\n1,5;\"x;y\"\n",
		opt:  codec.CSVOptions{Delimiter: ';'},
		want: []rec{{Index: 1, Line: 2, Offset: 4, Fields: []string{"1,5", "x;y"}}},
		end:  -1, lines: 2,
	},
	{
		name: "single-quote quote character", in: "a,b\n'x,y',\"2\"\n",
		opt:  codec.CSVOptions{Quote: '\''},
		want: []rec{{Index: 1, Line: 2, Offset: 4, Fields: []string{"x,y", `"2"`}}},
		end:  -1, lines: 2,
	},
	{
		name: "empty fields", in: "a,b\n,\n\"\",\"\"\n\"x\",\n",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{"", ""}},
			{Index: 2, Line: 3, Offset: 6, Fields: []string{"", ""}},
			{Index: 3, Line: 4, Offset: 12, Fields: []string{"x", ""}},
		},
		end: -1, lines: 4,
	},
	{
		name: "requested subset in another order", in: "a,b,c\n1,2,3\n",
		cols: []string{"c", "a"},
		want: []rec{{Index: 1, Line: 2, Offset: 6, Fields: []string{"3", "1"}}},
		end:  -1, lines: 2,
	},
	{
		name: "quote inside an unquoted field is literal", in: "a,b\nx\"y,2\n \"q\",3\n",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{`x"y`, "2"}},
			{Index: 2, Line: 3, Offset: 10, Fields: []string{` "q"`, "3"}},
		},
		end: -1, lines: 3,
	},
	{
		name: "no columns requested", in: "a,b\n1,2\n3\n",
		cols: []string{},
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{}},
			{Index: 2, Line: 3, Offset: 8, Err: codec.ErrColumnCount},
		},
		end: -1, lines: 3,
	},
	{
		name: "range header with Start: chunk-relative lines, absolute offsets", in: "1,2\n3,4\n",
		rng: codec.Range{Start: 100, Header: []string{"a", "b"}},
		want: []rec{
			{Index: 1, Line: 1, Offset: 100, Fields: []string{"1", "2"}},
			{Index: 2, Line: 2, Offset: 104, Fields: []string{"3", "4"}},
		},
		end: 108, lines: 2,
	},
	{
		name: "range Start > 0 does not strip a BOM", in: "\xef\xbb\xbf1,2\n",
		rng:  codec.Range{Start: 10, Header: []string{"a", "b"}},
		want: []rec{{Index: 1, Line: 1, Offset: 10, Fields: []string{"\xef\xbb\xbf1", "2"}}},
		end:  17, lines: 1,
	},
	{
		name: "range Limit stops before the record at the limit", in: "a,b\n1,2\n3,4\n5,6\n",
		rng:  codec.Range{Limit: 8},
		want: []rec{{Index: 1, Line: 2, Offset: 4, Fields: []string{"1", "2"}}},
		end:  8, lines: 2,
	},
	{
		name: "range Limit inside a line finishes that record", in: "a,b\n1,2\n3,4\n5,6\n",
		rng: codec.Range{Limit: 9},
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{"1", "2"}},
			{Index: 2, Line: 3, Offset: 8, Fields: []string{"3", "4"}},
		},
		end: 12, lines: 3,
	},
	{
		name: "range Limit inside a quoted record finishes it", in: "a,b\n\"1\n2\",x\n3,4\n",
		rng:  codec.Range{Limit: 7},
		want: []rec{{Index: 1, Line: 2, Offset: 4, Fields: []string{"1\n2", "x"}}},
		end:  12, lines: 3,
	},
}

func (c *csvCase) options() ([]string, codec.CSVOptions) {
	cols := c.cols
	if cols == nil {
		cols = []string{"a", "b"}
	}
	opt := c.opt
	opt.Header = !c.noHeader && c.rng.Header == nil
	return cols, opt
}

func decodeCSV(t testing.TB, r io.Reader, cols []string, opt codec.CSVOptions, rng codec.Range) (result, *codec.CSVDecoder, error) {
	t.Helper()
	d, err := codec.NewCSVDecoder(r, cols, opt, rng)
	if err != nil {
		return result{}, nil, err
	}
	return drain(t, d), d, nil
}

func TestCSVDecoder(t *testing.T) {
	for _, c := range csvCases {
		t.Run(c.name, func(t *testing.T) {
			cols, opt := c.options()
			res, d, err := decodeCSV(t, strings.NewReader(c.in), cols, opt, c.rng)
			if c.newErr != nil {
				if !errors.Is(err, c.newErr) {
					t.Fatalf("NewCSVDecoder error = %v, want one wrapping %v", err, c.newErr)
				}
				if !strings.Contains(err.Error(), c.newMsg) {
					t.Fatalf("NewCSVDecoder error = %q, want it to mention %q", err, c.newMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewCSVDecoder: %v", err)
			}
			if c.header != nil && !slices.Equal(d.Header(), c.header) {
				t.Errorf("Header() = %q, want %q", d.Header(), c.header)
			}
			if res.Err != nil {
				t.Fatalf("stream error: %v", res.Err)
			}
			checkRecs(t, res.Recs, c.want)
			wantEnd := c.end
			if wantEnd < 0 {
				wantEnd = int64(len(c.in))
			}
			if res.End != wantEnd {
				t.Errorf("End() = %d, want %d", res.End, wantEnd)
			}
			if c.lines >= 0 && res.Lines != c.lines {
				t.Errorf("Lines() = %d, want %d", res.Lines, c.lines)
			}
			// Next keeps returning io.EOF.
			if r, err := d.Next(); r != nil || err != io.EOF {
				t.Errorf("Next after EOF = %v, %v", r, err)
			}
		})
	}
}

func TestCSVEmptyFile(t *testing.T) {
	d, err := codec.NewCSVDecoder(strings.NewReader(""), []string{"a", "b"}, codec.CSVOptions{Header: true}, codec.Range{})
	if err != nil {
		t.Fatalf("NewCSVDecoder on empty input: %v", err)
	}
	if d.Header() != nil {
		t.Errorf("Header() = %q, want nil", d.Header())
	}
	if r, err := d.Next(); r != nil || err != io.EOF {
		t.Fatalf("first Next = %v, %v; want nil, io.EOF", r, err)
	}
	if d.End() != 0 || d.Lines() != 0 {
		t.Errorf("End, Lines = %d, %d; want 0, 0", d.End(), d.Lines())
	}
}

// TestCSVReaders checks that the way the input arrives (a byte at a time,
// in uneven chunks, with io.EOF on the last data) does not change anything
// the decoder reports, at several record size limits.
func TestCSVReaders(t *testing.T) {
	for _, c := range csvCases {
		if c.newErr != nil {
			continue
		}
		for _, max := range []int{0, 6, 16, 64} {
			cols, opt := c.options()
			if max > 0 {
				opt.MaxRecordBytes = max
			}
			want, _, err := decodeCSV(t, strings.NewReader(c.in), cols, opt, c.rng)
			for name, r := range readers([]byte(c.in)) {
				got, _, err2 := decodeCSV(t, r, cols, opt, c.rng)
				if errText(err) != errText(err2) {
					t.Fatalf("%s/max %d/%s: NewCSVDecoder error %v, bulk %v", c.name, max, name, err2, err)
				}
				if diff := sameResult(want, got); diff != "" {
					t.Errorf("%s/max %d/%s: differs from bulk read: %s", c.name, max, name, diff)
				}
			}
		}
	}
}

// bigCSV builds a file larger than the decoder's read buffer, with quoted
// multi-line fields, escaped quotes, CRLF lines, blank lines and bad records
// spread through it, so records straddle buffer refills.
func bigCSV(n int) (string, []rec) {
	var b strings.Builder
	var want []rec
	b.WriteString("id,text,n\n")
	line := int64(2)
	for i := range n {
		off := int64(b.Len())
		idx := int64(len(want) + 1)
		switch i % 7 {
		case 0:
			fmt.Fprintf(&b, "%d,plain text %d,%d\n", i, i, i*3)
			want = append(want, rec{Index: idx, Line: line, Offset: off, Fields: []string{fmt.Sprint(i), fmt.Sprintf("plain text %d", i)}})
			line++
		case 1:
			fmt.Fprintf(&b, "%d,\"multi\nline \"\"%d\"\"\",%d\r\n", i, i, i)
			want = append(want, rec{Index: idx, Line: line, Offset: off, Fields: []string{fmt.Sprint(i), fmt.Sprintf("multi\nline \"%d\"", i)}})
			line += 2
		case 2:
			fmt.Fprintf(&b, "%d,%s,%d\n\n", i, strings.Repeat("x", i%300), i)
			want = append(want, rec{Index: idx, Line: line, Offset: off, Fields: []string{fmt.Sprint(i), strings.Repeat("x", i%300)}})
			line += 2
		case 3:
			fmt.Fprintf(&b, "%d,too,many,fields\n", i)
			want = append(want, rec{Index: idx, Line: line, Offset: off, Err: codec.ErrColumnCount})
			line++
		case 4:
			fmt.Fprintf(&b, "%d,\"bad\"quote,%d\n", i, i)
			want = append(want, rec{Index: idx, Line: line, Offset: off, Err: codec.ErrQuote})
			line++
		case 5:
			fmt.Fprintf(&b, "\"%d\",\"a,b\",\"\"\n", i)
			want = append(want, rec{Index: idx, Line: line, Offset: off, Fields: []string{fmt.Sprint(i), "a,b"}})
			line++
		case 6:
			fmt.Fprintf(&b, "%d,%s,%d\n", i, strings.Repeat("y", 2000), i)
			want = append(want, rec{Index: idx, Line: line, Offset: off, Err: codec.ErrRecordTooLarge})
			line++
		}
	}
	return b.String(), want
}

func TestCSVLargeInputAcrossBufferRefills(t *testing.T) {
	in, want := bigCSV(3000)
	if len(in) < 3*256<<10/2 {
		t.Fatalf("input of %d bytes is too small to cross buffer refills", len(in))
	}
	opt := codec.CSVOptions{Header: true, MaxRecordBytes: 1000}
	cols := []string{"id", "text"}
	var first result
	for _, name := range []string{"bulk", "onebyte", "half", "dataerr", "chunky"} {
		got, _, err := decodeCSV(t, readers([]byte(in))[name], cols, opt, codec.Range{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Err != nil {
			t.Fatalf("%s: %v", name, got.Err)
		}
		if name == "bulk" {
			checkRecs(t, got.Recs, want)
			if got.End != int64(len(in)) {
				t.Errorf("End() = %d, want %d", got.End, len(in))
			}
			first = got
			continue
		}
		if diff := sameResult(first, got); diff != "" {
			t.Errorf("%s: differs from bulk read: %s", name, diff)
		}
	}
}

// TestCSVRangeSplit splits a file at every byte and checks that a decoder
// with Limit at the split, followed by one starting where the first ended
// (End), yields exactly the records of a single decoder over the file.
func TestCSVRangeSplit(t *testing.T) {
	inputs := map[string]string{
		"plain":  "a,b\n1,2\n3,4\n5,6\n7,8\n",
		"mixed":  "a,b\n1,2\n\n\"x\ny\",3\r\n# not a comment,4\n\"bad\"q,5\n6\n\"unclosed,7\n8,9\n10,\"\"\"\"\n11,12",
		"quotes": "a,b\n\"1\n2\n3\",x\n\"4\",\"5\n\"\n6,7\n",
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			cols := []string{"b", "a"}
			opt := codec.CSVOptions{Header: true}
			whole, wd, err := decodeCSV(t, strings.NewReader(in), cols, opt, codec.Range{})
			if err != nil || whole.Err != nil {
				t.Fatal(err, whole.Err)
			}
			for k := 4; k < len(in); k++ {
				first, fd, err := decodeCSV(t, strings.NewReader(in), cols, opt, codec.Range{Limit: int64(k)})
				if err != nil || first.Err != nil {
					t.Fatal(err, first.Err)
				}
				start := first.End
				if start < int64(k) {
					t.Fatalf("split %d: first chunk ended at %d, before its limit", k, start)
				}
				second, _, err := decodeCSV(t, strings.NewReader(in[start:]), cols, opt, codec.Range{Start: start, Header: fd.Header()})
				if err != nil || second.Err != nil {
					t.Fatal(err, second.Err)
				}
				// Re-base the second chunk's line and record numbers.
				joined := result{Recs: slices.Clone(first.Recs), End: second.End, Lines: first.Lines + second.Lines}
				for _, r := range second.Recs {
					r.Index += int64(len(first.Recs))
					r.Line += first.Lines
					joined.Recs = append(joined.Recs, r)
				}
				if diff := sameResult(whole, joined); diff != "" {
					t.Fatalf("split at %d (first chunk ended at %d): %s", k, start, diff)
				}
			}
			_ = wd
		})
	}
}

// TestCSVRangeAtLineBoundary is the chunking contract spelled out for one
// split: two decoders over [0, split) and [split, end) produce exactly the
// records of one decoder over the whole file.
func TestCSVRangeAtLineBoundary(t *testing.T) {
	in := "id,name\n1,ann\n2,\"bob\nby\"\n3,cy\n4,dee\n"
	split := int64(strings.Index(in, "3,cy"))
	cols := []string{"id", "name"}
	opt := codec.CSVOptions{Header: true}

	d1, err := codec.NewCSVDecoder(strings.NewReader(in), cols, opt, codec.Range{Limit: split})
	if err != nil {
		t.Fatal(err)
	}
	r1 := drain(t, d1)
	if d1.End() != split {
		t.Fatalf("first chunk End() = %d, want %d", d1.End(), split)
	}
	d2, err := codec.NewCSVDecoder(bytes.NewReader([]byte(in[split:])), cols, opt, codec.Range{Start: split, Header: d1.Header()})
	if err != nil {
		t.Fatal(err)
	}
	r2 := drain(t, d2)
	checkRecs(t, r1.Recs, []rec{
		{Index: 1, Line: 2, Offset: 8, Fields: []string{"1", "ann"}},
		{Index: 2, Line: 3, Offset: 14, Fields: []string{"2", "bob\nby"}},
	})
	if r1.Lines != 4 {
		t.Errorf("first chunk Lines() = %d, want 4", r1.Lines)
	}
	checkRecs(t, r2.Recs, []rec{
		{Index: 1, Line: 1, Offset: 25, Fields: []string{"3", "cy"}},
		{Index: 2, Line: 2, Offset: 30, Fields: []string{"4", "dee"}},
	})
	if r2.End != int64(len(in)) {
		t.Errorf("second chunk End() = %d, want %d", r2.End, len(in))
	}
}

// errReader returns its data and then a read error.
type errReader struct {
	data []byte
	err  error
}

func (e *errReader) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestCSVReadError(t *testing.T) {
	boom := errors.New("boom")
	for _, in := range []string{"a,b\n1,2\n3", "a,b\n1,\"2\n", "a,b\n1,\"2\"x"} {
		d, err := codec.NewCSVDecoder(&errReader{data: []byte(in), err: boom}, []string{"a", "b"}, codec.CSVOptions{Header: true}, codec.Range{})
		if err != nil {
			t.Fatal(err)
		}
		res := drain(t, d)
		if !errors.Is(res.Err, boom) {
			t.Errorf("%q: stream error %v, want one wrapping boom", in, res.Err)
		}
	}
	// A read error before the header is a construction error.
	_, err := codec.NewCSVDecoder(iotest.ErrReader(boom), nil, codec.CSVOptions{Header: true}, codec.Range{})
	if !errors.Is(err, boom) {
		t.Errorf("NewCSVDecoder error %v, want one wrapping boom", err)
	}
}
