package codec_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

// benchCSV is about 4 MiB of CSV with a quoted field on every tenth line.
func benchCSV() []byte {
	var b bytes.Buffer
	b.WriteString("id,name,city,amount\n")
	for i := 0; b.Len() < 4<<20; i++ {
		if i%10 == 0 {
			fmt.Fprintf(&b, "%d,\"name, %d\",Paris,%d.%02d\n", i, i, i%1000, i%100)
		} else {
			fmt.Fprintf(&b, "%d,name %d,Paris,%d.%02d\n", i, i, i%1000, i%100)
		}
	}
	return b.Bytes()
}

func benchJSONL() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 4<<20; i++ {
		fmt.Fprintf(&b, `{"id":%d,"name":"name %d","city":"Paris","amount":%d.%02d}`+"\n", i, i, i%1000, i%100)
	}
	return b.Bytes()
}

func benchJSON() []byte {
	return []byte("[" + strings.ReplaceAll(strings.TrimSuffix(string(benchJSONL()), "\n"), "\n", ",\n") + "]")
}

func benchDecode(b *testing.B, data []byte, mk func(io.Reader) (codec.Decoder, error)) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		d, err := mk(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

var benchCols = []string{"id", "name", "amount"}

func BenchmarkCSVDecoder(b *testing.B) {
	data := benchCSV()
	opt := codec.CSVOptions{Header: true, DetectCR: true}
	benchDecode(b, data, func(r io.Reader) (codec.Decoder, error) {
		return codec.NewCSVDecoder(r, benchCols, opt, codec.Range{})
	})
}

func BenchmarkCSVDecoderCR(b *testing.B) {
	data := bytes.ReplaceAll(benchCSV(), []byte{'\n'}, []byte{'\r'})
	opt := codec.CSVOptions{Header: true, DetectCR: true}
	benchDecode(b, data, func(r io.Reader) (codec.Decoder, error) {
		return codec.NewCSVDecoder(r, benchCols, opt, codec.Range{})
	})
}

func BenchmarkJSONLDecoder(b *testing.B) {
	data := benchJSONL()
	benchDecode(b, data, func(r io.Reader) (codec.Decoder, error) {
		return codec.NewJSONLDecoder(r, benchCols, 0, codec.Range{}), nil
	})
}

func BenchmarkJSONDecoder(b *testing.B) {
	data := benchJSON()
	benchDecode(b, data, func(r io.Reader) (codec.Decoder, error) {
		return codec.NewJSONDecoder(r, benchCols, 0), nil
	})
}

func BenchmarkDecompress(b *testing.B) {
	plain := benchCSV()
	for _, c := range []struct {
		name string
		data []byte
	}{{"none", plain}, {"gzip", gzipBytes(b, plain)}, {"zstd", zstdBytes(b, plain)}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			b.ReportAllocs()
			buf := make([]byte, 256<<10)
			for b.Loop() {
				rc, _, err := codec.Decompress(bytes.NewReader(c.data), codec.CompressionAuto, codec.Limits{MaxBytes: 1 << 30, MaxRatio: 200, MaxZstdWindow: 32 << 20})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{rc}, buf); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
	}
}

// BenchmarkDecoderContract measures the schema contract's checks where no
// record breaks them: every column is requested, so ignore and reject
// decode the same records; reject checks each JSON object's keys.
func BenchmarkDecoderContract(b *testing.B) {
	cols := []string{"id", "name", "city", "amount"}
	for _, p := range []codec.UnknownPolicy{codec.UnknownIgnore, codec.UnknownReject} {
		with := func(o *codec.DecoderOptions) {
			o.Contract = codec.Contract{Unknown: p, Missing: []codec.MissingPolicy{codec.MissingFail, "", "", ""}}
		}
		b.Run("csv/"+string(p), func(b *testing.B) {
			data := benchCSV()
			opt := codec.CSVOptions{Header: true, DetectCR: true}
			benchDecode(b, data, func(r io.Reader) (codec.Decoder, error) {
				return codec.NewCSVDecoder(r, cols, opt, codec.Range{}, with)
			})
		})
		b.Run("jsonl/"+string(p), func(b *testing.B) {
			benchDecode(b, benchJSONL(), func(r io.Reader) (codec.Decoder, error) {
				return codec.NewJSONLDecoder(r, cols, 0, codec.Range{}, with), nil
			})
		})
	}
}
