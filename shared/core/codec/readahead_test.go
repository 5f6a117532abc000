package codec_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/sluice-etl/sluice/shared/core/codec"
)

func TestReadAheadReturnsEveryByteAndTheError(t *testing.T) {
	data := make([]byte, 1<<20+12345)
	for i := range data {
		data[i] = byte(i * 31)
	}
	for _, bs := range []int{1, 7, 4096, 1 << 20, 2 << 20} {
		ra := codec.ReadAhead(iotest.HalfReader(bytes.NewReader(data)), bs, 3)
		got, err := io.ReadAll(iotest.OneByteReader(ra))
		ra.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("block %d: %d bytes, %v", bs, len(got), err)
		}
	}
	boom := errors.New("boom")
	ra := codec.ReadAhead(io.MultiReader(bytes.NewReader(data[:5000]), iotest.ErrReader(boom)), 1024, 2)
	got, err := io.ReadAll(ra)
	ra.Close()
	if !errors.Is(err, boom) || !bytes.Equal(got, data[:5000]) {
		t.Fatalf("got %d bytes, err %v; want 5000 bytes then boom", len(got), err)
	}
	// Closing early stops the goroutine even with blocks unread.
	ra = codec.ReadAhead(bytes.NewReader(data), 1024, 2)
	if _, err := ra.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	ra.Close()
}
