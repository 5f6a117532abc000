package codec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

// zstdRawFrame is a zstd frame of raw blocks that declares a window of
// 1<<windowLog bytes and no content size, as zstd --long writes when it
// streams. It costs nothing to build, whatever the window.
func zstdRawFrame(data []byte, windowLog int) []byte {
	b := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, byte(windowLog-10) << 3}
	for {
		n := min(len(data), 128<<10)
		last := 0
		if n == len(data) {
			last = 1
		}
		h := uint32(last) | uint32(n)<<3 // block type 0: raw
		b = append(b, byte(h), byte(h>>8), byte(h>>16))
		b = append(b, data[:n]...)
		data = data[n:]
		if last == 1 {
			return b
		}
	}
}

// zstdSkippable is a skippable frame: metadata a zstd decoder passes over.
func zstdSkippable(payload []byte) []byte {
	b := []byte{0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[4:], uint32(len(payload)))
	return append(b, payload...)
}

// zstd's window sets its memory: limits.max_zstd_window caps it, with an
// error naming the setting (issue 11, item 11).
func TestDecompressZstdWindow(t *testing.T) {
	csv := []byte("id,name\n1,a\n2,b\n")
	small := zstdRawFrame(csv, 20)
	big := zstdRawFrame(csv, 26) // 64 MiB
	cases := []struct {
		name   string
		in     []byte
		window int64
		newErr string // from Decompress: the first frame's window is named
		err    string // from a read
	}{
		{name: "under the limit", in: big, window: 64 << 20},
		{name: "no limit", in: big},
		{name: "over the limit", in: big, window: 32 << 20,
			newErr: "window over limits.max_zstd_window: the first frame needs a window of 64 MiB, over the limit of 32 MiB; raise limits.max_zstd_window"},
		{name: "a later frame over the limit", in: append(slicesClone(small), big...), window: 32 << 20,
			err: "zstd: window over limits.max_zstd_window: a frame after 16 bytes needs a window over the limit of 32 MiB"},
		{name: "after a skippable frame", in: append(zstdSkippable([]byte("meta")), big...), window: 1 << 20,
			err: "zstd: window over limits.max_zstd_window: a frame after 0 bytes needs a window over the limit of 1 MiB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, used, err := readAll(t, c.in, codec.CompressionAuto, codec.Limits{MaxZstdWindow: c.window})
			if used != codec.Zstd {
				t.Fatalf("compression %q", used)
			}
			want := c.newErr + c.err
			switch {
			case want == "" && (err != nil || !bytes.Equal(out, bytes.Repeat(csv, len(c.in)/len(big)))):
				t.Fatalf("got %q, %v", out, err)
			case want != "" && (!errors.Is(err, codec.ErrZstdWindow) || !strings.Contains(err.Error(), want)):
				t.Fatalf("error %v, want one wrapping ErrZstdWindow and holding %q", err, want)
			}
		})
	}
}

func slicesClone(b []byte) []byte { return append([]byte(nil), b...) }

// A zstd stream may start with a skippable frame: it is zstd, and decodes.
func TestDecompressZstdSkippableFrame(t *testing.T) {
	csv := []byte("id,name\n1,a\n")
	in := append(zstdSkippable([]byte{0, 1, 2, 3, 0xff}), zstdBytes(t, csv)...)
	if c := codec.SniffCompression(in); c != codec.Zstd {
		t.Fatalf("SniffCompression = %q", c)
	}
	out, used, err := readAll(t, in, codec.CompressionAuto, codec.Limits{MaxZstdWindow: 32 << 20})
	if err != nil || used != codec.Zstd || !bytes.Equal(out, csv) {
		t.Fatalf("got %q, %q, %v", out, used, err)
	}
}

