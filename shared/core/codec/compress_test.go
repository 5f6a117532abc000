package codec_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstdBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := zstd.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sampleCSV is a few hundred KiB of CSV, enough for several compressed
// blocks.
func sampleCSV() []byte {
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := range 20000 {
		b.WriteString(strings.Repeat("x", i%13))
		b.WriteString(",name \"quoted\"\n")
	}
	return []byte(b.String())
}

func readAll(t testing.TB, data []byte, c codec.Compression, lim codec.Limits) ([]byte, codec.Compression, error) {
	t.Helper()
	rc, used, err := codec.Decompress(bytes.NewReader(data), c, lim)
	if err != nil {
		return nil, used, err
	}
	defer rc.Close()
	out, err := io.ReadAll(rc)
	return out, used, err
}

func TestDecompressRoundTrip(t *testing.T) {
	plain := sampleCSV()
	cases := []struct {
		name string
		in   []byte
		c    codec.Compression
		want codec.Compression
	}{
		{"gzip sniffed", gzipBytes(t, plain), codec.CompressionAuto, codec.Gzip},
		{"gzip empty compression means auto", gzipBytes(t, plain), "", codec.Gzip},
		{"gzip named", gzipBytes(t, plain), codec.Gzip, codec.Gzip},
		{"zstd sniffed", zstdBytes(t, plain), codec.CompressionAuto, codec.Zstd},
		{"zstd named", zstdBytes(t, plain), codec.Zstd, codec.Zstd},
		{"plain sniffed", plain, codec.CompressionAuto, codec.CompressionNone},
		{"plain named", plain, codec.CompressionNone, codec.CompressionNone},
		{"multi-member gzip", append(gzipBytes(t, plain[:1000]), gzipBytes(t, plain[1000:])...), codec.CompressionAuto, codec.Gzip},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, used, err := readAll(t, c.in, c.c, codec.Limits{MaxBytes: 1 << 30, MaxRatio: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if used != c.want {
				t.Errorf("compression = %q, want %q", used, c.want)
			}
			if !bytes.Equal(out, plain) {
				t.Errorf("got %d bytes back, want the %d bytes put in", len(out), len(plain))
			}
		})
	}
	t.Run("empty plain input", func(t *testing.T) {
		out, used, err := readAll(t, nil, codec.CompressionAuto, codec.Limits{})
		if err != nil || used != codec.CompressionNone || len(out) != 0 {
			t.Errorf("got %q, %q, %v", out, used, err)
		}
	})
	t.Run("empty gzip payload", func(t *testing.T) {
		out, used, err := readAll(t, gzipBytes(t, nil), codec.CompressionAuto, codec.Limits{})
		if err != nil || used != codec.Gzip || len(out) != 0 {
			t.Errorf("got %q, %q, %v", out, used, err)
		}
	})
}

func TestDecompressErrors(t *testing.T) {
	plain := sampleCSV()
	gz, zs := gzipBytes(t, plain), zstdBytes(t, plain)
	cases := []struct {
		name string
		in   []byte
		c    codec.Compression
		want error // nil: any error
	}{
		{"gzip cut in half", gz[:len(gz)/2], codec.CompressionAuto, codec.ErrTruncated},
		{"gzip without its trailer", gz[:len(gz)-8], codec.CompressionAuto, codec.ErrTruncated},
		{"gzip cut inside the trailer", gz[:len(gz)-3], codec.CompressionAuto, codec.ErrTruncated},
		{"gzip cut inside the header", gz[:5], codec.CompressionAuto, codec.ErrTruncated},
		{"gzip magic only", gz[:2], codec.CompressionAuto, codec.ErrTruncated},
		{"gzip named on empty input", nil, codec.Gzip, codec.ErrTruncated},
		{"zstd cut in half", zs[:len(zs)/2], codec.CompressionAuto, codec.ErrTruncated},
		{"zstd without its last bytes", zs[:len(zs)-2], codec.CompressionAuto, codec.ErrTruncated},
		{"zstd cut inside the frame header", zs[:6], codec.CompressionAuto, codec.ErrTruncated},
		{"gzip named on plain data", plain, codec.Gzip, nil},
		{"zstd named on plain data", plain, codec.Zstd, nil},
		{"unknown compression", plain, codec.Compression("lz4"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := readAll(t, c.in, c.c, codec.Limits{})
			if err == nil {
				t.Fatal("no error")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("error %v, want one wrapping %v", err, c.want)
			}
			if c.want == nil && errors.Is(err, codec.ErrTruncated) {
				t.Fatalf("error %v should not claim truncation", err)
			}
		})
	}
}

