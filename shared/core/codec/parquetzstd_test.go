package codec_test

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	pqzstd "github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

// page is n bytes shaped like a Parquet page: runs of repeated values
// among random bytes.
func page(r *rand.Rand, n int) []byte {
	b := make([]byte, 0, n)
	for len(b) < n {
		if r.IntN(2) == 0 {
			b = append(b, bytes.Repeat([]byte{byte(r.IntN(256))}, 1+r.IntN(64))...)
		} else {
			for range 1 + r.IntN(64) {
				b = append(b, byte(r.IntN(256)))
			}
		}
	}
	return b[:n]
}

// Pages compressed by the page codec are standard zstd frames: the
// library's own decoder and parquet-go's zstd codec read them back, and
// the page codec reads what parquet-go's codec writes, at every size from
// empty to past the window.
func TestPageCodecRoundTrip(t *testing.T) {
	var c codec.PageCodec
	if c.String() != "ZSTD" || c.CompressionCodec() != format.Zstd {
		t.Fatalf("codec is %s (%v), want ZSTD", c.String(), c.CompressionCodec())
	}
	plain, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	other := &pqzstd.Codec{}
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 100, 64 << 10, 256 << 10, codec.PageWindow, 3*codec.PageWindow + 7} {
		src := page(r, n)
		enc, err := c.Encode(nil, src)
		if err != nil {
			t.Fatalf("%d bytes: encode: %v", n, err)
		}
		for name, dec := range map[string]func([]byte) ([]byte, error){
			"zstd":       func(b []byte) ([]byte, error) { return plain.DecodeAll(b, nil) },
			"parquet-go": func(b []byte) ([]byte, error) { return other.Decode(nil, b) },
			"page codec": func(b []byte) ([]byte, error) { return c.Decode(nil, b) },
		} {
			got, err := dec(enc)
			if err != nil || !bytes.Equal(got, src) {
				t.Fatalf("%d bytes: %s decoder: %d bytes back, err %v", n, name, len(got), err)
			}
		}
		theirs, _ := other.Encode(nil, src)
		got, err := c.Decode(nil, theirs)
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("%d bytes from parquet-go's codec: %d bytes back, err %v", n, len(got), err)
		}
	}
}

// Encoders and decoders are reused across goroutines without mixing up
// their pages.
func TestPageCodecConcurrent(t *testing.T) {
	var c codec.PageCodec
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 9))
			var enc, dec []byte
			for range 50 {
				src := page(r, r.IntN(128<<10))
				var err error
				if enc, err = c.Encode(enc, src); err != nil {
					errs <- err.Error()
					return
				}
				if dec, err = c.Decode(dec, enc); err != nil || !bytes.Equal(dec, src) {
					errs <- "a page came back different"
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// A damaged page is an error, not a short or garbled page.
func TestPageCodecDamaged(t *testing.T) {
	var c codec.PageCodec
	src := page(rand.New(rand.NewPCG(3, 4)), 10000)
	enc, _ := c.Encode(nil, src)
	for _, bad := range [][]byte{enc[:len(enc)/2], append([]byte{1, 2, 3, 4}, enc...), []byte("not zstd")} {
		if got, err := c.Decode(nil, bad); err == nil {
			t.Fatalf("decoding %d damaged bytes gave %d bytes and no error", len(bad), len(got))
		}
	}
}

// An encoder's memory is sized to a page, not to zstd's default window:
// the heap an encoder keeps after compressing a page stays under 6 MiB
// (parquet-go's own zstd codec, at zstd's default window, keeps over 8 MiB).
func TestPageCodecEncoderMemory(t *testing.T) {
	src := page(rand.New(rand.NewPCG(5, 6)), 256<<10)
	held := func(c interface {
		Encode(dst, src []byte) ([]byte, error)
	}) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := c.Encode(nil, src); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(c)
		return after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc)
	}
	ours, theirs := held(&codec.PageCodec{}), held(&pqzstd.Codec{Level: pqzstd.SpeedFastest, Concurrency: 1})
	t.Logf("heap kept by one encoder: page codec %d KiB, parquet-go's codec %d KiB", ours>>10, theirs>>10)
	if ours >= 6<<20 {
		t.Fatalf("the page codec keeps %d KiB after one page, want under 6 MiB", ours>>10)
	}
}
