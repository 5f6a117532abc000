// Package fileblob is a storage.Bucket on a local directory. Writes go to a
// temporary file that is renamed into place on Close, so a reader never
// sees a partial object. Objects are regular files: a pipe, FIFO or device
// is refused with ErrNotRegular, because it cannot be read more than once;
// Spool copies one into a temporary bucket first. Readers stop with the
// context's error once it is done.
package fileblob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
)

func init() {
	storage.Register("file", func(_ context.Context, u *url.URL) (storage.Bucket, error) {
		p := u.Path
		if u.Host != "" && u.Host != "localhost" {
			p = filepath.Join(u.Host, p)
		}
		return New(p)
	})
}

// Bucket is a directory of objects.
type Bucket struct {
	root string
	name string // what String says, when not the root's URL (see Spool)
}

var _ storage.Bucket = (*Bucket)(nil)

// New opens dir as a bucket, creating it if needed.
func New(dir string) (*Bucket, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fileblob: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("fileblob: %w", err)
	}
	return &Bucket{root: abs}, nil
}

func (b *Bucket) String() string {
	if b.name != "" {
		return b.name
	}
	return "file://" + filepath.ToSlash(b.root)
}

// Root is the directory the bucket lives in.
func (b *Bucket) Root() string { return b.root }

func (b *Bucket) path(key string) (string, error) {
	if err := storage.CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(b.root, filepath.FromSlash(key)), nil
}

func notFound(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", key, storage.ErrNotFound)
	}
	return err
}

// ErrNotRegular is the error for an object that is not a regular file: a
// pipe, FIFO, device or socket can be read only once, and has no size.
var ErrNotRegular = errors.New("not a regular file")

// stat returns the file info of key's file, which must be a regular file.
func stat(key, p string) (fs.FileInfo, error) {
	st, err := os.Stat(p)
	switch {
	case err != nil:
		return nil, notFound(key, err)
	case st.IsDir():
		return nil, fmt.Errorf("%s: %w", key, storage.ErrNotFound)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s: %w (%s); fileblob.Spool copies a stream into a bucket", key, ErrNotRegular, st.Mode().Type())
	}
	return st, nil
}

// NewRangeReader implements storage.Bucket.
func (b *Bucket) NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	p, err := b.path(key)
	if err != nil {
		return nil, err
	}
	// Stat first: opening a FIFO would wait for a writer.
	if _, err := stat(key, p); err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notFound(key, err)
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	var r io.Reader = f
	if length >= 0 {
		r = io.LimitReader(f, length)
	}
	if ctx.Done() == nil && length < 0 {
		return f, nil
	}
	return &fileReader{ctx: ctx, r: r, f: f}, nil
}

// fileReader reads a file until its context is done: a decoder scanning a
// huge file for a line break stops when the run is cancelled.
type fileReader struct {
	ctx context.Context
	r   io.Reader
	f   *os.File
}

func (r *fileReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

func (r *fileReader) Close() error { return r.f.Close() }

type writer struct {
	f    *os.File
	dst  string
	root string
	done bool
}

func (w *writer) Write(p []byte) (int, error) { return w.f.Write(p) }

func (w *writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	if err := w.f.Close(); err != nil {
		os.Remove(w.f.Name())
		return err
	}
	return os.Rename(w.f.Name(), w.dst)
}

func (w *writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	err := os.Remove(w.f.Name())
	removeEmptyDirs(w.root, filepath.Dir(w.dst))
	return err
}

// NewWriter implements storage.Bucket.
func (b *Bucket) NewWriter(_ context.Context, key string) (storage.Writer, error) {
	p, err := b.path(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-"+filepath.Base(p)+"-*")
	if err != nil {
		return nil, err
	}
	return &writer{f: f, dst: p, root: b.root}, nil
}

// Attributes implements storage.Bucket. The ETag is derived from size and
// modification time, which changes whenever the file is rewritten.
func (b *Bucket) Attributes(_ context.Context, key string) (storage.Attributes, error) {
	p, err := b.path(key)
	if err != nil {
		return storage.Attributes{}, err
	}
	st, err := stat(key, p)
	if err != nil {
		return storage.Attributes{}, err
	}
	return attrs(key, st), nil
}

func attrs(key string, st fs.FileInfo) storage.Attributes {
	h := sha256.Sum256([]byte(strconv.FormatInt(st.Size(), 10) + "/" + strconv.FormatInt(st.ModTime().UnixNano(), 10)))
	return storage.Attributes{Key: key, Size: st.Size(), ModTime: st.ModTime(), ETag: hex.EncodeToString(h[:8])}
}

// List implements storage.Bucket.
func (b *Bucket) List(_ context.Context, prefix string) ([]storage.Attributes, error) {
	var out []storage.Attributes
	// Walk from the deepest folder the prefix names, and pass over entries
	// that vanish during the walk: another writer may be removing its own
	// objects under the same root.
	start := filepath.Join(b.root, filepath.FromSlash(prefix[:strings.LastIndexByte(prefix, '/')+1]))
	if rel, err := filepath.Rel(b.root, start); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, fmt.Errorf("list %s: %w", prefix, storage.ErrInvalidKey)
	}
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, err := filepath.Rel(b.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		st, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		out = append(out, attrs(key, st))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Copy implements storage.Bucket. It hard-links when it can.
func (b *Bucket) Copy(ctx context.Context, dst, src string) error {
	sp, err := b.path(src)
	if err != nil {
		return err
	}
	dp, err := b.path(dst)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dp), 0o755); err != nil {
		return err
	}
	tmp := dp + ".tmp-link"
	os.Remove(tmp)
	if err := os.Link(sp, tmp); err == nil {
		return os.Rename(tmp, dp)
	} else if errors.Is(err, fs.ErrNotExist) {
		return notFound(src, err)
	}
	r, err := b.NewRangeReader(ctx, src, 0, -1)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := b.NewWriter(ctx, dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// Delete implements storage.Bucket. Directories left empty are removed.
func (b *Bucket) Delete(_ context.Context, key string) error {
	p, err := b.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	removeEmptyDirs(b.root, filepath.Dir(p))
	return nil
}

// removeEmptyDirs removes dir and its parents below root while they are
// empty, as an object store has no folders of its own.
func removeEmptyDirs(root, dir string) {
	for ; dir != root && strings.HasPrefix(dir, root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
}