// A truncated compressed file read through the CSV decoder ends in an
// error, never in a silent, short success.
func TestTruncatedGzipThroughCSV(t *testing.T) {
	plain := sampleCSV()
	gz := gzipBytes(t, plain)
	for _, cut := range []int{len(gz) / 3, len(gz) / 2, len(gz) - 8, len(gz) - 1} {
		rc, _, err := codec.Decompress(bytes.NewReader(gz[:cut]), codec.CompressionAuto, codec.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		d, err := codec.NewCSVDecoder(rc, []string{"id", "name"}, codec.CSVOptions{Header: true}, codec.Range{})
		if err != nil {
			t.Fatal(err)
		}
		res := drain(t, d)
		if !errors.Is(res.Err, codec.ErrTruncated) {
			t.Errorf("cut at %d: stream error %v after %d records, want one wrapping ErrTruncated", cut, res.Err, len(res.Recs))
		}
		for _, r := range res.Recs {
			if r.Err != nil || r.Fields[1] != `name "quoted"` {
				t.Fatalf("cut at %d: record %d is %+v", cut, r.Index, r)
			}
		}
		if len(res.Recs) >= 20000 {
			t.Errorf("cut at %d: all %d records decoded", cut, len(res.Recs))
		}
		rc.Close()
	}
}

// Truncated compressed JSON and JSON Lines end in an error wrapping
// ErrTruncated, after the records that came out whole.
func TestTruncatedGzipThroughJSON(t *testing.T) {
	const n = 20000
	var arr, lines strings.Builder
	arr.WriteString("[")
	for i := range n {
		if i > 0 {
			arr.WriteString(",")
		}
		arr.WriteString(`{"a":"some text","b":12}`)
		lines.WriteString(`{"a":"some text","b":12}` + "\n")
	}
	arr.WriteString("]")
	for _, c := range []struct {
		name string
		data string
		dec  func(io.Reader) codec.Decoder
	}{
		{"json", arr.String(), func(r io.Reader) codec.Decoder { return codec.NewJSONDecoder(r, []string{"a", "b"}, 0) }},
		{"jsonl", lines.String(), func(r io.Reader) codec.Decoder {
			return codec.NewJSONLDecoder(r, []string{"a", "b"}, 0, codec.Range{})
		}},
	} {
		for _, compress := range []func(testing.TB, []byte) []byte{gzipBytes, zstdBytes} {
			z := compress(t, []byte(c.data))
			rc, _, err := codec.Decompress(bytes.NewReader(z[:len(z)/2]), codec.CompressionAuto, codec.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			res := drain(t, c.dec(rc))
			rc.Close()
			if !errors.Is(res.Err, codec.ErrTruncated) {
				t.Errorf("%s: stream error %v after %d records, want one wrapping ErrTruncated", c.name, res.Err, len(res.Recs))
			}
			if len(res.Recs) == 0 || len(res.Recs) >= n {
				t.Errorf("%s: %d records before the error", c.name, len(res.Recs))
			}
			for _, r := range res.Recs {
				if r.Err != nil || r.Fields[0] != "some text" || r.Fields[1] != "num:12" {
					t.Fatalf("%s: record %d is %+v", c.name, r.Index, r)
				}
			}
		}
	}
}

// bomb is 64 MiB of zeros, compressed by c to about 64 KiB (gzip) or less.
func bomb(t testing.TB, c codec.Compression) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	var err error
	if c == codec.Gzip {
		w, err = gzip.NewWriterLevel(&b, gzip.BestCompression)
	} else {
		w, err = zstd.NewWriter(&b)
	}
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for range 64 {
		if _, err := w.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecompressionBomb(t *testing.T) {
	for _, c := range []codec.Compression{codec.Gzip, codec.Zstd} {
		in := bomb(t, c)
		if len(in) > 1<<20 {
			t.Fatalf("%s bomb is %d bytes", c, len(in))
		}
		cases := []struct {
			name string
			lim  codec.Limits
			want error
			// the error must come after at least min and at most max bytes
			min, max int64
		}{
			{"ratio", codec.Limits{MaxRatio: 100}, codec.ErrDecompressionBomb, 4 << 20, 5 << 20},
			{"size", codec.Limits{MaxBytes: 1 << 20}, codec.ErrTooLarge, 1 << 20, 1<<20 + 256<<10},
			{"size and ratio: size first", codec.Limits{MaxBytes: 2 << 20, MaxRatio: 100}, codec.ErrTooLarge, 2 << 20, 2<<20 + 256<<10},
			{"no limits", codec.Limits{}, nil, 64 << 20, 64 << 20},
			{"ratio under the limit", codec.Limits{MaxRatio: 1e9}, nil, 64 << 20, 64 << 20},
		}
		for _, lc := range cases {
			t.Run(string(c)+"/"+lc.name, func(t *testing.T) {
				rc, used, err := codec.Decompress(bytes.NewReader(in), codec.CompressionAuto, lc.lim)
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				if used != c {
					t.Fatalf("compression = %q", used)
				}
				n, err := io.Copy(io.Discard, rc)
				if lc.want == nil && err != nil {
					t.Fatalf("error %v after %d bytes", err, n)
				}
				if lc.want != nil && !errors.Is(err, lc.want) {
					t.Fatalf("error %v after %d bytes, want one wrapping %v", err, n, lc.want)
				}
				if n < lc.min || n > lc.max {
					t.Errorf("read %d bytes, want between %d and %d", n, lc.min, lc.max)
				}
			})
		}
	}
}

// The ratio limit leaves small inputs alone, however well they compress.
func TestDecompressRatioGrace(t *testing.T) {
	in := gzipBytes(t, make([]byte, 3<<20))
	out, _, err := readAll(t, in, codec.CompressionAuto, codec.Limits{MaxRatio: 2})
	if err != nil || len(out) != 3<<20 {
		t.Fatalf("got %d bytes, %v", len(out), err)
	}
}

func TestSniffCompression(t *testing.T) {
	cases := []struct {
		head []byte
		want codec.Compression
	}{
		{[]byte{0x1f, 0x8b, 0x08, 0x00}, codec.Gzip},
		{[]byte{0x1f, 0x8b}, codec.Gzip},
		{[]byte{0x1f}, codec.CompressionNone},
		{[]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00}, codec.Zstd},
		{[]byte{0x28, 0xb5, 0x2f}, codec.CompressionNone},
		{[]byte("id,name"), codec.CompressionNone},
		{nil, codec.CompressionNone},
	}
	for _, c := range cases {
		if got := codec.SniffCompression(c.head); got != c.want {
			t.Errorf("SniffCompression(% x) = %q, want %q", c.head, got, c.want)
		}
	}
}

func TestSniffFormat(t *testing.T) {
	cases := []struct {
		head string
		want codec.Format
	}{
		{"", codec.FormatCSV},
		{" \r\n\t", codec.FormatCSV},
		{"id,name\n1,x\n", codec.FormatCSV},
		{"\xef\xbb\xbfid,name\n", codec.FormatCSV},
		{`[{"a":1}]`, codec.FormatJSON},
		{"\n  [\n", codec.FormatJSON},
		{"\xef\xbb\xbf[{}]", codec.FormatJSON},
		{"{\"a\":1}\n{\"a\":2}\n", codec.FormatJSONL},
		{"{\"a\":1}\r\n", codec.FormatJSONL},
		{"\xef\xbb\xbf{\"a\":1}\n", codec.FormatJSONL},
		{"  {\"a\":1}  \n", codec.FormatJSONL},
		{`{"a":1}`, codec.FormatJSON}, // no line break: one document
		{"{\n  \"a\": 1\n}\n", codec.FormatJSON},
		{"{\"a\":\n", codec.FormatJSON},
		{"{not json}\n", codec.FormatJSON},
		{"\"a\",\"b\"\n", codec.FormatCSV},
	}
	for _, c := range cases {
		if got := codec.SniffFormat([]byte(c.head)); got != c.want {
			t.Errorf("SniffFormat(%q) = %q, want %q", c.head, got, c.want)
		}
	}
}

func TestFormatFromName(t *testing.T) {
	cases := []struct {
		name string
		want codec.Format
	}{
		{"orders.csv", codec.FormatCSV},
		{"orders.CSV", codec.FormatCSV},
		{"orders.tsv", codec.FormatCSV},
		{"orders.txt", codec.FormatCSV},
		{"orders.csv.gz", codec.FormatCSV},
		{"orders.csv.gzip", codec.FormatCSV},
		{"orders.csv.zst", codec.FormatCSV},
		{"orders.csv.zstd", codec.FormatCSV},
		{"events.jsonl", codec.FormatJSONL},
		{"events.ndjson.gz", codec.FormatJSONL},
		{"events.JSONL.ZST", codec.FormatJSONL},
		{"doc.json", codec.FormatJSON},
		{"prefix/dir.csv/doc.json.gz", codec.FormatJSON},
		{"prefix/dir.csv/noext", ""},
		{"orders.gz", ""},
		{"orders.parquet", ""},
		{"orders", ""},
		{"", ""},
	}
	for _, c := range cases {
		if got := codec.FormatFromName(c.name); got != c.want {
			t.Errorf("FormatFromName(%q) = %q, want %q", c.name, got, c.want)
		}
	}
}
