package handler_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sluice-etl/sluice/shared/handler"
)

// BenchmarkTransformChunk is the transform function's handler on one
// 64 MiB chunk of the reference job's input (bench/gen, the bench/spec.yaml
// job), on in-memory buckets: reading the chunk, the plan, encoding, and
// staging the parts and rejects. It reports the chunk's MB/s. In-memory
// buckets hold whole objects, so the peak memory of a chunk is measured
// through the real bootstrap on the offline stack instead
// (BenchmarkTransformChunkOnStack in e2e).
func BenchmarkTransformChunk(b *testing.B) {
	e := newEnv(b)
	e.s.Specs["incoming/bench/"] = "s3://sluice-specs/bench.yaml"
	spec, err := os.ReadFile("../../bench/spec.yaml")
	if err != nil {
		b.Fatal(err)
	}
	put(b, e.bucket("sluice-specs"), "bench.yaml", spec)
	csv := filepath.Join(b.TempDir(), "orders.csv")
	if out, err := exec.Command("go", "run", "../../bench/gen", "-rows", "620000", "-o", csv).CombinedOutput(); err != nil {
		b.Fatalf("bench/gen: %v\n%s", err, out)
	}
	data, err := os.ReadFile(csv)
	if err != nil {
		b.Fatal(err)
	}
	put(b, e.bucket("sluice-input-bucket"), "incoming/bench/orders.csv", data)
	var planned handler.Planned
	if err := invoke(b, handler.NewExtractor(e.s, e.deps()), []byte(`{"bucket":"sluice-input-bucket","key":"incoming/bench/orders.csv"}`), &planned); err != nil {
		b.Fatal(err)
	}
	chunk := planned.Chunks[0]
	tr := handler.NewTransformer(e.s, e.deps())
	b.SetBytes(chunk.End - chunk.Start)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := tr.Handle(ctx, chunk); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(chunk.End-chunk.Start)/(1<<20), "chunk-MiB")
}
