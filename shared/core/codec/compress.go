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
	// MaxZstdWindow caps the window a zstd frame may ask for, which is
	// what the decoder's memory grows with (0: the decoder's own cap of
	// 512 MiB, and 1 GiB of memory).
	MaxZstdWindow int64
	// RequireUTF8 refuses output that starts with a UTF-16 or UTF-32 byte
	// order mark, with an EncodingError: the decoders read UTF-8 only.
	RequireUTF8 bool
}

// ratioGrace lets small inputs expand freely; the ratio applies after it.
const ratioGrace = 4 << 20

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// SniffCompression detects gzip or zstd from the leading bytes. A zstd
// stream may start with a skippable frame (magic 0x184D2A50 to 0x184D2A5F,
// little-endian), which carries metadata and no data.
func SniffCompression(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	case len(head) >= 4 && head[0]&0xF0 == 0x50 && head[1] == 0x2A && head[2] == 0x4D && head[3] == 0x18:
		return Zstd
	}
	return CompressionNone
}

// Decompress wraps r with the decompressor c names; auto sniffs the magic
// bytes. The reader enforces lim and reports a cut-short stream as an error
// wrapping ErrTruncated, data compressed twice as ErrNestedCompression, and
// bytes after a gzip stream that are not gzip as ErrTrailingData. It also
// returns the compression it used. With lim.RequireUTF8, uncompressed input
// in UTF-16 or UTF-32 is refused here, and compressed input on its first
// read.
func Decompress(r io.Reader, c Compression, lim Limits) (io.ReadCloser, Compression, error) {
	src := &countingReader{r: r}
	br := bufio.NewReaderSize(src, 64<<10)
	if c == "" || c == CompressionAuto {
		head, _ := br.Peek(4)
		c = SniffCompression(head)
	}
	l := &limitedReader{src: src, br: br, lim: lim, name: string(c)}
	switch c {
	case CompressionNone:
		if lim.RequireUTF8 {
			head, _ := br.Peek(4)
			if err := checkEncoding(head); err != nil {
				return nil, c, err
			}
		}
		return io.NopCloser(br), c, nil
	case Gzip:
		g, err := newGzipStream(br, l.consumed)
		if err != nil {
			return nil, c, fmt.Errorf("gzip: %w", truncated(unprefix(err, "gzip: ")))
		}
		l.r, l.close = g, func() { _ = g.zr.Close() }
	case Zstd:
		zr, err := newZstd(br, lim.MaxZstdWindow)
		if err != nil {
			return nil, c, fmt.Errorf("zstd: %w", unprefix(err, "zstd: "))
		}
		l.r, l.close = zr, zr.Close
	default:
		return nil, c, fmt.Errorf("unknown compression %q", c)
	}
	return l, c, nil
}

func truncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %v", ErrTruncated, err)
	}
	return err
}

// prefixless is a library error worded without the package prefix
// ("gzip: ", "zstd: ") that the caller's own prefix replaces, so that each
// error is named once. It unwraps to the library's error.
type prefixless struct {
	err error
	msg string
}

func (e *prefixless) Error() string { return e.msg }
func (e *prefixless) Unwrap() error { return e.err }

func unprefix(err error, prefix string) error {
	if msg, ok := strings.CutPrefix(err.Error(), prefix); ok {
		return &prefixless{err: err, msg: msg}
	}
	return err
}

// gzipStream reads the members of a gzip stream one after the other, as
// gzip -d does, and says what follows the last member when it is neither
// the end of the input nor another member. It reads br directly, so that
// br is left just after each member.
type gzipStream struct {
	zr       *gzip.Reader
	br       *bufio.Reader
	consumed func() int64
}

func newGzipStream(br *bufio.Reader, consumed func() int64) (*gzipStream, error) {
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, err
	}
	zr.Multistream(false)
	return &gzipStream{zr: zr, br: br, consumed: consumed}, nil
}

func (g *gzipStream) Read(p []byte) (int, error) {
	for {
		n, err := g.zr.Read(p)
		if !errors.Is(err, io.EOF) || n > 0 {
			if errors.Is(err, io.EOF) {
				err = nil // the member's end is seen again on the next call
			}
			return n, err
		}
		if err := g.nextMember(); err != nil {
			return 0, err
		}
	}
}

