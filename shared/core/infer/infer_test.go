package infer_test

import (
	"bytes"
	"compress/gzip"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/sluice-etl/sluice/shared/core/infer"
)

var update = flag.Bool("update", false, "rewrite the golden specs in testdata")

// goldenCases are the samples and the name each is read under: a
// compressed one is compressed here, from the plain file.
var goldenCases = []struct {
	file, name, golden string
	compress           func(t *testing.T, b []byte) []byte
}{
	{file: "bom_crlf.csv", golden: "bom_crlf"},
	{file: "dirty.csv", golden: "dirty"},
	{file: "unix.csv", golden: "unix"},
	{file: "padded.csv", golden: "padded"},
	{file: "odd_names.csv", golden: "odd_names"},
	{file: "events.jsonl", golden: "events"},
	{file: "items.json", golden: "items"},
	{file: "semi.txt", golden: "semi"},
	{file: "dirty.csv", name: "dirty.csv.gz", golden: "dirty_gzip", compress: gzipped},
	{file: "events.jsonl", name: "events", golden: "events_zstd", compress: zstded},
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.golden, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			name := c.file
			if c.compress != nil {
				data, name = c.compress(t, data), c.name
			}
			s, err := infer.ReadSample(bytes.NewReader(data), name)
			if err != nil {
				t.Fatal(err)
			}
			r, err := infer.Infer(s)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", c.golden+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, r.Doc, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r.Doc, want) {
				t.Errorf("spec differs from %s (go test -update rewrites it):\n%s", golden, r.Doc)
			}
		})
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstded(t *testing.T, b []byte) []byte {
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(b, nil)
}
