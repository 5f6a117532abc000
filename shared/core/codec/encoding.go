package codec

import (
	"bytes"
	"fmt"
)

// foreignBOMs are the byte order marks of the encodings the decoders
// refuse, longest first: FF FE 00 00 is UTF-32LE, not UTF-16LE followed by
// a NUL.
var foreignBOMs = []struct {
	bom      []byte
	encoding string
}{
	{[]byte{0xFF, 0xFE, 0x00, 0x00}, "UTF-32LE"},
	{[]byte{0x00, 0x00, 0xFE, 0xFF}, "UTF-32BE"},
	{[]byte{0xFF, 0xFE}, "UTF-16LE"},
	{[]byte{0xFE, 0xFF}, "UTF-16BE"},
}

// EncodingError says the input is in a text encoding the decoders do not
// read. It wraps ErrEncoding.
type EncodingError struct {
	// Encoding names the byte order mark found: UTF-16LE, UTF-16BE,
	// UTF-32LE or UTF-32BE.
	Encoding string
}

func (e *EncodingError) Error() string {
	return fmt.Sprintf("%s is not supported; convert to UTF-8 (the input starts with a %s byte order mark)", e.Encoding[:6], e.Encoding)
}

func (e *EncodingError) Unwrap() error { return ErrEncoding }

// checkEncoding refuses input that starts with a UTF-16 or UTF-32 byte
// order mark. head is the input's first four bytes, or all of a shorter
// input.
func checkEncoding(head []byte) error {
	for _, b := range foreignBOMs {
		if bytes.HasPrefix(head, b.bom) {
			return &EncodingError{Encoding: b.encoding}
		}
	}
	return nil
}
