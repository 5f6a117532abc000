// Package codec holds sluice's streaming decoders (CSV, JSON Lines, JSON),
// encoders (JSON Lines, CSV, Parquet) and decompression with size and ratio
// limits. Everything here reads an io.Reader or writes an io.Writer one record
// at a time, so memory does not grow with the size of the object.
package codec

import (
	"errors"
	"fmt"
)

// RawKind says how a raw field was written in the source.
type RawKind uint8

// Raw field kinds.
const (
	RawMissing RawKind = iota // the column or key was absent
	RawString                 // text (every CSV field; JSON strings)
	RawNumber                 // a JSON number
	RawBool                   // a JSON true or false
	RawNull                   // a JSON null
	RawJSON                   // a JSON object or array, kept as its text
)

// RawField is one undecoded field.
type RawField struct {
	Kind  RawKind
	Bytes []byte
}

// RawRecord is one record as a decoder produced it. Its slices are valid
// until the decoder's next call.
type RawRecord struct {
	// Fields holds one entry per requested column, in request order.
	Fields []RawField
	// Offset is the byte offset of the record in the decompressed stream.
	Offset int64
	// Line is the 1-based line, relative to the start of the chunk, on
	// which the record starts; 0 when the format has no lines (JSON array).
	Line int64
	// Index is the 1-based record number within the chunk.
	Index int64
	// Raw is the record's source text (possibly cut short), for quarantine.
	Raw []byte
	// Err, when set, says why the record could not be decoded; the record
	// goes to quarantine and decoding goes on.
	Err error
}

// Decoder reads records one at a time.
type Decoder interface {
	// Next returns the next record, or io.EOF at the end of the input or
	// chunk. Any other error is fatal to the stream.
	Next() (*RawRecord, error)
	// End is the offset of the first byte the decoder did not consume as
	// part of a record: the true end of the chunk once Next returned io.EOF.
	End() int64
	// Lines is the number of line breaks consumed so far.
	Lines() int64
}

// Record-level decode errors. A RawRecord.Err wraps one of these.
var (
	ErrColumnCount    = errors.New("wrong number of columns")
	ErrQuote          = errors.New("bad quoting")
	ErrRecordTooLarge = errors.New("record exceeds max_record_bytes")
	ErrInvalidJSON    = errors.New("invalid JSON")
	ErrNotObject      = errors.New("not a JSON object")
)

// Stream-level errors: the input cannot be read any further.
var (
	ErrTruncated         = errors.New("input is truncated")
	ErrDecompressionBomb = errors.New("decompression ratio over the limit")
	ErrTooLarge          = errors.New("decompressed size over the limit")
	ErrHeader            = errors.New("bad header")
	// ErrEncoding: the input is in a text encoding other than UTF-8 (it
	// starts with a UTF-16 or UTF-32 byte order mark).
	ErrEncoding = errors.New("unsupported text encoding")
	// ErrNestedCompression: the decompressed data is compressed again.
	ErrNestedCompression = errors.New("nested compression")
	// ErrTrailingData: bytes that are not gzip follow a gzip stream.
	ErrTrailingData = errors.New("trailing data after the gzip stream")
	// ErrZstdWindow: a zstd frame needs a window over Limits.MaxZstdWindow.
	ErrZstdWindow = errors.New("window over limits.max_zstd_window")
)

// RecordError is a record-level decode failure with its reason.
type RecordError struct {
	Err    error
	Detail string
}

func (e *RecordError) Error() string {
	if e.Detail == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + ": " + e.Detail
}

func (e *RecordError) Unwrap() error { return e.Err }

func recErr(err error, format string, args ...any) error {
	return &RecordError{Err: err, Detail: fmt.Sprintf(format, args...)}
}

// DefaultMaxRecordBytes is the record size limit when a spec sets none.
const DefaultMaxRecordBytes = 1 << 20

// maxRawKept bounds how much of a bad record's text is kept for quarantine.
const maxRawKept = 4096

func clip(b []byte) []byte {
	if len(b) > maxRawKept {
		return b[:maxRawKept]
	}
	return b
}
