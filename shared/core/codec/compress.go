package codec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/sluice-etl/sluice/shared/core/enum"
)

// Compression names a compression format.
type Compression string

// Compression formats.
const (
	CompressionAuto Compression = "auto"
	CompressionNone Compression = "none"
	Gzip            Compression = "gzip"
	Zstd            Compression = "zstd"
	// Snappy is for parquet output only.
	Snappy Compression = "snappy"
)

// SourceCompressions are the compressions a source may declare; "" is
// auto. The sink's depend on its format: see SinkFormat.Compressions.
var SourceCompressions = enum.Set[Compression]{Name: "compression",
	Values: []Compression{Gzip, Zstd, CompressionNone, CompressionAuto}, EmptyOK: true}

// Check validates a source compression against SourceCompressions.
func (c Compression) Check() error { return SourceCompressions.Check(c) }

// Limits bound what a decompressor may produce.
type Limits struct {
	// MaxBytes caps the decompressed size (0: no cap).
	MaxBytes int64
	// MaxRatio caps decompressed/compressed bytes once more than
	// ratioGrace bytes came out (0: no cap).
	MaxRatio float64
}

// ratioGrace lets small inputs expand freely; the ratio applies after it.
const ratioGrace = 4 << 20

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// SniffCompression detects gzip or zstd from the leading bytes.
func SniffCompression(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	}
	return CompressionNone
}

// Decompress wraps r with the decompressor c names; auto sniffs the magic
// bytes. The reader enforces lim and reports a cut-short stream as an error
// wrapping ErrTruncated. It also returns the compression it used.
func Decompress(r io.Reader, c Compression, lim Limits) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if c == "" || c == CompressionAuto {
		head, _ := br.Peek(4)
		c = SniffCompression(head)
	}
	in := &countingReader{r: br}
	var dec io.Reader
	var closer func()
	switch c {
	case CompressionNone:
		return io.NopCloser(br), c, nil
	case Gzip:
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, c, fmt.Errorf("gzip: %w", truncated(err))
		}
		dec, closer = zr, func() { _ = zr.Close() }
	case Zstd:
		zr, err := zstd.NewReader(in, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, c, fmt.Errorf("zstd: %w", err)
		}
		dec, closer = zr, zr.Close
	default:
		return nil, c, fmt.Errorf("unknown compression %q", c)
	}
	return &limitedReader{r: dec, in: in, lim: lim, name: string(c), close: closer}, c, nil
}

func truncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %v", ErrTruncated, err)
	}
	return err
}

type limitedReader struct {
	r     io.Reader
	in    *countingReader
	out   int64
	lim   Limits
	name  string
	close func()
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.out += int64(n)
	if l.lim.MaxBytes > 0 && l.out > l.lim.MaxBytes {
		return n, fmt.Errorf("%s: %w: more than %d bytes", l.name, ErrTooLarge, l.lim.MaxBytes)
	}
	if l.lim.MaxRatio > 0 && l.out > ratioGrace && float64(l.out) > l.lim.MaxRatio*float64(max(l.in.n, 1)) {
		return n, fmt.Errorf("%s: %w: %d bytes from %d (limit %.0f:1)", l.name, ErrDecompressionBomb, l.out, l.in.n, l.lim.MaxRatio)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("%s: decompress after %d bytes: %w", l.name, l.out, truncated(err))
	}
	return n, err
}

func (l *limitedReader) Close() error {
	l.close()
	return nil
}

// Format names a record format.
type Format string

// Record formats.
const (
	FormatAuto  Format = "auto"
	FormatCSV   Format = "csv"
	FormatJSONL Format = "jsonl"
	FormatJSON  Format = "json"
)

// Formats are the record formats a source may declare; "" is auto.
var Formats = enum.Set[Format]{Name: "format",
	Values: []Format{FormatCSV, FormatJSONL, FormatJSON, FormatAuto}, EmptyOK: true}

// Check validates a source format against Formats.
func (f Format) Check() error { return Formats.Check(f) }

// FormatFromName guesses a format from an object name, looking through a
// compression suffix. It returns "" when the name does not tell.
func FormatFromName(name string) Format {
	name = strings.ToLower(name)
	for _, ext := range []string{".gz", ".gzip", ".zst", ".zstd"} {
		name = strings.TrimSuffix(name, ext)
	}
	switch path.Ext(name) {
	case ".csv", ".tsv", ".txt":
		return FormatCSV
	case ".jsonl", ".ndjson":
		return FormatJSONL
	case ".json":
		return FormatJSON
	}
	return ""
}

// SniffFormat guesses a format from the first bytes of decompressed data:
// '[' is JSON, '{' is JSON Lines when the first line is a complete value,
// anything else is CSV.
func SniffFormat(head []byte) Format {
	head = bytes.TrimPrefix(head, []byte{0xEF, 0xBB, 0xBF})
	t := bytes.TrimLeft(head, " \t\r\n")
	if len(t) == 0 {
		return FormatCSV
	}
	switch t[0] {
	case '[':
		return FormatJSON
	case '{':
		if i := bytes.IndexByte(t, '\n'); i >= 0 && validJSON(t[:i]) {
			return FormatJSONL
		}
		return FormatJSON
	}
	return FormatCSV
}

func validJSON(b []byte) bool {
	return jsonValid(bytes.TrimSpace(b))
}
