package icebergtable_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// BenchmarkCommit is the cost of one run's commit on the local catalog:
// load the table, look for the run in its history, register one data
// file (AddFiles reads its footer), write the manifest, manifest list
// and metadata, and swap the catalog's pointer. The table grows by one
// snapshot per iteration, as a ledger does.
func BenchmarkCommit(b *testing.B) { benchCommit(b, newEnv(b)) }

// BenchmarkCommitGlue is the same commit on Glue-on-moto with an s3://
// warehouse: the files and the catalog are behind moto's HTTP API.
func BenchmarkCommitGlue(b *testing.B) { benchCommit(b, newGlueEnv(b)) }

func benchCommit(b *testing.B, e *env) {
	e.write("a.csv", csvOf(ids(1, 100), "2026-11-01"))
	m := e.mustRun("a.csv")
	tbl := e.table()
	files, prefix := tbl.Files()
	ctx := context.Background()
	src := m.Parts[0]
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		key := fmt.Sprintf("%s/at_day=2026-11-01/part-bench%04d-c00000-00000.parquet", prefix, i)
		if err := storage.CopyBetween(ctx, files, key, files, src.Key); err != nil {
			b.Fatal(err)
		}
		run := *m
		run.RunID = fmt.Sprintf("bench%011d", i)
		run.Source.Key = fmt.Sprintf("bench/%d.csv", i)
		run.Parts = []output.Part{{Key: key, Records: src.Records, Bytes: src.Bytes}}
		b.StartTimer()
		if _, err := tbl.Commit(ctx, &run); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/commit")
}
