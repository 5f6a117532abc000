package codec_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

// fuzzMax is the record size limit the fuzz targets decode with, small so
// that the limit paths are reached.
const fuzzMax = 256

// newDecoder builds a decoder over r for a chunk; header is the CSV header
// the chunk inherits (nil for the first chunk).
type newDecoder func(r io.Reader, rng codec.Range, header []string) (codec.Decoder, error)

// checkRecords asserts the invariants every decoded stream must meet:
// records numbered 1, 2, 3 ..., lines and offsets strictly increasing, Raw
// being the input's bytes at Offset, record errors wrapping a record-level
// sentinel, and a good record within the size limit.
func checkRecords(t *testing.T, data []byte, base int64, res result, lineOriented bool, sentinels ...error) {
	t.Helper()
	var prev rec
	for i, r := range res.Recs {
		if r.Index != int64(i+1) {
			t.Fatalf("record %d has Index %d", i+1, r.Index)
		}
		if lineOriented && r.Line <= prev.Line {
			t.Fatalf("record %d: Line %d after %d", r.Index, r.Line, prev.Line)
		}
		if !lineOriented && r.Line != 0 {
			t.Fatalf("record %d: Line %d in a JSON document", r.Index, r.Line)
		}
		if (i > 0 && r.Offset <= prev.Offset) || r.Offset < base {
			t.Fatalf("record %d: Offset %d after %d", r.Index, r.Offset, prev.Offset)
		}
		off := r.Offset - base
		if off+int64(len(r.Raw)) > int64(len(data)) || string(data[off:off+int64(len(r.Raw))]) != r.Raw {
			t.Fatalf("record %d: Raw %q is not the input at offset %d", r.Index, r.Raw, r.Offset)
		}
		if len(r.Raw) > 4096 {
			t.Fatalf("record %d: Raw of %d bytes", r.Index, len(r.Raw))
		}
		if r.Err != nil {
			ok := false
			for _, s := range sentinels {
				ok = ok || errors.Is(r.Err, s)
			}
			if !ok {
				t.Fatalf("record %d: error %v wraps no record-level sentinel", r.Index, r.Err)
			}
		} else if n := len(strings.TrimSuffix(r.Raw, "\n")); n > fuzzMax {
			t.Fatalf("record %d of %d bytes passed a limit of %d", r.Index, n, fuzzMax)
		}
		prev = r
	}
	if res.End < base || res.End > base+int64(len(data)) {
		t.Fatalf("End() = %d for %d input bytes at %d", res.End, len(data), base)
	}
	if len(res.Recs) > 0 && res.End < prev.Offset+int64(len(prev.Raw)) {
		t.Fatalf("End() = %d, before the end of the last record (%d+%d)", res.End, prev.Offset, len(prev.Raw))
	}
	if lineOriented {
		if res.Lines > int64(bytes.Count(data, []byte{'\n'})+1) {
			t.Fatalf("Lines() = %d for %d line breaks", res.Lines, bytes.Count(data, []byte{'\n'}))
		}
		if len(res.Recs) > 0 && res.Lines < prev.Line-1 {
			t.Fatalf("Lines() = %d but the last record is on line %d", res.Lines, prev.Line)
		}
	}
}

// checkReaders decodes data again, a byte at a time, and requires the same
// result as the bulk read. With errClass, a stream error need only be of
// the same class: the JSON tokenizer quotes as much of a bad token as it
// had read.
func checkReaders(t *testing.T, data []byte, mk newDecoder, want result, errClass bool) {
	t.Helper()
	d, err := mk(iotest.OneByteReader(bytes.NewReader(data)), codec.Range{}, nil)
	if err != nil {
		t.Fatalf("NewDecoder failed on a byte-at-a-time reader only: %v", err)
	}
	got := drain(t, d)
	if errClass {
		if streamErrClass(got.Err) != streamErrClass(want.Err) {
			t.Fatalf("byte-at-a-time read ends with %v, bulk read with %v", got.Err, want.Err)
		}
		got.Err, want.Err = nil, nil
	}
	if diff := sameResult(want, got); diff != "" {
		t.Fatalf("byte-at-a-time read differs from bulk read: %s", diff)
	}
}

func streamErrClass(err error) string {
	for _, s := range []error{codec.ErrTruncated, codec.ErrNotObject, codec.ErrRecordTooLarge} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	if err != nil {
		return "other"
	}
	return ""
}

