//go:build unix

package fileblob_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/fileblob"
	"github.com/sluice-etl/sluice/shared/core/codec"
)

// pipe returns the /dev/fd path of a pipe's read end, with data written to
// it by a goroutine that closes it after; wait waits for that goroutine,
// which ends early if the reader goes away.
func pipe(t testing.TB, data []byte, keepOpen bool) (path string, wait func()) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Write(data)
		if !keepOpen {
			w.Close()
		}
	}()
	t.Cleanup(func() { r.Close(); w.Close() })
	return fmt.Sprintf("/dev/fd/%d", r.Fd()), func() { r.Close(); <-done }
}

func spoolDir(t testing.TB) (string, func(*fileblob.SpoolOptions)) {
	dir := t.TempDir()
	return dir, func(o *fileblob.SpoolOptions) { o.Dir = dir }
}

// A pipe is read fully and exactly once, into a bucket that reads it again
// by range and names where it came from (issue 11, item 1).
func TestSpoolPipe(t *testing.T) {
	ctx := context.Background()
	var b strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&b, "{\"id\":%d,\"name\":\"n%d\"}\n", i, i)
	}
	data := []byte(b.String())
	path, wait := pipe(t, data, false)
	dir, inDir := spoolDir(t)
	sp, err := fileblob.Spool(ctx, path, inDir)
	wait()
	if err != nil {
		t.Fatal(err)
	}
	if sp.Key != filepath.Base(path) || sp.String() != "file:///dev/fd" {
		t.Errorf("key %q in %s, want %q in file:///dev/fd", sp.Key, sp, filepath.Base(path))
	}
	a, err := sp.Attributes(ctx, sp.Key)
	if err != nil || a.Size != int64(len(data)) {
		t.Fatalf("attributes %+v, %v; want size %d", a, err, len(data))
	}
	got, err := storage.ReadAll(ctx, sp, sp.Key)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (%v), want the %d bytes written", len(got), err, len(data))
	}
	r, err := sp.NewRangeReader(ctx, sp.Key, 64<<10, 100)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(part, data[64<<10:64<<10+100]) {
		t.Fatalf("range read %q", part)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("Close left %d entries", len(left))
	}
}

// MaxBytes is enforced on the bytes read, and a failed spool leaves
// nothing behind; the endless /dev/zero stops at it.
func TestSpoolLimit(t *testing.T) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("x"), 3<<20)
	for _, c := range []struct {
		name string
		max  int64
		want error
	}{
		{"under", 3<<20 + 1, nil},
		{"exactly", 3 << 20, nil},
		{"over", 3<<20 - 1, fileblob.ErrTooLarge},
		{"no limit", 0, nil},
	} {
		path, wait := pipe(t, data, false)
		dir, inDir := spoolDir(t)
		sp, err := fileblob.Spool(ctx, path, inDir, func(o *fileblob.SpoolOptions) { o.MaxBytes = c.max })
		wait()
		if !errors.Is(err, c.want) {
			t.Fatalf("%s: error %v, want %v", c.name, err, c.want)
		}
		if err == nil {
			a, _ := sp.Attributes(ctx, sp.Key)
			if a.Size != int64(len(data)) {
				t.Errorf("%s: size %d", c.name, a.Size)
			}
			sp.Close()
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("%s: %d entries left", c.name, len(left))
		}
	}
	_, inDir := spoolDir(t)
	_, err := fileblob.Spool(ctx, "/dev/zero", inDir, func(o *fileblob.SpoolOptions) { o.MaxBytes = 1 << 20 })
	if !errors.Is(err, fileblob.ErrTooLarge) || !strings.Contains(err.Error(), "more than 1048576 bytes") {
		t.Fatalf("/dev/zero: %v", err)
	}
}

