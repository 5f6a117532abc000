package handler

import (
	"context"
	"sync"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/s3blob"
)

// S3Opener opens S3 buckets through one client, reusing Bucket values
// across invocations of a warm container.
func S3Opener(api s3blob.API) Opener {
	var mu sync.Mutex
	buckets := map[string]storage.Bucket{}
	return func(_ context.Context, name string) (storage.Bucket, error) {
		mu.Lock()
		defer mu.Unlock()
		b, ok := buckets[name]
		if !ok {
			b = s3blob.New(api, name)
			buckets[name] = b
		}
		return b, nil
	}
}
