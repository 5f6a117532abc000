package codec

import (
	"io"
	"sync"
)

// ReadAhead reads r on its own goroutine, up to depth blocks of blockSize
// ahead of the caller, so decompression runs on another core while the
// caller parses. Memory is bounded by (depth+2)·blockSize. Close stops the
// goroutine; it does not close r.
func ReadAhead(r io.Reader, blockSize, depth int) io.ReadCloser {
	ra := &readAhead{full: make(chan block, depth), free: make(chan []byte, depth+2), done: make(chan struct{})}
	for range depth + 2 {
		ra.free <- make([]byte, blockSize)
	}
	ra.wg.Add(1)
	go ra.run(r)
	return ra
}

type block struct {
	buf []byte
	n   int
	err error
}

type readAhead struct {
	full chan block
	free chan []byte
	done chan struct{}
	wg   sync.WaitGroup
	cur  block
	off  int
	once sync.Once
}

func (ra *readAhead) run(r io.Reader) {
	defer ra.wg.Done()
	defer close(ra.full)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.done:
			return
		}
		n, err := io.ReadFull(r, buf)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		select {
		case ra.full <- block{buf: buf, n: n, err: err}:
		case <-ra.done:
			return
		}
		if err != nil {
			return
		}
	}
}

func (ra *readAhead) Read(p []byte) (int, error) {
	for ra.off >= ra.cur.n {
		if ra.cur.err != nil {
			return 0, ra.cur.err
		}
		if ra.cur.buf != nil {
			ra.free <- ra.cur.buf
		}
		b, ok := <-ra.full
		if !ok {
			return 0, io.EOF
		}
		ra.cur, ra.off = b, 0
	}
	n := copy(p, ra.cur.buf[ra.off:ra.cur.n])
	ra.off += n
	return n, nil
}

func (ra *readAhead) Close() error {
	ra.once.Do(func() { close(ra.done) })
	ra.wg.Wait()
	return nil
}