// checkSplit decodes data as two chunks, [0, k) and from where the first
// really ended, and requires exactly the records of one decoder.
func checkSplit(t *testing.T, data []byte, k int, mk newDecoder, header func(codec.Decoder) []string, whole result) {
	t.Helper()
	if k <= 0 || k >= len(data) {
		return
	}
	d1, err := mk(bytes.NewReader(data), codec.Range{Limit: int64(k)}, nil)
	if err != nil {
		t.Fatalf("first chunk: %v", err)
	}
	first := drain(t, d1)
	start := first.End
	if start < int64(k) && start != int64(len(data)) {
		t.Fatalf("first chunk up to %d ended early, at %d", k, start)
	}
	var h []string
	if header != nil {
		h = header(d1)
	}
	d2, err := mk(bytes.NewReader(data[start:]), codec.Range{Start: start, Header: h}, h)
	if err != nil {
		t.Fatalf("second chunk from %d: %v", start, err)
	}
	second := drain(t, d2)
	joined := result{Recs: append([]rec(nil), first.Recs...), End: second.End, Lines: first.Lines + second.Lines}
	for _, r := range second.Recs {
		r.Index += int64(len(first.Recs))
		r.Line += first.Lines
		joined.Recs = append(joined.Recs, r)
	}
	if diff := sameResult(whole, joined); diff != "" {
		t.Fatalf("split at %d (first chunk ended at %d): %s", k, start, diff)
	}
}

var csvSeeds = []string{
	"a,b\n1,2\n3,4\n",
	"a,b\n1,\"x\n2,y\n3,z\n",
	"a,b\n1,2\n3,\"oops",
	"a,b\n\"x\"y,2\n3,4\n",
	"a,b\n\"x\ny\"z,1\n3,4\n",
	"a,b\n1,2,3\n4\n5,6\n",
	"\xef\xbb\xbfa,b\n1,2\n",
	"a,b\r\n1,2\r\n\"x\r\ny\",3\r\n4,5\r\n",
	"a,b\n\"l1\nl2\nl3\",x\n5,6\n",
	"a,b\n\"say \"\"hi\"\"\",\"\"\"\"\n",
	"a,b\n1,2\n" + strings.Repeat("z", 300) + "\n3,4\n",
	"a,b\n\"" + strings.Repeat("z", 250) + "\n" + strings.Repeat("z", 10) + "\",1\n3,4\n",
	"a,b\n\xff\xfe,\"\xc3(\"\n",
	"",
	"a,b\n",
	"a,b,a\n1,2,3\n",
	"# c\na,b\n# \"x\n1,2\n",
	"a,b\n\n1,2\n\r\n\n3,4\n\n",
	"a,b\n\"x\ny\",2",
	"a\tb\n1\t2\n\"x\ty\"\t3\n",
	"a;b\n1,5;\"x;y\"\n",
	"a,b\n\"x\"\r,2\n\"y\"\r",
	"1,2,3\n4,5,6\n",
}

func FuzzCSVDecoder(f *testing.F) {
	for i, s := range csvSeeds {
		f.Add([]byte(s), uint8(i), uint16(len(s)/2))
		f.Add([]byte(s), uint8(1|i<<1), uint16(i*7))
	}
	f.Fuzz(func(t *testing.T, data []byte, flags uint8, split uint16) {
		opt := codec.CSVOptions{
			Header:         flags&1 != 0,
			Delimiter:      ",\t;|"[flags>>1&3],
			KeepBOM:        flags&16 != 0,
			MaxRecordBytes: fuzzMax,
		}
		if flags&8 != 0 {
			opt.Comment = '#'
		}
		var cols []string
		if opt.Header {
			// Learn the header, then ask for every column, last first.
			d, err := codec.NewCSVDecoder(bytes.NewReader(data), nil, opt, codec.Range{})
			if err != nil {
				if !errors.Is(err, codec.ErrHeader) {
					t.Fatalf("NewCSVDecoder error %v does not wrap ErrHeader", err)
				}
				return
			}
			for i := len(d.Header()) - 1; i >= 0; i-- {
				cols = append(cols, d.Header()[i])
			}
		} else {
			opt.Columns = []string{"a", "b", "c"}
			cols = []string{"c", "a"}
		}
		mk := func(r io.Reader, rng codec.Range, header []string) (codec.Decoder, error) {
			rng.Header = header
			return codec.NewCSVDecoder(r, cols, opt, rng)
		}
		d, err := mk(bytes.NewReader(data), codec.Range{}, nil)
		if err != nil {
			t.Fatalf("NewCSVDecoder failed the second time: %v", err)
		}
		res := drain(t, d)
		if res.Err != nil {
			t.Fatalf("stream error reading from memory: %v", res.Err)
		}
		if res.End != int64(len(data)) {
			t.Fatalf("End() = %d after EOF, input is %d bytes", res.End, len(data))
		}
		checkRecords(t, data, 0, res, true, codec.ErrQuote, codec.ErrColumnCount, codec.ErrRecordTooLarge)
		for _, r := range res.Recs {
			if r.Err == nil && len(r.Fields) != len(cols) {
				t.Fatalf("record %d has %d fields for %d columns", r.Index, len(r.Fields), len(cols))
			}
			for _, fv := range r.Fields {
				if fv == missing {
					t.Fatalf("record %d: a column is missing: %q", r.Index, r.Fields)
				}
			}
		}
		checkReaders(t, data, mk, res, false)
		checkSplit(t, data, int(split)%(len(data)+1), mk, func(d codec.Decoder) []string {
			return d.(*codec.CSVDecoder).Header()
		}, res)
	})
}

