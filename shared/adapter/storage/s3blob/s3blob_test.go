package s3blob_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-etl/sluice/internal/motoserver"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/s3blob"
	"github.com/sluice-etl/sluice/shared/adapter/storage/storagetest"
)

var (
	moto    *motoserver.Server
	motoErr error
	client  *s3.Client
	seq     atomic.Int64
)

func TestMain(m *testing.M) {
	moto, motoErr = motoserver.Start(context.Background())
	if motoErr == nil {
		moto.Setenv()
		client, motoErr = s3blob.NewClient(context.Background(), "us-east-1", "")
	}
	code := m.Run()
	moto.Stop()
	os.Exit(code)
}

func needMoto(t *testing.T) {
	t.Helper()
	motoserver.Need(t, motoErr)
}

func newBucket(t *testing.T) storage.Bucket {
	needMoto(t)
	name := fmt.Sprintf("conformance-%d", seq.Add(1))
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	// Small parts so the conformance objects go through multipart upload.
	return s3blob.New(client, name, func(o *s3blob.Options) { o.PartSize = 5 << 20 })
}

func TestConformanceOnMoto(t *testing.T) {
	storagetest.Run(t, newBucket)
}

func TestMultipartAndOpenByURL(t *testing.T) {
	b := newBucket(t)
	ctx := context.Background()
	data := make([]byte, 12<<20+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := storage.WriteAll(ctx, b, "big/object.bin", data); err != nil {
		t.Fatal(err)
	}
	u, err := storage.Open(ctx, b.String())
	if err != nil {
		t.Fatal(err)
	}
	a, err := u.Attributes(ctx, "big/object.bin")
	if err != nil {
		t.Fatal(err)
	}
	if a.Size != int64(len(data)) {
		t.Fatalf("size %d, want %d", a.Size, len(data))
	}
	got, err := storage.ReadAll(ctx, u, "big/object.bin")
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		if got[i] != data[i] {
			t.Fatalf("byte %d differs", i)
		}
	}
	if _, err := storage.ReadAll(ctx, u, "big/missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}
