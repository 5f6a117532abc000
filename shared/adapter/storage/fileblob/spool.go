package fileblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
)

// ErrTooLarge is the error for a stream longer than SpoolOptions.MaxBytes.
var ErrTooLarge = errors.New("stream larger than the limit")

// SpoolOptions configure Spool.
type SpoolOptions struct {
	// MaxBytes is the most Spool reads; a longer stream fails with
	// ErrTooLarge (0: no limit but the disk).
	MaxBytes int64
	// Dir holds the temporary directory (default os.TempDir()).
	Dir string
}

// Spooled is a stream copied into a temporary bucket of its own. The
// bucket is named after the directory the stream was read from (file:///dev
// for /dev/stdin), so that a manifest names the source as it was given.
type Spooled struct {
	*Bucket
	// Key is the stream's object: the base name of its path.
	Key string
}

var _ storage.Bucket = (*Spooled)(nil)

// Close removes the temporary bucket.
func (s *Spooled) Close() error { return os.RemoveAll(s.root) }

// Spool copies the stream at path (stdin, a pipe, a FIFO, a device:
// anything that can be read only once) into a temporary bucket, so that it
// can be read again, and by range, like any object: read fully and exactly
// once. It stops with ctx's error once ctx is done, also while a FIFO
// waits for a writer, and leaves nothing behind on failure.
func Spool(ctx context.Context, path string, opts ...func(*SpoolOptions)) (*Spooled, error) {
	var o SpoolOptions
	for _, f := range opts {
		f(&o)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", path, err)
	}
	key := filepath.Base(abs)
	if storage.CheckKey(key) != nil {
		key = "input"
	}
	dir, err := os.MkdirTemp(o.Dir, "sluice-input-")
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", path, err)
	}
	if err := spool(ctx, abs, filepath.Join(dir, key), o.MaxBytes); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("spool %s: %w", path, err)
	}
	return &Spooled{Bucket: &Bucket{root: dir, name: "file://" + filepath.ToSlash(filepath.Dir(abs))}, Key: key}, nil
}

// spool copies the stream at src to the new file dst.
func spool(ctx context.Context, src, dst string, max int64) error {
	in, err := openStream(ctx, src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := copyStream(ctx, out, in, max); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// openStream opens path for reading. Opening a FIFO waits for a writer:
// the open runs on its own goroutine, and when ctx is done first, opening
// the FIFO for writing without blocking wakes it, so that nothing is left
// waiting on the FIFO.
func openStream(ctx context.Context, path string) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	done := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		done <- opened{f, err}
	}()
	select {
	case o := <-done:
		return o.f, o.err
	case <-ctx.Done():
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Type() != fs.ModeNamedPipe {
		go func() { // not a FIFO: the open ends on its own
			if o := <-done; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, ctx.Err()
	}
	for {
		wakeReader(path)
		select {
		case o := <-done:
			if o.f != nil {
				o.f.Close()
			}
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
			// The open had not reached the FIFO yet: wake it again.
		}
	}
}

// copyStream copies in to out, up to max bytes (0: no limit). When ctx is
// done it closes in, which ends a read that waits for data.
func copyStream(ctx context.Context, out io.Writer, in *os.File, max int64) error {
	stop := context.AfterFunc(ctx, func() { in.Close() })
	defer stop()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		k, err := in.Read(buf)
		if max > 0 && n+int64(k) > max {
			return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
		}
		if _, werr := out.Write(buf[:k]); werr != nil {
			return werr
		}
		n += int64(k)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return err
		}
	}
}