// Data compressed twice is refused on the first read, without quoting the
// inner stream's binary header.
func TestDecompressNested(t *testing.T) {
	csv := []byte("id,name\n1,a\n")
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"gzip in gzip", gzipBytes(t, gzipBytes(t, csv)), "gzip: nested compression: the decompressed data is gzip-compressed again; decompress the outer layer first"},
		{"zstd in gzip", gzipBytes(t, zstdBytes(t, csv)), "gzip: nested compression: the decompressed data is zstd-compressed again"},
		{"gzip in zstd", zstdBytes(t, gzipBytes(t, csv)), "zstd: nested compression: the decompressed data is gzip-compressed again"},
		{"a skippable frame in gzip", gzipBytes(t, zstdSkippable(csv)), "gzip: nested compression: the decompressed data is zstd-compressed again"},
	}
	for _, c := range cases {
		for name, r := range readers(c.in) {
			rc, _, err := codec.Decompress(r, codec.CompressionAuto, codec.Limits{})
			if err != nil {
				t.Fatalf("%s/%s: %v", c.name, name, err)
			}
			out, err := io.ReadAll(rc)
			rc.Close()
			if !errors.Is(err, codec.ErrNestedCompression) || err.Error() != c.want && !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("%s/%s: got %d bytes, error %v; want %q", c.name, name, len(out), err, c.want)
			}
		}
	}
}

// Bytes after a gzip stream that are not another member are named as what
// they are, not as a truncated stream.
func TestDecompressGzipTrailingData(t *testing.T) {
	csv := []byte("id,name\n1,a\n")
	gz := gzipBytes(t, csv)
	for _, c := range []struct {
		name, tail string
		want       error
		msg        string
	}{
		{"text", "garbage", codec.ErrTrailingData, fmt.Sprintf("gzip: decompress after 12 bytes: trailing data after the gzip stream: byte %d is not the start of another gzip member (it starts 67 61 72 62 61 67 65)", len(gz))},
		{"one byte", "\x00", codec.ErrTrailingData, fmt.Sprintf("byte %d is not the start of another gzip member (it starts 00)", len(gz))},
		{"a cut-short second member", "\x1f\x8b\x08", codec.ErrTruncated, "input is truncated"},
		{"a bad second member", "\x1f\x8bxxxxxxxxxxxxxxxx", nil, "gzip: decompress after 12 bytes: invalid header"},
	} {
		for name, r := range readers(append(slicesClone(gz), c.tail...)) {
			rc, _, err := codec.Decompress(r, codec.CompressionAuto, codec.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			out, err := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(out, csv) || err == nil || c.want != nil && !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s/%s: got %q, error %v; want %q", c.name, name, out, err, c.msg)
			}
			if c.want == codec.ErrTrailingData && errors.Is(err, codec.ErrTruncated) {
				t.Errorf("%s/%s: trailing data reported as truncation: %v", c.name, name, err)
			}
		}
	}
	// Members one after the other are one stream, as gzip -d reads them.
	out, _, err := readAll(t, append(slicesClone(gz), gzipBytes(t, []byte("2,b\n"))...), codec.CompressionAuto, codec.Limits{})
	if err != nil || string(out) != "id,name\n1,a\n2,b\n" {
		t.Fatalf("two members: %q, %v", out, err)
	}
}

// repeatedPrefix reports a prefix that an error repeats: "gzip: gzip:".
func repeatedPrefix(msg string) string {
	parts := strings.Split(msg, ": ")
	for i := 1; i < len(parts); i++ {
		if parts[i] == parts[i-1] || strings.HasPrefix(parts[i], parts[i-1]+" ") && len(parts[i-1]) < 9 {
			return parts[i]
		}
	}
	return ""
}

