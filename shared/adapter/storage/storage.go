// Package storage is sluice's portable object store: a small Bucket
// interface, backends chosen by URL (file://, mem://, and s3:// where the
// s3blob package is linked in), and the errors they share.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/sluice-etl/sluice/shared/core/layout"
)

// Errors shared by every backend.
var (
	ErrNotFound   = errors.New("object not found")
	ErrInvalidKey = errors.New("invalid object key")
)

// Attributes describe a stored object.
type Attributes struct {
	Key     string
	Size    int64
	ETag    string
	ModTime time.Time
}

// Writer writes one object. Close commits it atomically: readers see the
// old object or the whole new one, never a part. Abort discards it.
type Writer interface {
	io.Writer
	Close() error
	Abort() error
}

// Bucket is a flat namespace of objects named by slash-separated keys.
type Bucket interface {
	// NewRangeReader reads length bytes from offset; length < 0 reads to
	// the end. A missing object gives an error wrapping ErrNotFound.
	NewRangeReader(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// NewWriter starts writing key.
	NewWriter(ctx context.Context, key string) (Writer, error)
	// Attributes returns the object's size and version tag.
	Attributes(ctx context.Context, key string) (Attributes, error)
	// List returns the objects whose keys start with prefix, in key order.
	List(ctx context.Context, prefix string) ([]Attributes, error)
	// Copy copies src to dst within the bucket.
	Copy(ctx context.Context, dst, src string) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// String names the bucket as a URL.
	String() string
}

// NewReader reads a whole object.
func NewReader(ctx context.Context, b Bucket, key string) (io.ReadCloser, error) {
	return b.NewRangeReader(ctx, key, 0, -1)
}

// WriteAll writes data to key in one go.
func WriteAll(ctx context.Context, b Bucket, key string, data []byte) error {
	w, err := b.NewWriter(ctx, key)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		_ = w.Abort()
		return fmt.Errorf("write %s: %w", key, err)
	}
	return w.Close()
}

// ReadAll reads a whole object.
func ReadAll(ctx context.Context, b Bucket, key string) ([]byte, error) {
	r, err := NewReader(ctx, b, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// CheckKey refuses keys that are empty, absolute, hold "." or ".."
// segments or empty segments, or contain control characters.
func CheckKey(key string) error {
	if key == "" || len(key) > 1024 {
		return fmt.Errorf("%w: %q: empty or over 1024 bytes", ErrInvalidKey, key)
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("%w: %q: absolute", ErrInvalidKey, key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q: empty, . or .. segment", ErrInvalidKey, key)
		}
	}
	for _, r := range key {
		if unicode.IsControl(r) || r == '\\' {
			return fmt.Errorf("%w: %q: control character or backslash", ErrInvalidKey, key)
		}
	}
	return nil
}

// Join joins key parts with slashes, skipping empty parts.
func Join(parts ...string) string { return layout.Join(parts...) }

// Opener opens a bucket from a URL of its scheme.
type Opener func(ctx context.Context, u *url.URL) (Bucket, error)

var (
	mu      sync.RWMutex
	openers = map[string]Opener{}
)

// Register makes a scheme available to Open. Backends call it from init.
func Register(scheme string, o Opener) {
	mu.Lock()
	defer mu.Unlock()
	openers[scheme] = o
}

// Open opens a bucket by URL: file:///dir, mem://name, s3://bucket. A bare
// path is a file:// URL.
func Open(ctx context.Context, rawURL string) (Bucket, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || len(u.Scheme) == 1 {
		u = &url.URL{Scheme: "file", Path: rawURL}
	}
	mu.RLock()
	o, ok := openers[u.Scheme]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("open %s: no storage backend for scheme %q", rawURL, u.Scheme)
	}
	b, err := o(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", rawURL, err)
	}
	return b, nil
}

// CopyBetween copies srcKey in src to dstKey in dst: a server-side copy
// when both are the same bucket, a streamed copy otherwise.
func CopyBetween(ctx context.Context, dst Bucket, dstKey string, src Bucket, srcKey string) error {
	if dst == src {
		return dst.Copy(ctx, dstKey, srcKey)
	}
	r, err := NewReader(ctx, src, srcKey)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := dst.NewWriter(ctx, dstKey)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		_ = w.Abort()
		return fmt.Errorf("copy %s to %s: %w", srcKey, dstKey, err)
	}
	return w.Close()
}
