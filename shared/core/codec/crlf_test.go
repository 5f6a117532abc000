package codec_test

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

// crCases are old Mac files: lines end with a lone CR. With DetectCR the
// decoder reads them as records (issue 11, item 2: they used to be read as
// one header line, and no records).
var crCases = []csvCase{
	{
		name: "the issue's file", in: "id,name,val\r1,a,x\r2,b,y\r3,c,z\r",
		cols: []string{"id", "name"}, header: []string{"id", "name", "val"},
		want: []rec{
			{Index: 1, Line: 2, Offset: 12, Fields: []string{"1", "a"}, Raw: "1,a,x"},
			{Index: 2, Line: 3, Offset: 18, Fields: []string{"2", "b"}, Raw: "2,b,y"},
			{Index: 3, Line: 4, Offset: 24, Fields: []string{"3", "c"}, Raw: "3,c,z"},
		},
		end: -1, lines: 4,
	},
	{
		name: "no line break at the end", in: "a,b\r1,2\r3,4",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{"1", "2"}},
			{Index: 2, Line: 3, Offset: 8, Fields: []string{"3", "4"}},
		},
		end: -1, lines: 3,
	},
	{
		name: "quoted fields hold CR, LF, CRLF and quotes", in: "a,b\r\"x\ry\",\"p\nq\"\r\"say \"\"hi\"\"\",\"r\r\ns\"\r5,6\r",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{"x\ry", "p\nq"}, Raw: "\"x\ry\",\"p\nq\"\r"},
			{Index: 2, Line: 5, Offset: 16, Fields: []string{`say "hi"`, "r\r\ns"}},
			{Index: 3, Line: 7, Offset: 36, Fields: []string{"5", "6"}},
		},
		end: -1, lines: 7,
	},
	{
		name: "a quoted header field holds a CR", in: "\"a\rx\",b\r1,2\r",
		cols: []string{"b"}, header: []string{"a\rx", "b"},
		want: []rec{{Index: 1, Line: 3, Offset: 8, Fields: []string{"2"}}},
		end:  -1, lines: 3,
	},
	{
		name: "blank lines, comments, CRLF and LF lines mixed in", in: "a,b\r\r# note\r1,2\r\n3,4\n\r5,6\r",
		opt: codec.CSVOptions{Comment: '#'},
		want: []rec{
			{Index: 1, Line: 4, Offset: 12, Fields: []string{"1", "2"}},
			{Index: 2, Line: 5, Offset: 17, Fields: []string{"3", "4"}},
			{Index: 3, Line: 7, Offset: 22, Fields: []string{"5", "6"}},
		},
		end: -1, lines: 7,
	},
	{
		name: "without a header", in: "1,2\r3,4\r", noHeader: true,
		opt: codec.CSVOptions{Columns: []string{"a", "b"}},
		want: []rec{
			{Index: 1, Line: 1, Offset: 0, Fields: []string{"1", "2"}},
			{Index: 2, Line: 2, Offset: 4, Fields: []string{"3", "4"}},
		},
		end: -1, lines: 2,
	},
	{
		name: "bad records are quarantined up to their CR", in: "a,b\r1,2,3\r\"x\"y,2\r1,\"open\r4,5\r",
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Err: codec.ErrColumnCount, Raw: "1,2,3"},
			{Index: 2, Line: 3, Offset: 10, Err: codec.ErrQuote, Raw: `"x"y,2`, Msg: "after closing quote"},
			{Index: 3, Line: 4, Offset: 17, Err: codec.ErrQuote, Raw: `1,"open`, Msg: "not closed"},
			{Index: 4, Line: 5, Offset: 25, Fields: []string{"4", "5"}},
		},
		end: -1, lines: 5,
	},
	{
		name: "a line over the limit", in: "a,b\r" + z(40) + "\r1,2\r\"" + z(40) + "\",3\r4,5\r",
		opt: codec.CSVOptions{MaxRecordBytes: 16},
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Err: codec.ErrRecordTooLarge, Raw: z(17)},
			{Index: 2, Line: 3, Offset: 45, Fields: []string{"1", "2"}},
			{Index: 3, Line: 4, Offset: 49, Err: codec.ErrRecordTooLarge, Raw: `"` + z(16)},
			{Index: 4, Line: 5, Offset: 94, Fields: []string{"4", "5"}},
		},
		end: -1, lines: 5,
	},
	{
		// Chunks are planned after LF; the first chunk of an old Mac file
		// reads it to the end, so the chunks after it come out empty.
		name: "the first chunk reads past its limit", in: "a,b\r1,\"x\ny\"\r3,4\r",
		rng: codec.Range{Limit: 9},
		want: []rec{
			{Index: 1, Line: 2, Offset: 4, Fields: []string{"1", "x\ny"}},
			{Index: 2, Line: 4, Offset: 12, Fields: []string{"3", "4"}},
		},
		end: -1, lines: 4,
	},
	{
		name: "a file that is only a header", in: "a,b\r", header: []string{"a", "b"},
		end: -1, lines: 1,
	},
}

