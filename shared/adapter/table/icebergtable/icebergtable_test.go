package icebergtable_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/sluice-etl/sluice/internal/lakeread"
	"github.com/sluice-etl/sluice/internal/motoserver"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/fileblob"
	"github.com/sluice-etl/sluice/shared/adapter/table/icebergtable"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

const testSpec = `version: 1
name: events
fields:
  - {name: id, type: int, required: true}
  - {name: k, required: true}
  - {name: amt, type: int}
  - {name: price, type: decimal, scale: 2}
  - {name: ok, type: bool}
  - {name: day, type: date}
  - {name: at, type: timestamp, required: true}
sink:
  format: iceberg
  table: {namespace: lake, name: events}
  partition_by:
    - {key: at_day, field: at, transform: day}
`

// csvOf writes rows id,k,amt,... for ids, on the day given.
func csvOf(ids []int, day string) string {
	var b strings.Builder
	b.WriteString("id,k,amt,price,ok,day,at\n")
	for _, id := range ids {
		fmt.Fprintf(&b, "%d,k%d,%d,%d.25,true,%s,%sT10:%02d:00Z\n", id, id%3, id*10, id, day, day, id%60)
	}
	return b.String()
}

// env is one output folder, the catalog the table is in, and the inputs.
type env struct {
	t     testing.TB
	out   string
	in    string
	inB   storage.Bucket
	outB  storage.Bucket
	plan  *plan.Plan
	specT string
	loc   icebergtable.Location
}

// forEachCatalog runs a test of the table's behaviour on each catalog:
// the local one, and Glue on moto (through the offline stack's launcher,
// whose UpdateTable honours VersionId) with an s3:// warehouse. moto is
// required in CI and skipped elsewhere when missing (motoserver.Need).
func forEachCatalog(t *testing.T, test func(t *testing.T, e *env)) {
	t.Run("local", func(t *testing.T) { test(t, newEnv(t)) })
	t.Run("glue", func(t *testing.T) { test(t, newGlueEnv(t)) })
}

// newEnv is an env on the local catalog in the output folder.
func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, out: t.TempDir(), in: t.TempDir(), specT: testSpec}
	e.loc = icebergtable.Location{Kind: spec.CatalogLocal, Root: e.out}
	var err error
	if e.inB, err = fileblob.New(e.in); err != nil {
		t.Fatal(err)
	}
	if e.outB, err = fileblob.New(e.out); err != nil {
		t.Fatal(err)
	}
	if e.plan, err = plan.FromBytes("spec.yaml", []byte(e.specT)); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) write(key, data string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.in, key), []byte(data), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// newGlueEnv is an env on Glue in a moto of its own, with the warehouse
// s3://lake/warehouse.
func newGlueEnv(t testing.TB) *env {
	t.Helper()
	cfg := motoserver.ForTest(t)
	e := newEnv(t)
	ctx := context.Background()
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("lake")}); err != nil {
		t.Fatal(err)
	}
	e.loc = icebergtable.Location{Kind: spec.CatalogGlue, Warehouse: "s3://lake/warehouse", Region: cfg.Region, Endpoint: aws.ToString(cfg.BaseEndpoint)}
	return e
}

// table opens the spec's table in the env's catalog.
func (e *env) table(optFns ...func(*icebergtable.Options)) *icebergtable.Table {
	e.t.Helper()
	tbl, err := icebergtable.New(context.Background(), e.loc, e.plan.Spec, &e.plan.Out, optFns...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { tbl.Close() })
	return tbl
}

// run runs key through the pipeline into the table.
func (e *env) run(key string) (*output.Manifest, error) {
	e.t.Helper()
	return batch.Run(context.Background(), e.plan, batch.RunOptions{Input: e.inB, Key: key, Output: e.outB, Lake: e.table()})
}

func (e *env) mustRun(key string) *output.Manifest {
	e.t.Helper()
	m, err := e.run(key)
	if err != nil {
		e.t.Fatalf("run %s: %v", key, err)
	}
	return m
}

