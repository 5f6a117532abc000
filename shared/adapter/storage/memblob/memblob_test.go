package memblob_test

import (
	"context"
	"testing"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/adapter/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Bucket { return memblob.New() })
}

func TestOpenByURLSharesByName(t *testing.T) {
	ctx := context.Background()
	a, err := storage.Open(ctx, "mem://shared-name")
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.WriteAll(ctx, a, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	b, err := storage.Open(ctx, "mem://shared-name")
	if err != nil {
		t.Fatal(err)
	}
	got, err := storage.ReadAll(ctx, b, "k")
	if err != nil || string(got) != "v" {
		t.Fatalf("second open read %q, %v", got, err)
	}
}