func TestCSVOldMacLineEnds(t *testing.T) {
	for _, c := range crCases {
		t.Run(c.name, func(t *testing.T) {
			cols, opt := c.options()
			opt.DetectCR = true
			res, d, err := decodeCSV(t, strings.NewReader(c.in), cols, opt, c.rng)
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
			if res.End != int64(len(c.in)) || res.Lines != c.lines {
				t.Errorf("End(), Lines() = %d, %d; want %d, %d", res.End, res.Lines, len(c.in), c.lines)
			}
			// However the input arrives, and at any record limit, the
			// result is the same.
			for _, max := range []int{0, 6, 16, 64} {
				if max > 0 {
					opt.MaxRecordBytes = max
				}
				want, _, err := decodeCSV(t, strings.NewReader(c.in), cols, opt, c.rng)
				for name, r := range readers([]byte(c.in)) {
					got, _, err2 := decodeCSV(t, r, cols, opt, c.rng)
					if errText(err) != errText(err2) {
						t.Fatalf("max %d/%s: NewCSVDecoder error %v, bulk %v", max, name, err2, err)
					}
					if diff := sameResult(want, got); diff != "" {
						t.Errorf("max %d/%s: differs from bulk read: %s", max, name, diff)
					}
				}
			}
		})
	}
}

// DetectCR changes nothing for a file whose first line ends with LF or
// CRLF: every CSV case decodes as it does without it, a lone CR after the
// first line included.
func TestCSVDetectCRKeepsLFFiles(t *testing.T) {
	cases := append(slices.Clone(csvCases), csvCase{name: "a lone CR after the first line", in: "a,b\n1,x\ry\n2,3\r\n"})
	for _, c := range cases {
		if c.newErr != nil {
			continue
		}
		cols, opt := c.options()
		want, _, err := decodeCSV(t, strings.NewReader(c.in), cols, opt, c.rng)
		if err != nil {
			t.Fatal(err)
		}
		opt.DetectCR = true
		got, _, err := decodeCSV(t, strings.NewReader(c.in), cols, opt, c.rng)
		if err != nil {
			t.Fatal(err)
		}
		if diff := sameResult(want, got); diff != "" {
			t.Errorf("%s: DetectCR changed the result: %s", c.name, diff)
		}
	}
}

// An old Mac file larger than the decoder's buffer: records straddle
// refills, and a CR at the end of a buffer may be followed by an LF.
func TestCSVOldMacAcrossBufferRefills(t *testing.T) {
	var b strings.Builder
	var want []rec
	b.WriteString("id,text\r")
	line := int64(2)
	for i := range 20000 {
		off := int64(b.Len())
		idx := int64(len(want) + 1)
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "%d,plain %d\r", i, i)
			want = append(want, rec{Index: idx, Line: line, Offset: off, Fields: []string{fmt.Sprint(i), fmt.Sprintf("plain %d", i)}})
			line++
		case 1:
			fmt.Fprintf(&b, "%d,\"two\rlines\"\r\n", i)
			want = append(want, rec{Index: idx, Line: line, Offset: off, Fields: []string{fmt.Sprint(i), "two\rlines"}})
			line += 2
		case 2:
			fmt.Fprintf(&b, "%d,%s\r\r", i, strings.Repeat("x", i%97))
			want = append(want, rec{Index: idx, Line: line, Offset: off, Fields: []string{fmt.Sprint(i), strings.Repeat("x", i%97)}})
			line += 2
		case 3:
			fmt.Fprintf(&b, "%d,too,many\r", i)
			want = append(want, rec{Index: idx, Line: line, Offset: off, Err: codec.ErrColumnCount})
			line++
		}
	}
	in := b.String()
	if len(in) < 2*256<<10 {
		t.Fatalf("input of %d bytes is too small to cross buffer refills", len(in))
	}
	opt := codec.CSVOptions{Header: true, DetectCR: true}
	cols := []string{"id", "text"}
	var first result
	for _, name := range []string{"bulk", "onebyte", "half", "dataerr", "chunky"} {
		got, _, err := decodeCSV(t, readers([]byte(in))[name], cols, opt, codec.Range{})
		if err != nil || got.Err != nil {
			t.Fatalf("%s: %v %v", name, err, got.Err)
		}
		if name == "bulk" {
			checkRecs(t, got.Recs, want)
			if got.End != int64(len(in)) || got.Lines != line-1 {
				t.Errorf("End(), Lines() = %d, %d; want %d, %d", got.End, got.Lines, len(in), line-1)
			}
			first = got
			continue
		}
		if diff := sameResult(first, got); diff != "" {
			t.Errorf("%s: differs from bulk read: %s", name, diff)
		}
	}
}