// A FIFO is spooled once its writer comes; when the context ends first,
// the open that waits for a writer is woken, and nothing is left reading
// the FIFO.
func TestSpoolFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "in.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0) // waits for the reader
		if err == nil {
			_, err = f.Write([]byte("a,b\n1,2\n"))
			f.Close()
		}
		done <- err
	}()
	_, inDir := spoolDir(t)
	sp, err := fileblob.Spool(context.Background(), fifo, inDir)
	if err != nil || <-done != nil {
		t.Fatal(err)
	}
	got, _ := storage.ReadAll(context.Background(), sp, "in.fifo")
	sp.Close()
	if string(got) != "a,b\n1,2\n" {
		t.Fatalf("read %q", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir, inDir := spoolDir(t)
	if _, err := fileblob.Spool(ctx, fifo, inDir); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if fd, err := syscall.Open(fifo, syscall.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		syscall.Close(fd)
		t.Fatal("the FIFO still has a reader")
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("%d entries left", len(left))
	}
}

// A pipe whose writer stalls is read until the context ends: the read
// that waits for data returns then.
func TestSpoolCancelWhileReading(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	_, inDir := spoolDir(t)
	go func() {
		_, err := fileblob.Spool(ctx, fmt.Sprintf("/dev/fd/%d", r.Fd()), inDir)
		res <- err
	}()
	// A write of more than a pipe holds returns once Spool has read most
	// of it: Spool is reading, and then waits for more.
	if _, err := w.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// A pipe, FIFO or device is not an object: it is refused, without waiting
// for a FIFO's writer.
func TestNotRegularRefused(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "f"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := b.Attributes(ctx, "f"); !errors.Is(err, fileblob.ErrNotRegular) {
		t.Errorf("Attributes: %v", err)
	}
	if _, err := b.NewRangeReader(ctx, "f", 0, -1); !errors.Is(err, fileblob.ErrNotRegular) || !strings.Contains(err.Error(), "fileblob.Spool") {
		t.Errorf("NewRangeReader: %v", err)
	}
	dev, _ := fileblob.New("/dev")
	if _, err := dev.Attributes(ctx, "zero"); !errors.Is(err, fileblob.ErrNotRegular) {
		t.Errorf("/dev/zero: %v", err)
	}
}

// FuzzSpool spools data through a pipe with a limit: under it, the
// bucket holds exactly the data; over it, the spool fails with
// ErrTooLarge and leaves nothing.
func FuzzSpool(f *testing.F) {
	for _, s := range []string{"", "a", "a,b\n1,2\n", strings.Repeat("z", 70<<10), "\x00\xff\r\n"} {
		f.Add([]byte(s), uint32(0))
		f.Add([]byte(s), uint32(len(s)))
		f.Add([]byte(s), uint32(max(len(s)-1, 1)))
	}
	f.Fuzz(func(t *testing.T, data []byte, limit uint32) {
		ctx := context.Background()
		path, wait := pipe(t, data, false)
		dir, inDir := spoolDir(t)
		sp, err := fileblob.Spool(ctx, path, inDir, func(o *fileblob.SpoolOptions) { o.MaxBytes = int64(limit) })
		wait()
		if limit > 0 && len(data) > int(limit) {
			if !errors.Is(err, fileblob.ErrTooLarge) {
				t.Fatalf("%d bytes, limit %d: error %v", len(data), limit, err)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Fatalf("%d entries left", len(left))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		got, err := storage.ReadAll(ctx, sp, sp.Key)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes (%v) of %d", len(got), err, len(data))
		}
	})
}

// A reader stops with the context's error once it is done, so a decoder
// looking for a line break in a huge file stops when the run is
// cancelled, within one read.
func TestReaderStopsWhenCancelled(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "zeros.csv"), make([]byte, 8<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := fileblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := b.NewRangeReader(ctx, "zeros.csv", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cr := &cancelAfter{r: r, n: 2, cancel: cancel}
	d, err := codec.NewCSVDecoder(cr, []string{"a"}, codec.CSVOptions{Columns: []string{"a"}, DetectCR: true}, codec.Range{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err = d.Next()
		if err != nil {
			break
		}
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("decoder ended with %v, want context.Canceled", err)
	}
	if cr.bytes >= 8<<20 {
		t.Fatalf("read all %d bytes", cr.bytes)
	}
}

// cancelAfter cancels after n reads.
type cancelAfter struct {
	r      io.Reader
	n      int
	bytes  int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.bytes += n
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return n, err
}
