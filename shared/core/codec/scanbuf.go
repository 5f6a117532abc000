package codec

import (
	"bytes"
	"errors"
	"io"
)

// scanBuf is a growable read buffer over an io.Reader that keeps track of
// absolute offsets, shared by the line-oriented decoders.
type scanBuf struct {
	r      io.Reader
	buf    []byte
	pos    int   // first unconsumed byte
	end    int   // end of valid data
	base   int64 // absolute offset of buf[0]
	eof    bool
	err    error // read error other than io.EOF
	maxBuf int
}

const readChunk = 256 << 10

func newScanBuf(r io.Reader, base int64, maxRecord int) scanBuf {
	size := readChunk
	return scanBuf{r: r, buf: make([]byte, size), base: base, maxBuf: maxRecord + readChunk}
}

// offset returns the absolute offset of buf[pos].
func (s *scanBuf) offset() int64 { return s.base + int64(s.pos) }

// fill reads more data, shifting unconsumed bytes to the front and growing
// the buffer (up to maxBuf) when it is full. It reports whether any new
// bytes arrived.
func (s *scanBuf) fill() bool {
	if s.eof || s.err != nil {
		return false
	}
	if s.pos > 0 {
		n := copy(s.buf, s.buf[s.pos:s.end])
		s.base += int64(s.pos)
		s.end = n
		s.pos = 0
	}
	if s.end == len(s.buf) {
		if len(s.buf) >= s.maxBuf {
			return false
		}
		nb := make([]byte, min(2*len(s.buf), s.maxBuf))
		copy(nb, s.buf[:s.end])
		s.buf = nb
	}
	for range 100 {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err != nil {
			if errors.Is(err, io.EOF) {
				s.eof = true
			} else {
				s.err = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	s.err = io.ErrNoProgress
	return false
}

// stripBOM drops a UTF-8 byte order mark at the current position.
func (s *scanBuf) stripBOM() {
	for s.end-s.pos < 3 && s.fill() {
	}
	if bytes.HasPrefix(s.buf[s.pos:s.end], []byte{0xEF, 0xBB, 0xBF}) {
		s.pos += 3
	}
}

// lineResult is what nextLine found.
type lineResult uint8

const (
	lineOK lineResult = iota
	lineEOF
	lineTooLong
)

// nextLine finds the next physical line. It returns the line without its
// terminator and leaves s.pos at its start; next is the index just past the
// terminator. A line longer than max is skipped up to its terminator and
// reported as lineTooLong, with raw holding its first bytes (copied).
func (s *scanBuf) nextLine(max int) (line []byte, next int, res lineResult, raw []byte) {
	for {
		if i := bytes.IndexByte(s.buf[s.pos:s.end], '\n'); i >= 0 {
			if i > max {
				// Keep max+1 bytes, what the other branch is sure to have,
				// so Raw does not depend on how reads split the input.
				raw = append([]byte(nil), clip(s.buf[s.pos:s.pos+max+1])...)
				return nil, s.pos + i + 1, lineTooLong, raw
			}
			return s.buf[s.pos : s.pos+i], s.pos + i + 1, lineOK, nil
		}
		if s.end-s.pos > max {
			raw = append([]byte(nil), clip(s.buf[s.pos:s.pos+max+1])...)
			s.skipPastNewline()
			return nil, s.pos, lineTooLong, raw
		}
		if s.fill() {
			continue
		}
		if s.pos == s.end {
			return nil, s.pos, lineEOF, nil
		}
		if s.eof || s.err != nil {
			return s.buf[s.pos:s.end], s.end, lineOK, nil
		}
	}
}

// skipPastNewline discards input up to and including the next line break.
// It reports whether it found one.
func (s *scanBuf) skipPastNewline() bool {
	for {
		if i := bytes.IndexByte(s.buf[s.pos:s.end], '\n'); i >= 0 {
			s.pos += i + 1
			return true
		}
		s.pos = s.end
		if !s.fill() {
			return false
		}
	}
}