// crRecords serializes records as CSV with old Mac line ends, quoting a
// field when it must be.
func crRecords(recs [][]string) []byte {
	var b bytes.Buffer
	for _, r := range recs {
		for i, f := range r {
			if i > 0 {
				b.WriteByte(',')
			}
			if f == "" && len(r) == 1 || strings.ContainsAny(f, ",\"\r\n") {
				b.WriteString(`"` + strings.ReplaceAll(f, `"`, `""`) + `"`)
			} else {
				b.WriteString(f)
			}
		}
		b.WriteByte('\r')
	}
	return b.Bytes()
}

// FuzzCSVDecoderCR fuzzes old Mac line ends in two ways. Records built
// from the input are written with CR line ends and must decode to exactly
// those records; and the input itself, read with DetectCR, must decode the
// same however it arrives and wherever it is split into chunks.
func FuzzCSVDecoderCR(f *testing.F) {
	for _, c := range crCases {
		f.Add([]byte(c.in), uint16(len(c.in)/2))
	}
	for _, s := range []string{"a\x1fb\x1ec\x1f\"d\"\x1e\r\n\x1f,", "x\x1e\x1e\x1fy\ry", "a\r\rb\n\"\r\"\r"} {
		f.Add([]byte(s), uint16(3))
	}
	cols := []string{"a", "b", "c"}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		// The model: records separated by 0x1e, fields by 0x1f.
		var model [][]string
		for r := range bytes.SplitSeq(data, []byte{0x1e}) {
			model = append(model, strings.Split(string(r), "\x1f"))
		}
		in := crRecords(model)
		opt := codec.CSVOptions{Columns: cols, DetectCR: true, MaxRecordBytes: 1 << 20}
		d, err := codec.NewCSVDecoder(bytes.NewReader(in), cols, opt, codec.Range{})
		if err != nil {
			t.Fatal(err)
		}
		res := drain(t, d)
		if res.Err != nil || len(res.Recs) != len(model) {
			t.Fatalf("%q: %d records, error %v; want %d records", in, len(res.Recs), res.Err, len(model))
		}
		for i, r := range res.Recs {
			switch {
			case len(model[i]) != len(cols):
				if r.Err == nil {
					t.Fatalf("record %d of %d fields read without error", i+1, len(model[i]))
				}
			case r.Err != nil || !slices.Equal(r.Fields, model[i]):
				t.Fatalf("record %d = %q, %v; want %q", i+1, r.Fields, r.Err, model[i])
			}
		}

		// The input as it is.
		opt.MaxRecordBytes = fuzzMax
		mk := func(r io.Reader, rng codec.Range, header []string) (codec.Decoder, error) {
			rng.Header = header
			return codec.NewCSVDecoder(r, []string{"c", "a"}, opt, rng)
		}
		d2, err := mk(bytes.NewReader(data), codec.Range{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		whole := drain(t, d2)
		if whole.Err != nil || whole.End != int64(len(data)) {
			t.Fatalf("stream error %v, End() %d for %d bytes", whole.Err, whole.End, len(data))
		}
		var prev rec
		for i, r := range whole.Recs {
			if r.Index != int64(i+1) || r.Line <= prev.Line || (i > 0 && r.Offset <= prev.Offset) {
				t.Fatalf("record %d: index/line/offset %d/%d/%d after %d/%d/%d", i+1, r.Index, r.Line, r.Offset, prev.Index, prev.Line, prev.Offset)
			}
			if !bytes.HasPrefix(data[r.Offset:], []byte(r.Raw)) {
				t.Fatalf("record %d: Raw %q is not the input at %d", i+1, r.Raw, r.Offset)
			}
			prev = r
		}
		if eols := int64(bytes.Count(data, []byte{'\n'}) + bytes.Count(data, []byte{'\r'})); whole.Lines > eols+1 || whole.Lines < prev.Line-1 {
			t.Fatalf("Lines() = %d for %d line break bytes, last record on line %d", whole.Lines, eols, prev.Line)
		}
		checkReaders(t, data, mk, whole, false)
		checkSplit(t, data, int(split)%(len(data)+1), mk, nil, whole)
	})
}
