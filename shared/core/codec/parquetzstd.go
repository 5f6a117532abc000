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
	mu   sync.Mutex
	encs []*zstd.Encoder
	decs []*zstd.Decoder
}

func (*pageZstd) String() string { return "ZSTD" }

func (*pageZstd) CompressionCodec() format.CompressionCodec { return format.Zstd }

// Encode appends the compressed src to dst[:0].
func (c *pageZstd) Encode(dst, src []byte) ([]byte, error) {
	e, err := c.encoder()
	if err != nil {
		return nil, err
	}
	out := e.EncodeAll(src, dst[:0])
	c.mu.Lock()
	c.encs = append(c.encs, e)
	c.mu.Unlock()
	return out, nil
}

// Decode appends the decompressed src to dst[:0].
func (c *pageZstd) Decode(dst, src []byte) ([]byte, error) {
	d, err := c.decoder()
	if err != nil {
		return nil, err
	}
	out, err := d.DecodeAll(src, dst[:0])
	c.mu.Lock()
	c.decs = append(c.decs, d)
	c.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("zstd page: %w", err)
	}
	return out, nil
}

func (c *pageZstd) encoder() (*zstd.Encoder, error) {
	c.mu.Lock()
	if n := len(c.encs); n > 0 {
		e := c.encs[n-1]
		c.encs = c.encs[:n-1]
		c.mu.Unlock()
		return e, nil
	}
	c.mu.Unlock()
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(pageWindow), zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false))
	if err != nil {
		return nil, fmt.Errorf("zstd page encoder: %w", err)
	}
	return e, nil
}

func (c *pageZstd) decoder() (*zstd.Decoder, error) {
	c.mu.Lock()
	if n := len(c.decs); n > 0 {
		d := c.decs[n-1]
		c.decs = c.decs[:n-1]
		c.mu.Unlock()
		return d, nil
	}
	c.mu.Unlock()
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, fmt.Errorf("zstd page decoder: %w", err)
	}
	return d, nil
}
