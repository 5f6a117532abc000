// Package memblob is an in-memory storage.Bucket for tests and dry runs.
// Buckets opened by URL (mem://name) are shared by name within a process.
package memblob

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
)

var (
	named   sync.Mutex
	buckets = map[string]*Bucket{}
)

func init() {
	storage.Register("mem", func(_ context.Context, u *url.URL) (storage.Bucket, error) {
		named.Lock()
		defer named.Unlock()
		b, ok := buckets[u.Host]
		if !ok {
			b = New()
			b.name = u.Host
			buckets[u.Host] = b
		}
		return b, nil
	})
}

type object struct {
	data []byte
	mod  time.Time
	etag string
}

// Bucket holds objects in memory.
type Bucket struct {
	mu   sync.RWMutex
	objs map[string]object
	name string
	now  func() time.Time
}

var _ storage.Bucket = (*Bucket)(nil)

// New returns an empty bucket.
func New() *Bucket { return &Bucket{objs: map[string]object{}, now: time.Now} }

// NewNamed returns an empty bucket whose String is mem://name.
func NewNamed(name string) *Bucket {
	b := New()
	b.name = name
	return b
}

func (b *Bucket) String() string { return "mem://" + b.name }

// NewRangeReader implements storage.Bucket.
func (b *Bucket) NewRangeReader(_ context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := storage.CheckKey(key); err != nil {
		return nil, err
	}
	b.mu.RLock()
	o, ok := b.objs[key]
	b.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, storage.ErrNotFound)
	}
	d := o.data
	if offset > int64(len(d)) {
		offset = int64(len(d))
	}
	d = d[offset:]
	if length >= 0 && length < int64(len(d)) {
		d = d[:length]
	}
	return io.NopCloser(bytes.NewReader(d)), nil
}

type writer struct {
	b    *Bucket
	key  string
	buf  bytes.Buffer
	done bool
}

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("memblob: write after close")
	}
	return w.buf.Write(p)
}

func (w *writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	sum := md5.Sum(w.buf.Bytes())
	w.b.mu.Lock()
	w.b.objs[w.key] = object{data: w.buf.Bytes(), mod: w.b.now(), etag: hex.EncodeToString(sum[:])}
	w.b.mu.Unlock()
	return nil
}

func (w *writer) Abort() error {
	w.done = true
	return nil
}

// NewWriter implements storage.Bucket.
func (b *Bucket) NewWriter(_ context.Context, key string) (storage.Writer, error) {
	if err := storage.CheckKey(key); err != nil {
		return nil, err
	}
	return &writer{b: b, key: key}, nil
}

// Attributes implements storage.Bucket.
func (b *Bucket) Attributes(_ context.Context, key string) (storage.Attributes, error) {
	if err := storage.CheckKey(key); err != nil {
		return storage.Attributes{}, err
	}
	b.mu.RLock()
	o, ok := b.objs[key]
	b.mu.RUnlock()
	if !ok {
		return storage.Attributes{}, fmt.Errorf("%s: %w", key, storage.ErrNotFound)
	}
	return storage.Attributes{Key: key, Size: int64(len(o.data)), ModTime: o.mod, ETag: o.etag}, nil
}

// List implements storage.Bucket.
func (b *Bucket) List(_ context.Context, prefix string) ([]storage.Attributes, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []storage.Attributes
	for k, o := range b.objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, storage.Attributes{Key: k, Size: int64(len(o.data)), ModTime: o.mod, ETag: o.etag})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Copy implements storage.Bucket.
func (b *Bucket) Copy(_ context.Context, dst, src string) error {
	if err := storage.CheckKey(dst); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.objs[src]
	if !ok {
		return fmt.Errorf("%s: %w", src, storage.ErrNotFound)
	}
	o.mod = b.now()
	b.objs[dst] = o
	return nil
}

// Delete implements storage.Bucket.
func (b *Bucket) Delete(_ context.Context, key string) error {
	if err := storage.CheckKey(key); err != nil {
		return err
	}
	b.mu.Lock()
	delete(b.objs, key)
	b.mu.Unlock()
	return nil
}
