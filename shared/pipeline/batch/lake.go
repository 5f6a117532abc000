package batch

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// Lake is a table the iceberg sink commits each run's data files to, once.
// The adapter behind it (shared/adapter/table/icebergtable) links
// iceberg-go, which only the CLI imports: the pipeline knows it by this
// interface alone.
//
// The guarantees the Loader builds on them:
//   - Prepare runs before any data is written: a table that does not
//     exist is created, one whose schema differs from the spec's output
//     is evolved to take it (columns added, widened, made optional), and
//     a change the table cannot take (a narrowed or incompatible type,
//     another partition spec) is an error naming the table and the
//     columns.
//   - A run's data files are published under Files, named by the run id;
//     nothing reads them until Commit makes them part of the table.
//   - Commit adds them in one snapshot whose summary holds the run id, the
//     source, the spec hash and the counts, and in the same snapshot
//     removes the rows of earlier runs of the same source object. A
//     commit that loses a race is retried on the new table state; a run
//     that the table already holds commits nothing and returns the files
//     of the snapshot that holds it.
type Lake interface {
	// Prepare creates the table, or evolves the existing one to take the
	// spec's output, or refuses it.
	Prepare(ctx context.Context) error
	// Files is where data files go: a bucket and a key prefix in it.
	Files() (storage.Bucket, string)
	// Lookup returns the data files of runID's snapshot, and whether the
	// table has one.
	Lookup(ctx context.Context, runID string) ([]output.Part, bool, error)
	// Commit commits m.Parts (keys in Files' bucket) for the run m
	// describes, and returns the files of the run's snapshot.
	Commit(ctx context.Context, m *output.Manifest) ([]output.Part, error)
}

// LakeFieldIDs is a Lake that knows, once prepared, the field id the
// table gives each output column, in output order. A table evolves (a
// column added, one no longer written), and its columns keep their ids,
// so the data files must carry the table's ids rather than their
// positions. Run puts them in the job (Job.FieldIDs), which Transform
// passes to the Parquet writer; without them each column's id is its
// position plus one, which a Lake that is not a LakeFieldIDs must accept.
type LakeFieldIDs interface {
	Lake
	// FieldIDs are the ids after Prepare; nil before.
	FieldIDs() []int
}

// ErrNoLake is returned for an iceberg sink run without a Lake.
var ErrNoLake = errors.New("the spec's sink is iceberg but no table is configured")

// publishLake publishes the run's staged parts as the table's data files,
// unless the table already holds the run: then the manifest lists the
// files of the run's snapshot, and this run's other files (an attempt
// with other chunks, which never committed) are removed.
func (c *commit) publishLake(ctx context.Context) error {
	lake := c.opt.Lake
	if lake == nil {
		return fmt.Errorf("load: %w", ErrNoLake)
	}
	files, done, err := lake.Lookup(ctx, c.job.RunID)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	b, prefix := lake.Files()
	if done {
		c.m.Parts = files
		for _, p := range files {
			c.m.BytesOut += p.Bytes
		}
		return removeStale(ctx, b, prefix, c.job.RunID, c.m, layout.IsTableRunPart)
	}
	if err := c.copyPartsTo(ctx, b, prefix, layout.TablePartKey); err != nil {
		return err
	}
	// Files of this run an earlier attempt left (a crash before its
	// commit) that this attempt did not write again.
	return removeStale(ctx, b, prefix, c.job.RunID, c.m, layout.IsTableRunPart)
}

// commitLake commits a succeeded run's data files to the table, before
// the manifest and the success marker. A commit that fails leaves the
// table as it was and removes the files; a run the table already holds
// commits nothing.
func (l *Loader) commitLake(ctx context.Context, m *output.Manifest) error {
	lake := l.opt.Lake
	if lake == nil {
		return ErrNoLake
	}
	committed, err := lake.Commit(ctx, m)
	if err != nil {
		return l.abandonLake(ctx, m, err)
	}
	b, prefix := lake.Files()
	if !sameKeys(committed, m.Parts) {
		// Another attempt at the same run committed its own files first.
		m.Parts, m.BytesOut = committed, 0
		for _, p := range committed {
			m.BytesOut += p.Bytes
		}
		if err := removeStale(ctx, b, prefix, m.RunID, m, layout.IsTableRunPart); err != nil {
			return fmt.Errorf("remove files the table does not hold: %w", err)
		}
	}
	return nil
}

// abandonLake removes the data files of a commit that failed, unless the
// table holds the run after all.
func (l *Loader) abandonLake(ctx context.Context, m *output.Manifest, commitErr error) error {
	lake := l.opt.Lake
	ctx = context.WithoutCancel(ctx)
	if _, done, err := lake.Lookup(ctx, m.RunID); err != nil || done {
		return errors.Join(commitErr, err)
	}
	b, _ := lake.Files()
	for _, p := range m.Parts {
		if err := b.Delete(ctx, p.Key); err != nil {
			return errors.Join(commitErr, fmt.Errorf("remove uncommitted %s: %w", p.Key, err))
		}
	}
	return commitErr
}

// sameKeys reports whether a and b list the same keys.
func sameKeys(a, b []output.Part) bool {
	keys := func(ps []output.Part) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = p.Key
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(keys(a), keys(b))
}
