package icebergtable_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-etl/sluice/internal/lakeread"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
)

// smallFiles makes the env's spec write two rows a data file.
func smallFiles(t *testing.T, e *env) {
	t.Helper()
	p, err := plan.FromBytes("spec.yaml", []byte(strings.Replace(e.specT, "  partition_by:", "  max_rows_per_file: 2\n  partition_by:", 1)))
	if err != nil {
		t.Fatal(err)
	}
	e.plan = p
}

// read reads the table with icebird on either catalog.
func read(t *testing.T, e *env) lakeread.Result {
	t.Helper()
	if e.loc.Kind != spec.CatalogGlue {
		return lakeread.Read(t, e.location(), "amt", "id")
	}
	tbl, err := e.catalog().Load(context.Background(), "lake.events")
	if err != nil {
		t.Fatal(err)
	}
	return lakeread.ReadS3(t, e.loc.Endpoint, tbl.MetadataLocation(), "amt", "id", "")
}

// Compaction merges each source's small files of a partition into one,
// in one replace commit per source; icebird reads the same rows before
// and after; a new version of a source still replaces exactly its rows.
func TestCompactionReplacesSmallFilesAtomically(t *testing.T) {
	forEachCatalog(t, func(t *testing.T, e *env) {
		lakeread.Require(t)
		smallFiles(t, e)
		e.write("a.csv", csvOf(ids(1, 10), "2026-11-01"))
		e.write("b.csv", csvOf(ids(100, 105), "2026-11-01"))
		e.mustRun("a.csv")
		e.mustRun("b.csv")
		before := read(t, e)
		if before.Count != 16 || len(e.liveFiles()) != 8 {
			t.Fatalf("before: %+v, %d live files", before, len(e.liveFiles()))
		}
		// A merged file a killed compaction left, which no snapshot names.
		stray := layout.CompactPartKey(layout.TableDataPrefix(e.catalog().TableLocation("lake", "events")), "at_day=2026-11-01", "dead", ".parquet")
		if err := storage.WriteAll(context.Background(), e.catalog().Files(), stray, []byte("x")); err != nil {
			t.Fatal(err)
		}
		rep, err := e.table().Compact(context.Background(), 128<<20, 2)
		if err != nil {
			t.Fatal(err)
		}
		if rep.FilesBefore != 8 || rep.Merged != 8 || rep.Written != 2 || rep.FilesAfter != 2 || rep.Rows != 16 {
			t.Fatalf("report %+v", rep)
		}
		after := read(t, e)
		if after.Count != before.Count || after.Sum != before.Sum || strings.Join(after.Keys, ",") != strings.Join(before.Keys, ",") {
			t.Fatalf("icebird read %+v after, %+v before", after, before)
		}
		h := e.history()
		if len(h) != 4 || !strings.HasPrefix(h[2].RunID, "compaction/") || h[2].AddedRecords+h[3].AddedRecords != 16 || h[3].TotalRecords != 16 {
			t.Fatalf("history %+v, want two runs and two compactions", h)
		}
		for _, f := range e.dataFiles() {
			if f == stray {
				t.Errorf("the unused merged file %s is still there", f)
			}
		}
		if again, err := e.table().Compact(context.Background(), 128<<20, 2); err != nil || again.Merged != 0 || len(e.history()) != 4 {
			t.Fatalf("second compaction: %+v, %v", again, err)
		}
		// a.csv corrected: only its 3 new rows remain of it.
		e.write("a.csv", csvOf(ids(1, 3), "2026-11-02"))
		e.mustRun("a.csv")
		if r := read(t, e); r.Count != 9 || strings.Join(r.Keys, ",") != "1,100,101,102,103,104,105,2,3" {
			t.Fatalf("after a.csv's new version icebird read %+v, want b's 6 rows and a's 3 new ones", r)
		}
	})
}

// Compaction of a table with no data commits nothing.
func TestCompactionOfAnEmptyTableCommitsNothing(t *testing.T) {
	e := newEnv(t)
	tbl := e.table()
	if err := tbl.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := tbl.Compact(context.Background(), 128<<20, 2)
	if err != nil || rep.Merged != 0 || rep.Snapshot != 0 || len(e.history()) != 0 {
		t.Fatalf("report %+v, %v, %d snapshots", rep, err, len(e.history()))
	}
}

// Every state of the table a reader can load, before, during and after a
// compaction, holds each row once: icebird reads the table as of each of
// its metadata files.
func TestNoStateOfACompactionShowsARowTwice(t *testing.T) {
	lakeread.Require(t)
	e := newEnv(t)
	smallFiles(t, e)
	e.write("a.csv", csvOf(ids(1, 10), "2026-11-01"))
	e.write("b.csv", csvOf(ids(100, 105), "2026-11-01"))
	e.mustRun("a.csv")
	e.mustRun("b.csv")
	if _, err := e.table().Compact(context.Background(), 128<<20, 2); err != nil {
		t.Fatal(err)
	}
	files, err := lakeread.Metadata(e.location())
	if err != nil {
		t.Fatal(err)
	}
	var counts []string
	for _, f := range files {
		r := lakeread.ReadAt(t, e.location(), f, "amt", "id")
		if int(r.Count) != len(r.Keys) {
			t.Errorf("%s: %d rows but %d distinct ids", f, r.Count, len(r.Keys))
		}
		counts = append(counts, fmt.Sprint(r.Count))
	}
	// Created empty; a's 10 rows; b's 6 more; each compaction commit.
	if got := strings.Join(counts, " "); got != "0 10 16 16 16" {
		t.Errorf("rows as of each metadata file: %s, want 0 10 16 16 16", got)
	}
}
