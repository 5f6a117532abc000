package compact_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-etl/sluice/internal/lakeread"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/fileblob"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/window"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/compact"
	"github.com/sluice-etl/sluice/shared/pipeline/stream"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

const shard = "clicks/shardId-000000000000"

// clicksPlan is a stream spec with the given sink, partitioned by hour.
func clicksPlan(t testing.TB, sink string) *plan.Plan {
	t.Helper()
	p, err := plan.FromBytes("clicks.yaml", []byte(`
name: clicks
source: {format: jsonl}
fields:
  - {name: event_id, required: true}
  - {name: note}
  - {name: at, type: timestamp, required: true}
  - {name: amount_cents, type: int}
derive:
  - {name: hour, expr: 'at.Format("2006-01-02T15")', type: string}
sink: `+sink+`
`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// streamOut runs n clicks through the stream path in batches of per,
// three hours of them, into out (a folder) and returns the sum of their
// amounts.
func streamOut(t testing.TB, b storage.Bucket, p *plan.Plan, n, per int) int64 {
	t.Helper()
	return streamOutEach(t, b, p, n, per, nil)
}

// streamOutEach is streamOut with a call after each batch.
func streamOutEach(t testing.TB, b storage.Bucket, p *plan.Plan, n, per int, after func(batch int)) int64 {
	t.Helper()
	pl, err := stream.New(stream.Config{Plan: p, Staging: memblob.New(), Out: b, StagingPrefix: "staging", OutPrefix: "out",
		Store: &window.MemStore{}, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for first := 0; first < n; first += per {
		msgs := make([]stream.Message, 0, per)
		for i := first; i < min(first+per, n); i++ {
			at := t0.Add(time.Duration(i) * 3 * time.Hour / time.Duration(n))
			// A note with a comma, a quote and a line end: csv records
			// that span lines.
			data := fmt.Sprintf(`{"event_id":"e%06d","note":"a, \"b\"\nc","at":%q,"amount_cents":%d}`, i, at.Format(time.RFC3339), i%1000)
			msgs = append(msgs, stream.Message{Shard: shard, Seq: fmt.Sprintf("%020d", i+1), Data: []byte(data)})
			sum += int64(i % 1000)
		}
		if _, err := pl.Apply(context.Background(), shard, msgs); err != nil {
			t.Fatal(err)
		}
		if after != nil {
			after(first / per)
		}
	}
	return sum
}

// partitions counts data files per partition folder under dir/out/clicks.
func partitions(t testing.TB, dir string) (map[string]int, []string) {
	t.Helper()
	counts := map[string]int{}
	var files []string
	root := filepath.Join(dir, "out", "clicks")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() && (strings.HasPrefix(d.Name(), "_") || d.Name() == "late") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasPrefix(rel, "hour=") {
			counts[filepath.Dir(rel)]++
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return counts, files
}

// The measure: 100,000 records through the stream path in
// batches of 100 leave a thousand files; compaction leaves one per
// partition, and DuckDB reads the same rows before and after, for each
// plain format.
func TestCompactionOfStreamOutput(t *testing.T) {
	for _, tc := range []struct{ sink, duck string }{
		{"{format: jsonl, compression: gzip, partition_by: [{key: hour, field: hour}]}", "json"},
		{"{format: csv, partition_by: [{key: hour, field: hour}]}", "csv"},
		{"{format: parquet, partition_by: [{key: hour, field: hour}]}", "parquet"},
	} {
		t.Run(tc.duck, func(t *testing.T) {
			dir := t.TempDir()
			b, err := fileblob.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			n := 100_000
			if testing.Short() {
				n = 10_000
			}
			sum := streamOut(t, b, clicksPlan(t, tc.sink), n, 100)
			before, _ := partitions(t, dir)
			// One glob: a thousand paths would not fit on node's command line.
			glob := []string{filepath.Join(dir, "out", "clicks", "hour=*", "*")}
			got := lakeread.ReadFiles(t, tc.duck, glob, "amount_cents")
			if got.Count != int64(n) || got.Sum != fmt.Sprint(sum) {
				t.Fatalf("before: DuckDB read %d rows summing to %s, want %d and %d", got.Count, got.Sum, n, sum)
			}
			rep, err := compact.Plain(context.Background(), b, layout.PipelinePrefix("out", "clicks"))
			if err != nil {
				t.Fatal(err)
			}
			after, files := partitions(t, dir)
			if len(after) != 3 || len(before) != 3 {
				t.Fatalf("partitions before %v, after %v", before, after)
			}
			for part, n := range after {
				if n != 1 {
					t.Errorf("%s: %d files after compaction, want 1 (before: %d)", part, n, before[part])
				}
			}
			total := 0
			for _, n := range before {
				total += n
			}
			if rep.FilesBefore != total || rep.FilesAfter != 3 || rep.Merged != total || rep.Rows != int64(n) || rep.Merges != 3 {
				t.Errorf("report %+v; %d files before", rep, total)
			}
			got = lakeread.ReadFiles(t, tc.duck, glob, "amount_cents")
			if got.Count != int64(n) || got.Sum != fmt.Sprint(sum) {
				t.Fatalf("after: DuckDB read %d rows summing to %s, want %d and %d", got.Count, got.Sum, n, sum)
			}
			t.Logf("%s: %d files in %d partitions before, %d after", tc.duck, total, len(before), len(files))
			// Run again: nothing left to merge.
			again, err := compact.Plain(context.Background(), b, layout.PipelinePrefix("out", "clicks"))
			if err != nil || again.Merges != 0 || again.FilesAfter != 3 {
				t.Fatalf("second compaction: %+v, %v", again, err)
			}
		})
	}
}

// faulty fails the nth mutating call (write or delete) and every one
// after it: a compaction killed there.
type faulty struct {
	storage.Bucket
	calls, n int
}

var errKilled = errors.New("killed")

func (f *faulty) hit() error {
	f.calls++
	if f.n > 0 && f.calls >= f.n {
		return errKilled
	}
	return nil
}

func (f *faulty) NewWriter(ctx context.Context, key string) (storage.Writer, error) {
	if err := f.hit(); err != nil {
		return nil, err
	}
	return f.Bucket.NewWriter(ctx, key)
}

func (f *faulty) Delete(ctx context.Context, key string) error {
	if err := f.hit(); err != nil {
		return err
	}
	return f.Bucket.Delete(ctx, key)
}

// A compaction killed at every one of its writes and deletes in turn,
// then run again, ends with every row exactly once.
func TestCompactionKilledAtEachStep(t *testing.T) {
	ctx := context.Background()
	p := clicksPlan(t, "{format: jsonl, partition_by: [{key: hour, field: hour}]}")
	for n := 1; ; n++ {
		src := memblob.New()
		sum := streamOut(t, src, p, 300, 50)
		f := &faulty{Bucket: src, n: n}
		_, err := compact.Plain(ctx, f, "out/clicks")
		if err == nil {
			if n == 1 {
				t.Fatal("the compaction made no write")
			}
			t.Logf("killed at each of %d steps", n-1)
			return
		}
		if !errors.Is(err, errKilled) {
			t.Fatalf("kill %d: %v", n, err)
		}
		rep, err := compact.Plain(ctx, src, "out/clicks")
		if err != nil {
			t.Fatalf("rerun after kill %d: %v", n, err)
		}
		rows, got := readJSONL(t, src)
		if rows != 300 || got != sum || rep.FilesAfter != 3 {
			t.Fatalf("after kill %d and a rerun: %d rows summing to %d, %d files; want 300, %d, 3", n, rows, got, rep.FilesAfter, sum)
		}
	}
}

// readJSONL counts the rows under out/clicks and sums their amounts.
func readJSONL(t *testing.T, b storage.Bucket) (int, int64) {
	t.Helper()
	objs, err := b.List(context.Background(), "out/clicks/hour=")
	if err != nil {
		t.Fatal(err)
	}
	rows, sum := 0, int64(0)
	for _, o := range objs {
		data, _ := storage.ReadAll(context.Background(), b, o.Key)
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var v int64
			if i := strings.Index(l, `"amount_cents":`); i >= 0 {
				fmt.Sscan(l[i+len(`"amount_cents":`):], &v)
			}
			rows++
			sum += v
		}
	}
	return rows, sum
}

// ordersPlan is the orders example with small files: two rows a file.
func ordersPlan(t *testing.T) *plan.Plan {
	t.Helper()
	src, err := os.ReadFile("../../../examples/orders/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.FromBytes("orders.yaml", []byte(strings.Replace(string(src), "max_rows_per_file: 100000", "max_rows_per_file: 2", 1)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runOrders runs one version of an orders file into out.
func runOrders(t *testing.T, p *plan.Plan, in, out storage.Bucket, key string, data []byte) {
	t.Helper()
	if err := storage.WriteAll(context.Background(), in, key, data); err != nil {
		t.Fatal(err)
	}
	if _, err := batch.Run(context.Background(), p, batch.RunOptions{Input: in, Key: key, Output: out, OutPrefix: "out"}); err != nil {
		t.Fatal(err)
	}
}

// A batch run's files are merged with that run's only, and its source
// index entry names the merged file: a new version of the source,
// uploaded after the compaction, still replaces exactly its rows.
func TestCompactionKeepsARunReplaceable(t *testing.T) {
	ctx := context.Background()
	p := ordersPlan(t)
	data, err := os.ReadFile("../../../examples/orders/orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	in, out := memblob.New(), memblob.New()
	runOrders(t, p, in, out, "a.csv", data)
	runOrders(t, p, in, out, "b.csv", data)
	want := groupsOf(t, out)
	objs, _ := out.List(ctx, "out/dt=")
	before := len(objs)
	rows, sum := readOrders(t, out)
	if rows != 20 {
		t.Fatalf("%d rows before compaction", rows)
	}
	rep, err := compact.Plain(ctx, out, "out", func(o *compact.Options) { o.SourcesPrefix = layout.LocalSources("out") })
	if err != nil {
		t.Fatal(err)
	}
	// Two rows a file: each run's files of one day become one file.
	if rep.FilesBefore != before || rep.FilesAfter != want || rep.Merged-rep.Merges != before-want {
		t.Fatalf("report %+v, want %d files after", rep, want)
	}
	if r, s := readOrders(t, out); r != rows || s != sum {
		t.Fatalf("after compaction %d rows summing to %d, want %d, %d", r, s, rows, sum)
	}
	// b.csv corrected: order 1001 withdrawn. Its rows, merged or not,
	// are replaced; a.csv's stay.
	fixed := []byte(strings.Replace(string(data), "1001,501,alice@example.com,19.99,USD,paid,US,2026-11-01T09:15:00Z,\n", "", 1))
	runOrders(t, p, in, out, "b.csv", fixed)
	if r, s := readOrders(t, out); r != 19 || s != sum-1999 {
		t.Fatalf("after b.csv's new version %d rows summing to %d, want 19, %d", r, s, sum-1999)
	}
}

// readOrders counts the orders under out and sums their amount_cents.
func readOrders(t *testing.T, b storage.Bucket) (int, int64) {
	t.Helper()
	objs, err := b.List(context.Background(), "out/dt=")
	if err != nil {
		t.Fatal(err)
	}
	rows, sum := 0, int64(0)
	for _, o := range objs {
		data, _ := storage.ReadAll(context.Background(), b, o.Key)
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var v int64
			if i := strings.Index(l, `"amount_cents":`); i >= 0 {
				fmt.Sscan(l[i+len(`"amount_cents":`):], &v)
			}
			rows++
			sum += v
		}
	}
	return rows, sum
}

// groupsOf counts the (day, run) pairs of the parts under out: the files
// a compaction leaves.
func groupsOf(t *testing.T, b storage.Bucket) int {
	t.Helper()
	objs, err := b.List(context.Background(), "out/dt=")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, o := range objs {
		base := filepath.Base(o.Key)
		seen[filepath.Dir(o.Key)+"|"+base[:len("part-01234567")]] = true
	}
	return len(seen)
}

// Compaction between the stream path's batches, as the schedule runs it
// while a shard keeps publishing: every record ends up exactly once, and
// the stream never stalls on a file a compaction merged away (its next
// batch republishes the last one's moves first).
func TestCompactionBetweenTheStreamsBatches(t *testing.T) {
	ctx := context.Background()
	b := memblob.New()
	p := clicksPlan(t, "{format: jsonl, partition_by: [{key: hour, field: hour}]}")
	merges := 0
	sum := streamOutEach(t, b, p, 3000, 20, func(batch int) {
		if batch%10 != 9 {
			return
		}
		rep, err := compact.Plain(ctx, b, "out/clicks")
		if err != nil {
			t.Fatal(err)
		}
		merges += rep.Merges
	})
	if _, err := compact.Plain(ctx, b, "out/clicks"); err != nil {
		t.Fatal(err)
	}
	rows, got := readJSONL(t, b)
	if rows != 3000 || got != sum || merges < 15 {
		t.Fatalf("%d rows summing to %d after %d merges during the stream, want 3000, %d and at least 15", rows, got, merges, sum)
	}
}

// failIndex fails the first write of a source index entry: a compaction
// killed after writing a merged file, before naming it in the index.
type failIndex struct {
	storage.Bucket
	failed bool
}

func (f *failIndex) NewWriter(ctx context.Context, key string) (storage.Writer, error) {
	if !f.failed && strings.Contains(key, "/_sources/") {
		f.failed = true
		return nil, errKilled
	}
	return f.Bucket.NewWriter(ctx, key)
}

// A merge killed before naming its file in the source index, then
// overtaken by a new version of the source, is abandoned by the next
// compaction: its merged file goes, and only the new version's rows stay.
func TestCompactionOvertakenByANewVersion(t *testing.T) {
	ctx := context.Background()
	p := ordersPlan(t)
	data, err := os.ReadFile("../../../examples/orders/orders.csv")
	if err != nil {
		t.Fatal(err)
	}
	in, out := memblob.New(), memblob.New()
	runOrders(t, p, in, out, "b.csv", data)
	_, sum := readOrders(t, out)
	opt := func(o *compact.Options) { o.SourcesPrefix = layout.LocalSources("out") }
	if _, err := compact.Plain(ctx, &failIndex{Bucket: out}, "out", opt); !errors.Is(err, errKilled) {
		t.Fatalf("compaction: %v, want it killed", err)
	}
	fixed := []byte(strings.Replace(string(data), "1001,501,alice@example.com,19.99,USD,paid,US,2026-11-01T09:15:00Z,\n", "", 1))
	runOrders(t, p, in, out, "b.csv", fixed)
	rep, err := compact.Plain(ctx, out, "out", opt)
	if err != nil || rep.Abandoned != 1 {
		t.Fatalf("compaction after the new version: %+v, %v", rep, err)
	}
	if r, s := readOrders(t, out); r != 9 || s != sum-1999 {
		t.Fatalf("%d rows summing to %d, want the new version's 9, %d", r, s, sum-1999)
	}
}
