package layout_test

import (
	"fmt"
	"testing"

	"github.com/sluice-etl/sluice/shared/core/layout"
)

// TestGolden pins every key sluice writes or reads: changing one is a
// change of the on-storage contract and must show up here.
func TestFileKinds(t *testing.T) {
	out := "tables/clicks"
	for key, want := range map[string][3]bool{
		"tables/clicks/hour=1/kinesis-s-1-part-00000.jsonl":     {true, false, false},
		"tables/clicks/late/kinesis-s-1.jsonl":                  {false, false, true},
		"tables/clicks/hour=1/part-compact-ab-00000.jsonl":      {false, true, false},
		"tables/clicks/hour=1/part-0123abcd-c00000-00000.jsonl": {false, false, false},
	} {
		got := [3]bool{layout.IsStreamPart(key), layout.IsCompactPart(key), layout.IsLate(out, key)}
		if got != want {
			t.Errorf("%s: stream, compact, late = %v, want %v", key, got, want)
		}
	}
}

func TestGolden(t *testing.T) {
	const run = "0123456789abcdef"
	const shard = "clicks/shardId-000000000001"
	out := layout.PipelinePrefix("tables", "orders")
	for _, tc := range []struct{ got, want string }{
		{layout.Join("", "/a/", "", "b/c", "/"), "a/b/c"},
		{layout.Dir(""), ""},
		{layout.CompactionKey(out, "ab12"), "tables/orders/_compactions/ab12.json"},
		{layout.CompactionsPrefix(out), "tables/orders/_compactions/"},
		{layout.CompactPartKey(out, "dt=2026-11-01", "ab12", ".jsonl.gz"), "tables/orders/dt=2026-11-01/part-compact-ab12-00000.jsonl.gz"},
		{layout.Dir("/a/b/"), "a/b/"},
		{out, "tables/orders"},
		{layout.LocalStagingPrefix("out"), "out/_staging"},
		{layout.LocalStagingPrefix(""), "_staging"},
		{layout.RunPrefix(layout.StagingRoot, run), "runs/0123456789abcdef"},
		{layout.JobKey(layout.StagingRoot, run), "runs/0123456789abcdef/job.json"},
		{layout.ChunksKey(layout.StagingRoot, run), "runs/0123456789abcdef/chunks.json"},
		{layout.StagedManifestKey(layout.StagingRoot, run), "runs/0123456789abcdef/manifest.json"},
		{layout.ResultKey(layout.StagingRoot, run, 7), "runs/0123456789abcdef/results/c00007.json"},
		{layout.ChunkPrefix(layout.StagingRoot, run, 7), "runs/0123456789abcdef/c00007"},
		{layout.StagedPartKey("runs/r/c00007", "dt=2026-11-01", 3, ".jsonl"), "runs/r/c00007/dt=2026-11-01/part-00003.jsonl"},
		{layout.StagedPartKey("runs/r/c00007", "", 0, ".parquet"), "runs/r/c00007/part-00000.parquet"},
		{layout.StagedRejectsKey("runs/r/c00007"), "runs/r/c00007/rejects.jsonl"},
		{layout.StagedProfileKey("runs/r/c00007"), "runs/r/c00007/profile.json"},
		{layout.StagedLateKey("p"), "p/late.jsonl"},
		{layout.PartKey(out, "dt=2026-11-01", run, 7, "runs/r/c00007/dt=2026-11-01/part-00003.jsonl"), "tables/orders/dt=2026-11-01/part-01234567-c00007-00003.jsonl"},
		{layout.PartKey("", "", run, 0, "x/part-00000.csv.gz"), "part-01234567-c00000-00000.csv.gz"},
		{layout.RejectsKey(layout.QuarantinePrefix("orders"), run, 2), "quarantine/orders/part-01234567-c00002.jsonl"},
		{layout.RejectsKey(layout.LocalRejects(""), run, 0), "rejects/part-01234567-c00000.jsonl"},
		{layout.RunManifestPrefix(out, run), "tables/orders/_runs/0123456789abcdef"},
		{layout.ManifestKey(layout.RunManifestPrefix(out, run)), "tables/orders/_runs/0123456789abcdef/_manifest.json"},
		{layout.SuccessKey(layout.RunManifestPrefix(out, run)), "tables/orders/_runs/0123456789abcdef/_SUCCESS"},
		{layout.ProfileKey(layout.RunManifestPrefix(out, run)), "tables/orders/_runs/0123456789abcdef/_profile.json"},
		{layout.ReportKey(layout.RunManifestPrefix(out, run)), "tables/orders/_runs/0123456789abcdef/_report.html"},
		{layout.ReportJSONKey(layout.RunManifestPrefix(out, run)), "tables/orders/_runs/0123456789abcdef/_report.json"},
		{layout.ProfileKey(""), "_profile.json"},
		{layout.ManifestKey(""), "_manifest.json"},
		{layout.SuccessKey(""), "_SUCCESS"},
		{layout.WindowsKey(""), "_windows.jsonl"},
		{layout.LocalSources(""), "_sources"},
		{layout.TableRejects("prefix"), "prefix/_rejects"},
		{layout.PartitionPrefix("tables/orders", "dt=2026-11-01/country=FR"), "tables/orders/dt=2026-11-01/country=FR/"},
		{layout.PartitionPrefix("tables/orders", ""), "tables/orders/"},
		{layout.PartitionPath([]layout.PartitionLevel{{Key: "dt", Value: "2026-11-01"}, {Key: "k", Value: "a/b c"}}), "dt=2026-11-01/k=a%2Fb c"},
		{layout.PartitionPath([]layout.PartitionLevel{{Key: "k", Value: layout.HiveNull}, {Key: "e", Value: ""}}), "k=__HIVE_DEFAULT_PARTITION__/e=__HIVE_DEFAULT_PARTITION__"},
		{layout.CatalogKey(""), "_catalog.db"},
		{layout.Warehouse(""), "warehouse"},
		{layout.TableLocation(layout.Warehouse(""), "default", "orders"), "warehouse/default/orders"},
		{layout.TablePartKey(layout.TableDataPrefix(layout.TableLocation(layout.Warehouse(""), "default", "orders")), "dt=2026-11-01", "0123456789abcdef", 3, "runs/x/c00003/dt=2026-11-01/part-00002.parquet"), "warehouse/default/orders/data/dt=2026-11-01/part-0123456789abcdef-c00003-00002.parquet"},
		{layout.PipelineSources("tables", "orders"), "tables/_sources/orders"},
		{layout.SourceKey(layout.PipelineSources("tables", "orders"), "input", "incoming/orders/a.csv"), "tables/_sources/orders/c95a336fbe1236771b12a966067aeb9e.json"},
		{layout.ShardKey("a/b:c"), "a-b-c"},
		{layout.StreamBatchPrefix(layout.StagingRoot, "clicks", shard, "4957", ""), "runs/stream/clicks/clicks-shardId-000000000001/4957"},
		{layout.StreamBatchPrefix(layout.StagingRoot, "clicks", shard, "4957", "n1"), "runs/stream/clicks/clicks-shardId-000000000001/4957-n1"},
		{layout.StreamRowsPrefix("p"), "p/out"},
		{layout.StreamPartKey("tables/clicks", "hour=10", shard, "4957", "p/out/hour=10/part-00000.jsonl"), "tables/clicks/hour=10/kinesis-clicks-shardId-000000000001-4957-part-00000.jsonl"},
		{layout.StreamRejectsKey("quarantine/clicks", shard, "4957"), "quarantine/clicks/kinesis-clicks-shardId-000000000001-4957.jsonl"},
		{layout.LateKey("tables/clicks", shard, "4957"), "tables/clicks/late/kinesis-clicks-shardId-000000000001-4957.jsonl"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestPartMatching(t *testing.T) {
	const run = "0123456789abcdef"
	key := layout.PartKey("o", "dt=1", run, 1, "part-00000.jsonl")
	for _, tc := range []struct {
		key       string
		run, part bool
	}{
		{key, true, true},
		{layout.PartKey("o", "", "fedcba9876543210", 1, "part-00000.jsonl"), false, true},
		{layout.ManifestKey("o"), false, false},
		{"o/part-01234567x.jsonl", false, true},
	} {
		if got := layout.IsRunPart(tc.key, run); got != tc.run {
			t.Errorf("IsRunPart(%q) = %v", tc.key, got)
		}
		if got := layout.IsPart(tc.key); got != tc.part {
			t.Errorf("IsPart(%q) = %v", tc.key, got)
		}
	}
}

func ExamplePartKey() {
	fmt.Println(layout.PartKey("tables/orders", "dt=2026-11-01", "9f86d081884c7d65", 0, "runs/9f86d081884c7d65/c00000/dt=2026-11-01/part-00000.parquet"))
	// Output: tables/orders/dt=2026-11-01/part-9f86d081-c00000-00000.parquet
}

// A table's data files are matched by the whole run id: another run whose
// id shares the first eight characters is not this run.
func TestTablePartMatching(t *testing.T) {
	const run = "0123456789abcdef"
	key := layout.TablePartKey("w/data", "d=1", run, 0, "part-00000.parquet")
	for _, tc := range []struct {
		key string
		run bool
	}{
		{key, true},
		{layout.TablePartKey("w/data", "d=1", "01234567ffffffff", 0, "part-00000.parquet"), false},
		{layout.PartKey("w/data", "d=1", run, 0, "part-00000.parquet"), false},
	} {
		if got := layout.IsTableRunPart(tc.key, run); got != tc.run {
			t.Errorf("IsTableRunPart(%q) = %v", tc.key, got)
		}
		if layout.IsRunPart(key, run) {
			t.Errorf("IsRunPart(%q) matches a table's data file", key)
		}
	}
}