func (e *env) catalog() *icebergtable.Catalog {
	e.t.Helper()
	c, err := icebergtable.Open(context.Background(), e.loc)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

func (e *env) history() []icebergtable.SnapshotInfo {
	e.t.Helper()
	h, err := e.catalog().History(context.Background(), "lake.events")
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func (e *env) describe() *icebergtable.TableInfo {
	e.t.Helper()
	info, err := e.catalog().Describe(context.Background(), "lake.events")
	if err != nil {
		e.t.Fatal(err)
	}
	return info
}

// location is the local table's folder.
func (e *env) location() string {
	return filepath.Join(e.out, filepath.FromSlash(layout.TableLocation(layout.Warehouse(""), "lake", "events")))
}

// dataFiles lists the files under the table's data prefix, as keys in
// the catalog's bucket.
func (e *env) dataFiles() []string {
	e.t.Helper()
	c := e.catalog()
	objs, err := c.Files().List(context.Background(), layout.TableDataPrefix(c.TableLocation("lake", "events"))+"/")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		e.t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	sort.Strings(keys)
	return keys
}

// liveFiles lists the data files of the table's current snapshot, as keys
// in the catalog's bucket.
func (e *env) liveFiles() []string {
	e.t.Helper()
	c := e.catalog()
	tbl, err := c.Load(context.Background(), "lake.events")
	if err != nil {
		e.t.Fatal(err)
	}
	files, err := icebergtable.LiveFiles(context.Background(), tbl)
	if err != nil {
		e.t.Fatal(err)
	}
	var keys []string
	for _, f := range files {
		key, err := c.Key(f.FilePath())
		if err != nil {
			e.t.Fatal(err)
		}
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

// checkNoOrphans fails when a data file on disk is not in the table.
func (e *env) checkNoOrphans() {
	e.t.Helper()
	if disk, live := e.dataFiles(), e.liveFiles(); strings.Join(disk, "\n") != strings.Join(live, "\n") {
		e.t.Errorf("data files on disk:\n%v\nin the table:\n%v", disk, live)
	}
}

func ids(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestRunCommitsOneSnapshotWithTheRunsLedger(t *testing.T) {
	forEachCatalog(t, func(t *testing.T, e *env) {
		e.write("a.csv", csvOf(ids(1, 5), "2026-11-01")+csvOf(ids(6, 8), "2026-11-02")[len("id,k,amt,price,ok,day,at\n"):])
		m := e.mustRun("a.csv")
		h := e.history()
		if len(h) != 1 {
			t.Fatalf("history = %+v, want one snapshot", h)
		}
		s := h[0]
		if s.RunID != m.RunID || s.In != 8 || s.Out != 8 || s.Rejected != 0 || s.Filtered != 0 || s.TotalRecords != 8 || s.SpecHash != m.SpecHash || !strings.HasSuffix(s.Source, "/a.csv") || s.ETag != m.Source.ETag {
			t.Errorf("snapshot = %+v, manifest run %s", s, m.RunID)
		}
		info := e.describe()
		if info.Records != 8 || len(info.Partitions) != 2 || info.Partitions[0].Partition != "at_day=2026-11-01" || info.Partitions[0].Records != 5 || info.Partitions[1].Records != 3 {
			t.Errorf("table = %+v", info)
		}
		want := []string{"1 id long true", "2 k string true", "3 amt long false", "4 price decimal(18, 2) false", "5 ok boolean false", "6 day date false", "7 at timestamptz true"}
		var got []string
		for _, c := range info.Columns {
			got = append(got, fmt.Sprintf("%d %s %s %v", c.ID, c.Name, c.Type, c.Required))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("columns = %v, want %v", got, want)
		}
		if len(m.Parts) != 2 {
			t.Errorf("manifest parts = %+v, want one file per partition", m.Parts)
		}
		e.checkNoOrphans()
	})
}

func TestSameInputTwiceAddsNothing(t *testing.T) {
	forEachCatalog(t, func(t *testing.T, e *env) {
		e.write("a.csv", csvOf(ids(1, 4), "2026-11-01"))
		m1 := e.mustRun("a.csv")
		m2 := e.mustRun("a.csv")
		if m1.RunID != m2.RunID {
			t.Fatalf("run ids %s and %s", m1.RunID, m2.RunID)
		}
		if h := e.history(); len(h) != 1 {
			t.Errorf("history has %d snapshots, want 1: %+v", len(h), h)
		}
		if info := e.describe(); info.Records != 4 {
			t.Errorf("table holds %d rows, want 4", info.Records)
		}
		e.checkNoOrphans()
	})
}

func TestFinalizeRetriedAfterTheCommitCommitsNothing(t *testing.T) {
	forEachCatalog(t, func(t *testing.T, e *env) {
		e.write("a.csv", csvOf(ids(1, 3), "2026-11-01"))
		m := e.mustRun("a.csv")
		// The finalize step again, as a retried Lambda would run it.
		lo := batch.NewLoader(e.outB, e.outB, func(o *batch.LoadOptions) {
			o.StagingPrefix, o.Lake = layout.LocalStagingPrefix(""), e.table()
		})
		m.Status = output.StatusSucceeded
		if err := lo.Finalize(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		if h := e.history(); len(h) != 1 {
			t.Errorf("history has %d snapshots, want 1", len(h))
		}
		if info := e.describe(); info.Records != 3 {
			t.Errorf("table holds %d rows, want 3", info.Records)
		}
		e.checkNoOrphans()
	})
}

func TestRacingCommitsAllLandOnce(t *testing.T) {
	forEachCatalog(t, func(t *testing.T, e *env) {
		const n = 4
		for i := range n {
			e.write(fmt.Sprintf("in%d.csv", i), csvOf(ids(i*10+1, i*10+5), "2026-11-01"))
		}
		if err := e.table().Prepare(context.Background()); err != nil {
			t.Fatal(err)
		}
		var conflicts atomic.Int64
		var wg sync.WaitGroup
		errs := make([]error, 2*n)
		for i := range 2 * n { // each input twice: other runs and the same run race
			wg.Go(func() {
				tbl, err := icebergtable.New(context.Background(), e.loc, e.plan.Spec, &e.plan.Out, func(o *icebergtable.Options) {
					o.OnConflict = func(error) { conflicts.Add(1) }
				})
				if err != nil {
					errs[i] = err
					return
				}
				defer tbl.Close()
				out, _ := fileblob.New(e.out)
				_, errs[i] = batch.Run(context.Background(), e.plan, batch.RunOptions{Input: e.inB, Key: fmt.Sprintf("in%d.csv", i%n), Output: out, Lake: tbl,
					StagingPrefix: fmt.Sprintf("_staging/%d", i)})
			})
		}
		wg.Wait()
		t.Logf("%d commits lost a race and were retried", conflicts.Load())
		for i, err := range errs {
			if err != nil {
				t.Errorf("run %d: %v", i, err)
			}
		}
		h := e.history()
		runs := map[string]int{}
		for _, s := range h {
			runs[s.RunID]++
		}
		if len(h) != n || len(runs) != n {
			t.Errorf("history = %d snapshots of %d runs, want %d of %d: %v", len(h), len(runs), n, n, runs)
		}
		if info := e.describe(); info.Records != n*5 {
			t.Errorf("table holds %d rows, want %d", info.Records, n*5)
		}
		e.checkNoOrphans()
	})
}

// Two runs publish their files, then their finalizes race: both commit
// on the same base, one loses and retries. On Glue-on-moto this holds only
// because the launcher's UpdateTable refuses the stale VersionId.
func TestTwoFinalizesRacingBothLandOnce(t *testing.T) {
	forEachCatalog(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.write("a.csv", csvOf(ids(1, 3), "2026-11-01"))
		e.write("b.csv", csvOf(ids(4, 6), "2026-11-01"))
		if err := e.table().Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		var loaders [2]*batch.Loader
		var ms [2]*output.Manifest
		for i, key := range []string{"a.csv", "b.csv"} {
			tbl := e.table()
			staging := fmt.Sprintf("_staging/%d", i)
			job, err := batch.Extract(ctx, e.inB, key, e.plan, batch.ExtractOptions{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := batch.Transform(ctx, e.inB, e.outB, e.plan, job, job.Chunks[0], batch.TransformOptions{StagingPrefix: staging})
			if err != nil {
				t.Fatal(err)
			}
			loaders[i] = batch.NewLoader(e.outB, e.outB, func(o *batch.LoadOptions) { o.StagingPrefix, o.Lake = staging, tbl })
			if ms[i], err = loaders[i].Commit(ctx, e.plan, job, []*batch.ChunkResult{res}); err != nil {
				t.Fatal(err)
			}
			ms[i].Status = output.StatusSucceeded
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		var errs [2]error
		for i := range 2 {
			wg.Go(func() { <-start; errs[i] = loaders[i].Finalize(ctx, ms[i]) })
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("finalize %d: %v", i, err)
			}
		}
		h := e.history()
		if len(h) != 2 || h[0].RunID == h[1].RunID || (h[0].RunID != ms[0].RunID && h[0].RunID != ms[1].RunID) || (h[1].RunID != ms[0].RunID && h[1].RunID != ms[1].RunID) {
			t.Errorf("history = %+v, want one snapshot of each run", h)
		}
		if info := e.describe(); info.Records != 6 {
			t.Errorf("table holds %d rows, want 6", info.Records)
		}
		e.checkNoOrphans()
	})
}

func TestCrashBetweenFilesAndCommitLeavesRowsOnceAndNoOrphans(t *testing.T) {
	forEachCatalog(t, func(t *testing.T, e *env) {
		e.write("a.csv", csvOf(ids(1, 6), "2026-11-01"))
		ctx := context.Background()
		tbl := e.table()
		if err := tbl.Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		// The first attempt publishes its data files and dies before the
		// table commit (Finalize never runs).
		job, err := batch.Extract(ctx, e.inB, "a.csv", e.plan, batch.ExtractOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := batch.Transform(ctx, e.inB, e.outB, e.plan, job, job.Chunks[0], batch.TransformOptions{StagingPrefix: "_staging"})
		if err != nil {
			t.Fatal(err)
		}
		lo := batch.NewLoader(e.outB, e.outB, func(o *batch.LoadOptions) { o.StagingPrefix, o.Lake = "_staging", tbl })
		if _, err := lo.Commit(ctx, e.plan, job, []*batch.ChunkResult{res}); err != nil {
			t.Fatal(err)
		}
		// An attempt with other chunks left a file of its own too.
		files, prefix := tbl.Files()
		stray := layout.TablePartKey(prefix, "at_day=2026-11-01", job.RunID, 7, "part-00000.parquet")
		if err := storage.WriteAll(ctx, files, stray, []byte("PAR1")); err != nil {
			t.Fatal(err)
		}
		if len(e.dataFiles()) != 2 || len(e.history()) != 0 {
			t.Fatalf("after the crash: files %v, history %v", e.dataFiles(), e.history())
		}
		e.mustRun("a.csv")
		if h := e.history(); len(h) != 1 || h[0].TotalRecords != 6 {
			t.Errorf("history = %+v, want one snapshot of 6 rows", h)
		}
		e.checkNoOrphans()
	})
}

func TestNewVersionOfASourceReplacesItsRowsInOneCommit(t *testing.T) {
	forEachCatalog(t, func(t *testing.T, e *env) {
		e.write("a.csv", csvOf(ids(1, 5), "2026-11-01"))
		e.write("b.csv", csvOf(ids(100, 101), "2026-11-01"))
		e.mustRun("a.csv")
		e.mustRun("b.csv")
		e.write("a.csv", csvOf(ids(1, 3), "2026-11-02")) // the corrected upload
		m := e.mustRun("a.csv")
		h := e.history()
		if len(h) != 3 {
			t.Fatalf("history = %+v, want 3 snapshots", h)
		}
		last := h[2]
		if last.RunID != m.RunID || last.Operation != "overwrite" || last.DeletedRecords != 5 || last.AddedRecords != 3 || last.TotalRecords != 5 {
			t.Errorf("last snapshot = %+v, want an overwrite of a.csv's 5 rows by 3", last)
		}
		info := e.describe()
		if info.Records != 5 || len(info.Partitions) != 2 {
			t.Errorf("table = %+v, want b's 2 rows and a's 3 new ones", info)
		}
		if r := readIfAvailable(t, e); r != nil && (r.Count != 5 || strings.Join(r.Keys, ",") != "1,100,101,2,3") {
			t.Errorf("icebird read %+v, want b's rows and a's new ones", r)
		}
	})
}

// readIfAvailable reads the table with icebird, or returns nil when node
// is not installed outside CI (lakeread.Require's rule, without skipping
// the rest of the test), or the table is on Glue: lakeread opens local
// tables only.
func readIfAvailable(t *testing.T, e *env) *lakeread.Result {
	t.Helper()
	if e.loc.Kind == spec.CatalogGlue {
		t.Log("independent reader skipped: lakeread reads local tables only")
		return nil
	}
	if !lakeread.HasNode() && os.Getenv("CI") != "true" {
		t.Log("independent reader skipped: node is not installed")
		return nil
	}
	r := lakeread.Read(t, e.location(), "amt", "id")
	return &r
}

func TestIncompatibleTableIsRefusedBeforeAnyDataIsWritten(t *testing.T) {
	forEachCatalog(t, func(t *testing.T, e *env) {
		e.write("a.csv", csvOf(ids(1, 2), "2026-11-01"))
		e.mustRun("a.csv")
		before := e.dataFiles()

		other := strings.Replace(testSpec, "{name: amt, type: int}", "{name: amt, type: float}", 1)
		other = strings.Replace(other, "  - {name: ok, type: bool}\n", "", 1)
		other = strings.Replace(other, "transform: day", "transform: month", 1)
		p, err := plan.FromBytes("other.yaml", []byte(other))
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := icebergtable.New(context.Background(), e.loc, p.Spec, &p.Out)
		if err != nil {
			t.Fatal(err)
		}
		defer tbl.Close()
		e.write("b.csv", "id,k,amt,price,day,at\n9,k,1.5,1.00,2026-11-03,2026-11-03T00:00:00Z\n")
		_, err = batch.Run(context.Background(), p, batch.RunOptions{Input: e.inB, Key: "b.csv", Output: e.outB, Lake: tbl})
		var inc *icebergtable.IncompatibleError
		if !errors.As(err, &inc) {
			t.Fatalf("run err = %v, want an IncompatibleError", err)
		}
		want := "table lake.events cannot take the spec's output: " +
			"column amt is long in the table, double in the spec: " + typeRule + "; " +
			"field ids of columns day (6 in the table, 5 in the files), at (7 in the table, 6 in the files): " +
			"this run's files give each column its position in the spec's output as its field id, as the AWS functions and the stream path write them; " +
			"keep the table's columns in their order with new ones at the end, or run the spec with sluice run, which writes the table's ids; " +
			"partitioned by [at_day=day(at)] in the table, [at_day=month(at)] in the spec: a table's partition spec is never changed"
		if got := inc.Error(); got != want {
			t.Errorf("error:\n%s\nwant:\n%s", got, want)
		}
		if after := e.dataFiles(); strings.Join(after, ",") != strings.Join(before, ",") {
			t.Errorf("data files changed: %v -> %v", before, after)
		}
		if h := e.history(); len(h) != 1 {
			t.Errorf("history has %d snapshots, want 1", len(h))
		}
	})
}

func TestIsConflict(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New(`requirement failed: branch "main" has changed: expected id 1, found 2`), true},
		{fmt.Errorf("commit: %w", errors.New("Requirement failed: current schema id has changed: expected 0, found 1")), true},
		{errors.New("database is locked (5) (SQLITE_BUSY)"), true},
		{errors.New("no such file or directory"), false},
	} {
		if got := icebergtable.IsConflict(tc.err); got != tc.want {
			t.Errorf("IsConflict(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// A run whose rows are all rejected still commits its snapshot, with its
// counts, and its rerun finds it.
func TestRunWithNoRowsIsInTheLedgerOnce(t *testing.T) {
	forEachCatalog(t, func(t *testing.T, e *env) {
		e.write("bad.csv", "id,k,amt,price,ok,day,at\nx,k,1,1.00,true,2026-11-01,2026-11-01T00:00:00Z\n,k,1,1.00,true,2026-11-01,2026-11-01T00:00:00Z\n")
		m := e.mustRun("bad.csv")
		e.mustRun("bad.csv")
		h := e.history()
		if len(h) != 1 || h[0].RunID != m.RunID || h[0].In != 2 || h[0].Rejected != 2 || h[0].Out != 0 || h[0].TotalRecords != 0 {
			t.Errorf("history = %+v, want one empty snapshot of run %s", h, m.RunID)
		}
		if files := e.dataFiles(); len(files) != 0 {
			t.Errorf("data files %v", files)
		}
	})
}