// Each error is worded once: no "gzip: gzip:" or "jsontext: jsontext:".
func TestErrorsNamedOnce(t *testing.T) {
	csv := []byte("id,name\n1,a\n")
	gz := gzipBytes(t, csv)
	badSum := slicesClone(gz)
	badSum[len(badSum)-8] ^= 0xff
	jsonGz := gzipBytes(t, []byte(`[{"a":1},{"a":2}]`))
	var errs []error
	_, _, err := readAll(t, []byte("\x1f\x8bxxxxxxxxxxxxxxxx"), codec.CompressionAuto, codec.Limits{})
	errs = append(errs, err)
	_, _, err = readAll(t, badSum, codec.CompressionAuto, codec.Limits{})
	errs = append(errs, err)
	_, _, err = readAll(t, []byte("\x28\xb5\x2f\xfd\x00\x58\xff\xff\xff"), codec.CompressionAuto, codec.Limits{})
	errs = append(errs, err)
	rc, _, _ := codec.Decompress(bytes.NewReader(jsonGz[:len(jsonGz)-12]), codec.CompressionAuto, codec.Limits{})
	errs = append(errs, drain(t, codec.NewJSONDecoder(rc, []string{"a"}, 0)).Err)
	errs = append(errs, drain(t, codec.NewJSONDecoder(strings.NewReader(`[{"a":1},{"a":"`+big('x', 600<<10)), []string{"a"}, 16)).Err)
	for i, err := range errs {
		if err == nil {
			t.Errorf("case %d: no error", i)
			continue
		}
		if p := repeatedPrefix(err.Error()); p != "" || strings.Contains(err.Error(), "jsontext") {
			t.Errorf("case %d: %q repeats %q or quotes the tokenizer", i, err, p)
		}
	}
	if want := "gzip: invalid header"; errs[0].Error() != want {
		t.Errorf("bad header: %q, want %q", errs[0], want)
	}
	if want := "gzip: decompress after 12 bytes: invalid checksum"; errs[1].Error() != want {
		t.Errorf("bad checksum: %q, want %q", errs[1], want)
	}
}

// With RequireUTF8, UTF-16 and UTF-32 input is refused with a message that
// says what to do, compressed or not (issue 11, item 9).
func TestDecompressRequireUTF8(t *testing.T) {
	utf16 := []byte("\xff\xfei\x00d\x00\n\x001\x00\n\x00")
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"UTF-16LE", utf16, "UTF-16 is not supported; convert to UTF-8 (the input starts with a UTF-16LE byte order mark)"},
		{"UTF-16BE", []byte("\xfe\xff\x00i"), "UTF-16 is not supported; convert to UTF-8 (the input starts with a UTF-16BE byte order mark)"},
		{"UTF-32LE", []byte("\xff\xfe\x00\x00i\x00\x00\x00"), "UTF-32 is not supported; convert to UTF-8 (the input starts with a UTF-32LE byte order mark)"},
		{"UTF-32BE", []byte("\x00\x00\xfe\xff"), "UTF-32 is not supported; convert to UTF-8 (the input starts with a UTF-32BE byte order mark)"},
		{"gzip of UTF-16", gzipBytes(t, utf16), "UTF-16 is not supported; convert to UTF-8"},
		{"zstd of UTF-32", zstdBytes(t, []byte("\x00\x00\xfe\xff\x00\x00\x00i")), "UTF-32 is not supported; convert to UTF-8"},
	}
	for _, c := range cases {
		for name, r := range readers(c.in) {
			rc, _, err := codec.Decompress(r, codec.CompressionAuto, codec.Limits{RequireUTF8: true})
			if err == nil {
				_, err = io.ReadAll(rc)
				rc.Close()
			}
			var ee *codec.EncodingError
			if !errors.Is(err, codec.ErrEncoding) || !errors.As(err, &ee) || !strings.HasSuffix(err.Error(), c.want) && !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s/%s: error %v, want %q", c.name, name, err, c.want)
			}
			if err != nil && strings.ContainsRune(err.Error(), 0) {
				t.Errorf("%s/%s: error holds NUL bytes: %q", c.name, name, err)
			}
		}
	}
	// UTF-8, with or without its byte order mark, passes.
	for _, in := range []string{"\xef\xbb\xbfid\n1\n", "id\n1\n", "\xff", ""} {
		out, _, err := readAll(t, []byte(in), codec.CompressionAuto, codec.Limits{RequireUTF8: true})
		if err != nil || string(out) != in {
			t.Errorf("%q: got %q, %v", in, out, err)
		}
	}
}
