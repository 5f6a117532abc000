package infer_test

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/infer"
)

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// firstValues are the first column's values of a sample.
func firstValues(s *infer.Sample) []string {
	var out []string
	for _, r := range s.Rows {
		out = append(out, string(r.Fields[0].Bytes))
	}
	return out
}

// The sample stops at MaxRecords records or MaxBytes bytes, leaves out a
// record the byte bound cuts, and says whether the input goes on.
func TestSampleBounds(t *testing.T) {
	csv := "n,s\n1,a\n2,\"b\nb\"\n3,c\n" // 20 bytes; record 2 is bytes 8 to 15
	jsonl := "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n"
	json := `[{"n":1},{"n":2},{"n":3}]`
	cases := []struct {
		name, in  string
		records   int
		bytes     int
		want      []string
		truncated bool
	}{
		{"all of it", csv, 0, 0, []string{"1", "2", "3"}, false},
		{"records", csv, 2, 0, []string{"1", "2"}, true},
		{"records, exactly", csv, 3, 0, []string{"1", "2", "3"}, false},
		{"bytes cut a quoted field", csv, 0, 12, []string{"1"}, true},
		{"bytes cut the next record", csv, 0, 18, []string{"1", "2"}, true},
		{"bytes, exactly", csv, 0, 20, []string{"1", "2", "3"}, false},
		{"jsonl bytes", jsonl, 0, 10, []string{"1"}, true},
		{"json bytes cut an element", json, 0, 20, []string{"1", "2"}, true},
		{"json records", json, 1, 0, []string{"1"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := "x.csv"
			switch c.in {
			case jsonl:
				name = "x.jsonl"
			case json:
				name = "x.json"
			}
			s, err := infer.ReadSample(strings.NewReader(c.in), name, func(o *infer.SampleOptions) {
				if c.records > 0 {
					o.MaxRecords = c.records
				}
				if c.bytes > 0 {
					o.MaxBytes = c.bytes
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := firstValues(s); !slices.Equal(got, c.want) || s.Truncated != c.truncated {
				t.Errorf("values %q truncated %v; want %q truncated %v", got, s.Truncated, c.want, c.truncated)
			}
		})
	}
}

// A stream is read only as far as the sample goes: its bytes bound, or
// its records; the decompressor reads ahead by 64 KiB at most, and the
// decoders by 256 KiB.
func TestSampleReadsOnlyTheSample(t *testing.T) {
	var csv, jsonl strings.Builder
	csv.WriteString("n\n")
	for i := range 100_000 {
		fmt.Fprintf(&csv, "%d\n", i)
		fmt.Fprintf(&jsonl, "{\"n\":%d}\n", i)
	}
	cases := []struct {
		name, in string
		opt      infer.SampleOptions
		rows     int
		read     int
	}{
		// 1000 bytes hold the header and 277 records, the last one at
		// their very end, which may be cut: it is left out.
		{"x.csv", csv.String(), infer.SampleOptions{MaxBytes: 1000}, 276, 64<<10 + 1001},
		{"x.csv", csv.String(), infer.SampleOptions{MaxRecords: 100}, 100, 64<<10 + 256<<10 + 1},
		{"x.jsonl", jsonl.String(), infer.SampleOptions{MaxRecords: 100}, 100, 64<<10 + 256<<10 + 1},
	}
	for _, c := range cases {
		cr := &countingReader{r: strings.NewReader(c.in)}
		s, err := infer.ReadSample(cr, c.name, func(o *infer.SampleOptions) {
			if c.opt.MaxBytes > 0 {
				o.MaxBytes = c.opt.MaxBytes
			}
			if c.opt.MaxRecords > 0 {
				o.MaxRecords = c.opt.MaxRecords
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if cr.n > c.read || len(s.Rows) != c.rows || !s.Truncated {
			t.Errorf("%s %+v: read %d of %d bytes, %d rows, truncated %v", c.name, c.opt, cr.n, len(c.in), len(s.Rows), s.Truncated)
		}
	}
}

// The format and compression are settled as sluice run settles them: by
// the name, then by the data; the delimiter by the header line; a BOM
// and CRLF line ends are read away.
func TestSampleFormat(t *testing.T) {
	cases := []struct {
		name, in string
		format   codec.Format
		delim    byte
		columns  []string
	}{
		{"a.csv", "\xef\xbb\xbfa,b\r\n1,2\r\n", codec.FormatCSV, ',', []string{"a", "b"}},
		{"a.tsv", "a\tb;c\n1\t2\n", codec.FormatCSV, '\t', []string{"a", "b;c"}},
		{"a.txt", "\"x|y\";b|c\n", codec.FormatCSV, ';', []string{"x|y", "b|c"}},
		{"a", `{"k": 1, "j": 2}` + "\n" + `{"l": 3}` + "\n", codec.FormatJSONL, 0, []string{"k", "j", "l"}},
		{"a", `[{"k": 1}, {"j": 2, "k": 3}]`, codec.FormatJSON, 0, []string{"k", "j"}},
		{"a", "k,j\n1,2\n", codec.FormatCSV, ',', []string{"k", "j"}},
	}
	for _, c := range cases {
		s, err := infer.ReadSample(strings.NewReader(c.in), c.name)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if s.Format != c.format || s.Delimiter != c.delim || !slices.Equal(s.Columns, c.columns) || s.Compression != codec.CompressionNone {
			t.Errorf("%s %q: %s %q %q %s", c.name, c.in, s.Format, s.Delimiter, s.Columns, s.Compression)
		}
	}
}

// Input that cannot be sampled fails with what went wrong.
func TestSampleErrors(t *testing.T) {
	cases := []struct{ name, in, err string }{
		{"e.csv", "", "read e.csv: no columns in the sample"},
		{"e.json", "{}", "read e.json: no columns in the sample"},
		{"h.csv", "a,,b\n", "read h.csv: bad header: line 1: column 2 has an empty name"},
		{"g.csv", "\x1f\x8b\x08\x00", "read g.csv: gzip: input is truncated: unexpected EOF"},
		{"j.json", "[1, ", "read j.json: json: input is truncated: input ends inside the array after 1 records (byte 4)"},
	}
	for _, c := range cases {
		_, err := infer.ReadSample(strings.NewReader(c.in), c.name)
		if err == nil || err.Error() != c.err {
			t.Errorf("%s: %v, want %s", c.name, err, c.err)
		}
	}
	if _, err := infer.ReadSample(strings.NewReader(""), "e.csv"); !errors.Is(err, infer.ErrEmpty) {
		t.Errorf("empty input: %v does not wrap ErrEmpty", err)
	}
}
