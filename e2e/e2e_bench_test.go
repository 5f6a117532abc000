package e2e

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// reportLine matches the transform function's REPORT lines.
var reportLine = regexp.MustCompile(`\[sluice-transform-function\] REPORT RequestId: \S+\tDuration: ([0-9.]+) ms\tMemory Size: \d+ MB\tMax Memory Used: (\d+) MB`)

// BenchmarkTransformChunkOnStack runs one 64 MiB upload of the reference
// job's input (bench/gen, bench/spec.yaml) through the real state machine
// on the offline stack, one chunk, and reports the transform function's
// duration and peak memory from its REPORT line, and the upload's time
// from PutObject to the execution's end. Against BenchmarkTransformChunk
// (the same handler on in-memory buckets, in shared/handler), the
// difference is moto's S3.
func BenchmarkTransformChunkOnStack(b *testing.B) {
	needStack(b)
	spec, err := os.ReadFile("../bench/spec.yaml")
	if err != nil {
		b.Fatal(err)
	}
	csv := filepath.Join(b.TempDir(), "orders.csv")
	if out, err := exec.Command("go", "run", "../bench/gen", "-rows", "600000", "-o", csv).CombinedOutput(); err != nil {
		b.Fatalf("bench/gen: %v\n%s", err, out)
	}
	data, err := os.ReadFile(csv)
	if err != nil {
		b.Fatal(err)
	}
	params := maps.Clone(stackParams)
	params["ChunkBytes"] = "64MiB"
	params["Specs"] = strings.Replace(params["Specs"], `{`, `{"incoming/bench/":"s3://sluice-input-bucket/specs/bench.yaml",`, 1)
	redeploy(b, params)
	b.Cleanup(func() { redeploy(b, stackParams) })
	put(b, "specs/bench.yaml", spec)
	b.SetBytes(int64(len(data)))
	var durations, peaks []float64
	for i := 0; b.Loop(); i++ {
		before := seen(b)
		put(b, "incoming/bench/orders-"+strconv.Itoa(i)+".csv", data)
		execs := finished(b, before, 1)
		if execs[0].Status != sfntypes.ExecutionStatusSucceeded {
			b.Fatalf("execution %s (%s)", execs[0].Status, failureCause(b, execs[0].ExecutionArn))
		}
		m := reportLine.FindAllStringSubmatch(logs.String(), -1)
		if len(m) == 0 {
			b.Fatal("no REPORT line of the transform function")
		}
		d, _ := strconv.ParseFloat(m[len(m)-1][1], 64)
		p, _ := strconv.ParseFloat(m[len(m)-1][2], 64)
		durations, peaks = append(durations, d), append(peaks, p)
	}
	b.ReportMetric(mean(durations), "transform-ms")
	b.ReportMetric(mean(peaks), "transform-peak-MB")
	b.ReportMetric(float64(len(data))/(1<<20), "upload-MiB")
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(max(len(xs), 1))
}
