// Package storagetest is the conformance suite every storage.Bucket backend
// runs, so that file://, mem:// and s3:// behave the same to the stages.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
)

// Run runs the suite. newBucket returns an empty bucket for each subtest.
func Run(t *testing.T, newBucket func(t *testing.T) storage.Bucket) {
	for _, c := range []struct {
		name string
		test func(*testing.T, func(t *testing.T) storage.Bucket)
	}{
		{"WriteReadRoundTrip", testWriteReadRoundTrip},
		{"RangeRead", testRangeRead},
		{"NotFound", testNotFound},
		{"AbortLeavesNothing", testAbortLeavesNothing},
		{"UnclosedWriteInvisible", testUnclosedWriteInvisible},
		{"OverwriteReplaces", testOverwriteReplaces},
		{"ListPrefixSorted", testListPrefixSorted},
		{"CopyDelete", testCopyDelete},
		{"InvalidKeys", testInvalidKeys},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, newBucket) })
	}
}

func testWriteReadRoundTrip(t *testing.T, newBucket func(t *testing.T) storage.Bucket) {
	ctx := context.Background()
	b := newBucket(t)
	data := bytes.Repeat([]byte("0123456789"), 100_000)
	if err := storage.WriteAll(ctx, b, "dir/sub/obj.bin", data); err != nil {
		t.Fatal(err)
	}
	got, err := storage.ReadAll(ctx, b, "dir/sub/obj.bin")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, want %d equal bytes", len(got), len(data))
	}
	a, err := b.Attributes(ctx, "dir/sub/obj.bin")
	if err != nil {
		t.Fatal(err)
	}
	if a.Size != int64(len(data)) || a.ETag == "" {
		t.Fatalf("attributes = %+v, want size %d and an etag", a, len(data))
	}
}

func testRangeRead(t *testing.T, newBucket func(t *testing.T) storage.Bucket) {
	ctx := context.Background()
	b := newBucket(t)
	if err := storage.WriteAll(ctx, b, "r", []byte("abcdefghij")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		off, n int64
		want   string
	}{{0, 3, "abc"}, {3, 4, "defg"}, {7, -1, "hij"}, {8, 100, "ij"}, {0, -1, "abcdefghij"}} {
		r, err := b.NewRangeReader(ctx, "r", c.off, c.n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("range(%d,%d) = %q, want %q", c.off, c.n, got, c.want)
		}
	}
}

func testNotFound(t *testing.T, newBucket func(t *testing.T) storage.Bucket) {
	ctx := context.Background()
	b := newBucket(t)
	if _, err := b.NewRangeReader(ctx, "missing", 0, -1); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("read missing: %v, want ErrNotFound", err)
	}
	if _, err := b.Attributes(ctx, "missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("attributes missing: %v, want ErrNotFound", err)
	}
	if err := b.Copy(ctx, "x", "missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("copy missing: %v, want ErrNotFound", err)
	}
	if err := b.Delete(ctx, "missing"); err != nil {
		t.Errorf("delete missing: %v, want nil", err)
	}
}

func testAbortLeavesNothing(t *testing.T, newBucket func(t *testing.T) storage.Bucket) {
	ctx := context.Background()
	b := newBucket(t)
	w, err := b.NewWriter(ctx, "aborted")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Attributes(ctx, "aborted"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("aborted object exists: %v", err)
	}
	list, err := b.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("list after abort = %v, want empty", list)
	}
}

func testUnclosedWriteInvisible(t *testing.T, newBucket func(t *testing.T) storage.Bucket) {
	ctx := context.Background()
	b := newBucket(t)
	w, err := b.NewWriter(ctx, "pending")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Attributes(ctx, "pending"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("object visible before Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := storage.ReadAll(ctx, b, "pending")
	if err != nil || string(got) != "data" {
		t.Errorf("after close: %q, %v", got, err)
	}
}

func testOverwriteReplaces(t *testing.T, newBucket func(t *testing.T) storage.Bucket) {
	ctx := context.Background()
	b := newBucket(t)
	for _, s := range []string{"first version", "v2"} {
		if err := storage.WriteAll(ctx, b, "k", []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := storage.ReadAll(ctx, b, "k")
	if err != nil || string(got) != "v2" {
		t.Errorf("got %q, %v; want v2", got, err)
	}
}

func testListPrefixSorted(t *testing.T, newBucket func(t *testing.T) storage.Bucket) {
	ctx := context.Background()
	b := newBucket(t)
	keys := []string{"p/b", "p/a/2", "p/a/1", "q/x", "pz"}
	for _, k := range keys {
		if err := storage.WriteAll(ctx, b, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	list, err := b.List(ctx, "p/")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range list {
		got = append(got, a.Key)
		if a.Size != int64(len(a.Key)) {
			t.Errorf("%s size %d, want %d", a.Key, a.Size, len(a.Key))
		}
	}
	if strings.Join(got, ",") != "p/a/1,p/a/2,p/b" {
		t.Errorf("list p/ = %v", got)
	}
}

func testCopyDelete(t *testing.T, newBucket func(t *testing.T) storage.Bucket) {
	ctx := context.Background()
	b := newBucket(t)
	if err := storage.WriteAll(ctx, b, "src/o", []byte("payload")); err != nil {
		t.Fatal(err)
	}
	if err := b.Copy(ctx, "dst/deep/o", "src/o"); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "src/o"); err != nil {
		t.Fatal(err)
	}
	got, err := storage.ReadAll(ctx, b, "dst/deep/o")
	if err != nil || string(got) != "payload" {
		t.Errorf("copied = %q, %v", got, err)
	}
	if _, err := b.Attributes(ctx, "src/o"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleted source still there: %v", err)
	}
}

func testInvalidKeys(t *testing.T, newBucket func(t *testing.T) storage.Bucket) {
	ctx := context.Background()
	b := newBucket(t)
	for _, k := range []string{"", "/abs", "a/../b", "..", "a//b", "a/./b", "bad\x00key", "tab\tkey"} {
		if _, err := b.NewWriter(ctx, k); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("NewWriter(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, err := b.NewRangeReader(ctx, k, 0, -1); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("NewRangeReader(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
}