func FuzzJSONLDecoder(f *testing.F) {
	for i, c := range jsonlCases {
		f.Add([]byte(c.in), uint16(i*5))
	}
	for _, s := range []string{
		"{\"a\":1}\n[1]\n42\nnull\n{\"a\":\n{\"a\":1,\"a\":2}\n",
		"{\"a\":\"" + strings.Repeat("x", 300) + "\"}\n{\"b\":true}\n",
		"{\"a\":{\"b\":[1,{\"c\":null}]},\"b\":\"\\u00e9\\\"\"}\r\n\n  \n",
		"{\"\\u0061\":1,\"b\":-0.5e-3}",
		"\xef\xbb\xbf{\"a\":\"\xff\"}\n",
	} {
		f.Add([]byte(s), uint16(len(s)/3))
	}
	cols := []string{"a", "b"}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		mk := func(r io.Reader, rng codec.Range, _ []string) (codec.Decoder, error) {
			return codec.NewJSONLDecoder(r, cols, fuzzMax, rng), nil
		}
		d, _ := mk(bytes.NewReader(data), codec.Range{}, nil)
		res := drain(t, d)
		if res.Err != nil {
			t.Fatalf("stream error reading from memory: %v", res.Err)
		}
		if res.End != int64(len(data)) {
			t.Fatalf("End() = %d after EOF, input is %d bytes", res.End, len(data))
		}
		checkRecords(t, data, 0, res, true, codec.ErrInvalidJSON, codec.ErrNotObject, codec.ErrRecordTooLarge)
		for _, r := range res.Recs {
			checkJSONFields(t, r)
		}
		checkReaders(t, data, mk, res, false)
		checkSplit(t, data, int(split)%(len(data)+1), mk, nil, res)
	})
}

// checkJSONFields asserts that a good record's fields are what their kinds
// say: numbers, booleans and nested values are valid JSON text.
func checkJSONFields(t *testing.T, r rec) {
	t.Helper()
	if r.Err != nil {
		return
	}
	if len(r.Fields) != 2 {
		t.Fatalf("record %d has %d fields", r.Index, len(r.Fields))
	}
	for _, fv := range r.Fields {
		kind, text, _ := strings.Cut(fv, ":")
		switch kind {
		case "num", "json":
			if !json.Valid([]byte(text)) {
				t.Fatalf("record %d: %s field %q is not valid JSON", r.Index, kind, text)
			}
		case "bool":
			if text != "true" && text != "false" {
				t.Fatalf("record %d: bool field %q", r.Index, text)
			}
		}
	}
}

