package batch_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
)

// benchCSV builds n rows shaped like bench/gen's output.
func benchCSV(n int) []byte {
	var b bytes.Buffer
	r := rand.New(rand.NewPCG(1, 2))
	b.WriteString("order_id,user_id,email,amount,currency,status,country,created_at,product\n")
	for i := range n {
		at := "@"
		if r.IntN(100) == 0 {
			at = "_"
		}
		amount := fmt.Sprintf("%d.%02d", r.IntN(5000), r.IntN(100))
		if r.IntN(200) == 0 {
			amount = "n/a"
		}
		fmt.Fprintf(&b, "%d,%d,User.%d%sExample.com,%s,USD,paid,US,2026-%02d-%02dT10:11:12Z,standard widget - size large\n",
			10_000_000+i, 100_000+r.IntN(900_000), r.IntN(10000), at, amount, 1+r.IntN(12), 1+r.IntN(28))
	}
	return b.Bytes()
}

// benchSpecPath is the reference job's spec, shared with `make bench`.
const benchSpecPath = "../../../bench/spec.yaml"

// BenchmarkReferenceJob runs the reference job (see BENCHMARKS.md) through
// Extract, Transform and Load on in-memory buckets, one chunk, one core.
func BenchmarkReferenceJob(b *testing.B) {
	ctx := context.Background()
	data := benchCSV(200_000)
	p, err := plan.FromFile(benchSpecPath)
	if err != nil {
		b.Fatal(err)
	}
	in := memblob.New()
	if err := storage.WriteAll(ctx, in, "orders.csv", data); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		out := memblob.New()
		m, err := batch.Run(ctx, p, batch.RunOptions{Input: in, Key: "orders.csv", Output: out})
		if err != nil {
			b.Fatal(err)
		}
		if m.In != 200_000 {
			b.Fatalf("in = %d", m.In)
		}
	}
}
