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
	// cr says lines may also end with a lone CR (old Mac line ends), as
	// well as with LF or CRLF.
	cr bool
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

// peek returns the next n bytes, or fewer at the end of the input.
func (s *scanBuf) peek(n int) []byte {
	for s.end-s.pos < n && s.fill() {
	}
	return s.buf[s.pos:min(s.end, s.pos+n)]
}

// stripBOM drops a UTF-8 byte order mark at the current position.
func (s *scanBuf) stripBOM() {
	if bytes.HasPrefix(s.peek(3), []byte{0xEF, 0xBB, 0xBF}) {
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
	if s.cr {
		return s.nextLineCR(max)
	}
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
		if line, next, res, raw, more := s.noBreak(max); !more {
			return line, next, res, raw
		}
	}
}

// skipPastNewline discards input up to and including the next line break.
// It reports whether it found one.
func (s *scanBuf) skipPastNewline() bool {
	for {
		if i := s.indexEOL(s.buf[s.pos:s.end]); i >= 0 {
			s.pos = s.pastEOL(s.pos + i)
			return true
		}
		s.pos = s.end
		if !s.fill() {
			return false
		}
	}
}

// indexEOL returns the index of the first line break in b: an LF, or with
// s.cr also a CR.
func (s *scanBuf) indexEOL(b []byte) int {
	if !s.cr {
		return bytes.IndexByte(b, '\n')
	}
	return indexCRLF(b)
}

// countEOL counts the line breaks in b: LFs, and with s.cr also CRs that
// no LF follows.
func (s *scanBuf) countEOL(b []byte) int64 {
	n := int64(bytes.Count(b, []byte{'\n'}))
	if !s.cr {
		return n
	}
	for i, c := range b {
		if c == '\r' && (i+1 == len(b) || b[i+1] != '\n') {
			n++
		}
	}
	return n
}

// indexCRLF returns the index of the first CR or LF in b, or -1.
func indexCRLF(b []byte) int {
	i := bytes.IndexByte(b, '\r')
	if i < 0 {
		return bytes.IndexByte(b, '\n')
	}
	if j := bytes.IndexByte(b[:i], '\n'); j >= 0 {
		return j
	}
	return i
}

// pastEOL returns the index in s.buf just past the line break at s.buf[i]:
// a CR followed by an LF is one line break. To tell a CR at the end of the
// data from a CRLF it reads on, which may move the data in s.buf; s.pos
// still marks the same byte after it, and the result is an index into the
// moved data.
func (s *scanBuf) pastEOL(i int) int {
	if s.buf[i] != '\r' {
		return i + 1
	}
	if i+1 == s.end {
		rel := i - s.pos
		for s.end-s.pos == rel+1 && s.fill() {
		}
		i = s.pos + rel
	}
	if i+1 < s.end && s.buf[i+1] == '\n' {
		return i + 2
	}
	return i + 1
}

// noBreak handles data that holds no line break yet: a line already over
// max is skipped and reported, the end of the input gives the last line
// or lineEOF, and otherwise more input is read and more is true.
func (s *scanBuf) noBreak(max int) (line []byte, next int, res lineResult, raw []byte, more bool) {
	if s.end-s.pos > max {
		raw = append([]byte(nil), clip(s.buf[s.pos:s.pos+max+1])...)
		s.skipPastNewline()
		return nil, s.pos, lineTooLong, raw, false
	}
	if s.fill() {
		return nil, 0, 0, nil, true
	}
	if s.pos == s.end {
		return nil, s.pos, lineEOF, nil, false
	}
	if s.eof || s.err != nil {
		return s.buf[s.pos:s.end], s.end, lineOK, nil, false
	}
	return nil, 0, 0, nil, true
}

// nextLineCR is nextLine for input whose lines may end with CR, LF or
// CRLF. The line it returns holds no line break.
func (s *scanBuf) nextLineCR(max int) (line []byte, next int, res lineResult, raw []byte) {
	for {
		if i := indexCRLF(s.buf[s.pos:s.end]); i >= 0 {
			if i > max {
				raw = append([]byte(nil), clip(s.buf[s.pos:s.pos+max+1])...)
				return nil, s.pastEOL(s.pos + i), lineTooLong, raw
			}
			next := s.pastEOL(s.pos + i)
			return s.buf[s.pos : s.pos+i], next, lineOK, nil
		}
		if line, next, res, raw, more := s.noBreak(max); !more {
			return line, next, res, raw
		}
	}
}