// nextMember starts the member after the one that ended, or returns
// io.EOF at the end of the input.
func (g *gzipStream) nextMember() error {
	head, err := g.br.Peek(len(gzipMagic))
	switch {
	case len(head) == 0 && errors.Is(err, io.EOF):
		return io.EOF
	case len(head) == 0:
		return err
	case !bytes.Equal(head, gzipMagic):
		at := g.consumed()
		more, _ := g.br.Peek(8)
		return fmt.Errorf("%w: byte %d is not the start of another gzip member (it starts % x)", ErrTrailingData, at, more)
	}
	if err := g.zr.Reset(g.br); err != nil {
		return err
	}
	g.zr.Multistream(false)
	return nil
}

// newZstd returns a zstd decoder whose window, and so memory, is capped
// by maxWindow (0: the decoder's defaults). A first frame that asks for
// more is refused before any data is decoded, with its window named.
func newZstd(br *bufio.Reader, maxWindow int64) (*zstd.Decoder, error) {
	opts := []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1 << 30)}
	if maxWindow > 0 {
		if w, ok := zstdWindow(br); ok && w > uint64(maxWindow) {
			return nil, fmt.Errorf("%w: the first frame needs a window of %s, over the limit of %s; raise limits.max_zstd_window (memory use grows with it) or compress without --long", ErrZstdWindow, sizeText(w), sizeText(uint64(maxWindow)))
		}
		opts = append(opts, zstd.WithDecoderMaxWindow(uint64(maxWindow)), zstd.WithDecoderMaxMemory(uint64(maxWindow)))
	}
	return zstd.NewReader(br, opts...)
}

// zstdWindow reads the window size from the frame header at the start of
// br: the declared window, or the content size of a single-segment frame.
func zstdWindow(br *bufio.Reader) (uint64, bool) {
	head, _ := br.Peek(zstd.HeaderMaxSize)
	var h zstd.Header
	if h.Decode(head) != nil || h.Skippable {
		return 0, false
	}
	if h.WindowSize == 0 && h.SingleSegment {
		return h.FrameContentSize, true
	}
	return h.WindowSize, true
}

// sizeText writes a byte count in the largest binary unit that divides it.
func sizeText(n uint64) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{40, "TiB"}, {30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// limitedReader enforces Limits on a decompressor's output and refuses
// output that is itself compressed.
type limitedReader struct {
	r     io.Reader
	src   *countingReader // the compressed bytes read into br
	br    *bufio.Reader
	out   int64
	lim   Limits
	name  string
	close func()
	head  []byte // the first bytes of output, until checked
	ok    bool   // the first bytes were checked
}

// consumed is the number of compressed bytes the decompressor took.
func (l *limitedReader) consumed() int64 { return l.src.n - int64(l.br.Buffered()) }

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.out += int64(n)
	if !l.ok {
		if e := l.checkHead(p[:n], err); e != nil {
			return 0, e
		}
	}
	if l.lim.MaxBytes > 0 && l.out > l.lim.MaxBytes {
		return n, fmt.Errorf("%s: %w: more than %d bytes", l.name, ErrTooLarge, l.lim.MaxBytes)
	}
	if l.lim.MaxRatio > 0 && l.out > ratioGrace && float64(l.out) > l.lim.MaxRatio*float64(max(l.consumed(), 1)) {
		return n, fmt.Errorf("%s: %w: %d bytes from %d (limit %.0f:1)", l.name, ErrDecompressionBomb, l.out, l.consumed(), l.lim.MaxRatio)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return n, l.readError(err)
	}
	return n, err
}

// checkHead refuses output that starts with a compression's magic bytes:
// gzip inside gzip, say, would otherwise be read as binary records. With
// RequireUTF8 it refuses UTF-16 and UTF-32 too.
func (l *limitedReader) checkHead(p []byte, err error) error {
	l.head = append(l.head, p[:min(len(p), len(zstdMagic)-len(l.head))]...)
	if len(l.head) < len(zstdMagic) && err == nil {
		return nil
	}
	l.ok = true
	if inner := SniffCompression(l.head); inner != CompressionNone {
		return fmt.Errorf("%s: %w: the decompressed data is %s-compressed again; decompress the outer layer first", l.name, ErrNestedCompression, inner)
	}
	if l.lim.RequireUTF8 {
		return checkEncoding(l.head)
	}
	return nil
}

func (l *limitedReader) readError(err error) error {
	if l.lim.MaxZstdWindow > 0 && (errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded)) {
		return fmt.Errorf("%s: %w: a frame after %d bytes needs a window over the limit of %s; raise limits.max_zstd_window (memory use grows with it) or compress without --long",
			l.name, ErrZstdWindow, l.out, sizeText(uint64(l.lim.MaxZstdWindow)))
	}
	return fmt.Errorf("%s: decompress after %d bytes: %w", l.name, l.out, truncated(unprefix(err, l.name+": ")))
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
