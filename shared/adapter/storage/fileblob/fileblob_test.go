package fileblob_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/fileblob"
	"github.com/sluice-etl/sluice/shared/adapter/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Bucket {
		b, err := fileblob.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestOpenByURLAndNoEscape(t *testing.T) {
	dir := t.TempDir()
	b, err := storage.Open(context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.WriteAll(context.Background(), b, "a/b.txt", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a", "b.txt")); err != nil {
		t.Fatalf("object not at its path: %v", err)
	}
	if _, err := storage.ReadAll(context.Background(), b, "../"+filepath.Base(dir)+"/a/b.txt"); err == nil {
		t.Fatal("a key with .. was read")
	}
}
