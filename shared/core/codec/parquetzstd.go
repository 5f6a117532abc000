package codec

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// pageWindow is the zstd window of Parquet page compression. A page is
// compressed on its own and is at most a few hundred KiB (the writer's
// page buffer), so a larger window finds no more matches. An encoder's
// history buffer follows the window: at zstd's default window of 8 MiB it
// is over 8 MiB for each encoder (TestPageCodecEncoderMemory), which was
// most of a Parquet run's heap.
const pageWindow = 1 << 20

// pageZstd is the zstd codec of Parquet pages: each page one zstd frame
// at the fastest level, with a window sized to a page, its encoders and
// decoders kept for reuse, one for each page being compressed at once.
type pageZstd struct {
	encs freeList[*zstd.Encoder]
	decs freeList[*zstd.Decoder]
}

func (*pageZstd) String() string { return "ZSTD" }

func (*pageZstd) CompressionCodec() format.CompressionCodec { return format.Zstd }

// Encode appends the compressed src to dst[:0].
func (c *pageZstd) Encode(dst, src []byte) ([]byte, error) {
	e, err := c.encs.get(newPageEncoder)
	if err != nil {
		return nil, err
	}
	out := e.EncodeAll(src, dst[:0])
	c.encs.put(e)
	return out, nil
}

// Decode appends the decompressed src to dst[:0].
func (c *pageZstd) Decode(dst, src []byte) ([]byte, error) {
	d, err := c.decs.get(newPageDecoder)
	if err != nil {
		return nil, err
	}
	out, err := d.DecodeAll(src, dst[:0])
	c.decs.put(d)
	if err != nil {
		return nil, fmt.Errorf("zstd page: %w", err)
	}
	return out, nil
}

func newPageEncoder() (*zstd.Encoder, error) {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(pageWindow), zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false))
	if err != nil {
		return nil, fmt.Errorf("zstd page encoder: %w", err)
	}
	return e, nil
}

func newPageDecoder() (*zstd.Decoder, error) {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, fmt.Errorf("zstd page decoder: %w", err)
	}
	return d, nil
}

// freeList keeps values for reuse: as many as were in use at once, and
// never dropped, unlike a sync.Pool's at each collection (a zstd
// encoder's tables are costly to make).
type freeList[T any] struct {
	mu   sync.Mutex
	free []T
}

// get takes a kept value, or makes one.
func (l *freeList[T]) get(newT func() (T, error)) (T, error) {
	l.mu.Lock()
	if n := len(l.free); n > 0 {
		v := l.free[n-1]
		l.free = l.free[:n-1]
		l.mu.Unlock()
		return v, nil
	}
	l.mu.Unlock()
	return newT()
}

// put keeps v for the next get.
func (l *freeList[T]) put(v T) {
	l.mu.Lock()
	l.free = append(l.free, v)
	l.mu.Unlock()
}