func FuzzJSONDecoder(f *testing.F) {
	for _, c := range jsonCases {
		f.Add([]byte(c.in))
	}
	for _, s := range []string{
		`[{"a":1},{"a":` + `"` + strings.Repeat("x", 300) + `"},{"b":[1,2]}]`,
		`[{"a":1},[1],2,"s",null,{"a":3}] x`,
		`{"a":{"b":{"c":[]}}}`,
		`[{"a":1},{"a":2},{"a":`,
		"[{\"a\":1,\"a\":2},{\"a\":\"\xff\"}]",
		" \xef\xbb\xbf[]",
	} {
		f.Add([]byte(s))
	}
	cols := []string{"a", "b"}
	f.Fuzz(func(t *testing.T, data []byte) {
		mk := func(r io.Reader, _ codec.Range, _ []string) (codec.Decoder, error) {
			return codec.NewJSONDecoder(r, cols, fuzzMax), nil
		}
		d, _ := mk(bytes.NewReader(data), codec.Range{}, nil)
		res := drain(t, d)
		checkRecords(t, data, 0, res, false, codec.ErrInvalidJSON, codec.ErrNotObject, codec.ErrRecordTooLarge)
		for _, r := range res.Recs {
			checkJSONFields(t, r)
		}
		// Agree with encoding/json: a document read without any error is
		// valid JSON, and a valid document is read without a stream error
		// unless it is not an object or array.
		doc := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		valid := json.Valid(doc)
		if res.Err == nil && !anyRecordErr(res) && len(bytes.TrimSpace(doc)) > 0 && !valid {
			t.Fatalf("decoded without error, but encoding/json rejects %q", doc)
		}
		if valid && res.Err != nil && !errors.Is(res.Err, codec.ErrNotObject) {
			t.Fatalf("encoding/json accepts %q, but: %v", doc, res.Err)
		}
		checkReaders(t, data, mk, res, true)
	})
}

func anyRecordErr(res result) bool {
	for _, r := range res.Recs {
		if r.Err != nil {
			return true
		}
	}
	return false
}

func FuzzDecompress(f *testing.F) {
	csv := []byte("a,b\n1,2\n\"x\ny\",3\n4\n" + strings.Repeat("5,6\n", 100))
	gz := gzipBytes(f, csv)
	zs := zstdBytes(f, csv)
	for _, s := range [][]byte{
		csv, gz, zs,
		gz[:len(gz)/2], gz[:len(gz)-4], gz[:10], gz[:2],
		zs[:len(zs)/2], zs[:len(zs)-1], zs[:5],
		append(append([]byte{}, gz...), gz...),
		gzipBytes(f, make([]byte, 2<<20)), // over the MaxBytes below
		zstdBytes(f, make([]byte, 2<<20)),
		gzipBytes(f, nil),
		nil,
	} {
		f.Add(s)
	}
	lim := codec.Limits{MaxBytes: 1 << 20, MaxRatio: 100}
	f.Fuzz(func(t *testing.T, data []byte) {
		rc, c, err := codec.Decompress(bytes.NewReader(data), codec.CompressionAuto, lim)
		if want := codec.SniffCompression(data); c != want {
			t.Fatalf("Decompress used %q, sniffing says %q", c, want)
		}
		if err != nil {
			if c == codec.CompressionNone {
				t.Fatalf("uncompressed input failed: %v", err)
			}
			return
		}
		cr := &countReader{r: rc}
		d, err := codec.NewCSVDecoder(cr, []string{"b", "a"}, codec.CSVOptions{Columns: []string{"a", "b"}, MaxRecordBytes: fuzzMax}, codec.Range{})
		if err != nil {
			t.Fatalf("NewCSVDecoder without a header: %v", err)
		}
		res := drain(t, d)
		rc.Close()
		if c == codec.CompressionNone {
			if res.Err != nil {
				t.Fatalf("uncompressed input: %v", res.Err)
			}
			if res.End != int64(len(data)) {
				t.Fatalf("End() = %d, input is %d bytes", res.End, len(data))
			}
			checkRecords(t, data, 0, res, true, codec.ErrQuote, codec.ErrColumnCount, codec.ErrRecordTooLarge)
			return
		}
		if cr.n > lim.MaxBytes+256<<10 {
			t.Fatalf("%d bytes came out past a limit of %d", cr.n, lim.MaxBytes)
		}
		if res.Err == nil && res.End != cr.n {
			t.Fatalf("End() = %d after EOF, the decompressor gave %d bytes", res.End, cr.n)
		}
		if res.Err != nil && cr.n > lim.MaxBytes && !errors.Is(res.Err, codec.ErrTooLarge) {
			t.Fatalf("%d bytes out, error %v does not wrap ErrTooLarge", cr.n, res.Err)
		}
	})
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s\n\r\t\x01", "a\xffb\xc3", "0123456789abcdef\"0123456789\\abcdefgh\x00", "é漢😀\u2028"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		checkJSONString(t, s)
	})
}
