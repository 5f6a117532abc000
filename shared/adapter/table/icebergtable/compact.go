package icebergtable

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/pipeline/compact"
)

// Snapshot summary properties of a compaction's commit.
const (
	PropCompactedFiles = "sluice.compacted-files"
	PropCompactedRows  = "sluice.compacted-rows"
	PropWrittenFiles   = "sluice.written-files"
)

// CompactReport is what a table compaction did.
type CompactReport struct {
	// FilesBefore and FilesAfter count the live data files.
	FilesBefore, FilesAfter int
	// Merged data files were replaced by Written ones, holding Rows rows.
	Merged, Written int
	Rows            int64
	// Snapshot is the compaction's snapshot (0 when nothing was merged).
	Snapshot int64
}

// Compact merges the small live data files of each partition into files
// of about targetBytes (at least minFiles of them a merge) and swaps them
// in one replace commit: a reader sees the old files or the new ones,
// never both and never neither. Each merged file is checked to hold
// exactly its inputs' rows before the commit. A commit that loses a race
// (a run's or the stream's commit landed first) is redone on the new
// table. The replaced files stay on storage for the snapshots that still
// name them, until those snapshots are expired.
//
// A compaction killed before its commit leaves merged files no snapshot
// names; the next compaction writes the same ones (their names follow
// from their inputs) and removes those it no longer needs.
func (t *Table) Compact(ctx context.Context, targetBytes int64, minFiles int) (*CompactReport, error) {
	var rep *CompactReport
	err := t.retry(ctx, "compaction", func() error {
		var err error
		rep, err = t.compactOnce(ctx, targetBytes, max(minFiles, 2))
		return err
	})
	if err != nil {
		return nil, err
	}
	return rep, t.removeUnusedMerges(ctx)
}

// liveFile is a live data file of the table.
type liveFile struct {
	key       string
	partition string
	bytes     int64
	rows      int64
	// owner is the source object whose rows the file holds, or "stream".
	owner owner
}

// owner is whose rows a data file holds: a source object (the batch
// path; a new version of it replaces exactly those rows) or the stream.
type owner struct{ bucket, key, etag string }

var streamOwner = owner{key: "\x00stream"}

func (t *Table) compactOnce(ctx context.Context, targetBytes int64, minFiles int) (*CompactReport, error) {
	tbl, err := t.cat.LoadTable(ctx, t.ident)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.name, err)
	}
	files, err := t.liveFiles(ctx, tbl)
	if err != nil {
		return nil, err
	}
	rep := &CompactReport{FilesBefore: len(files), FilesAfter: len(files)}
	bins := binsOf(files, targetBytes, minFiles)
	// One commit per owner: its summary names the owner's source, so a
	// new version of that source finds the merged file to replace.
	for len(bins) > 0 {
		o := bins[0][0].owner
		var mine, rest [][]liveFile
		for _, b := range bins {
			if b[0].owner == o {
				mine = append(mine, b)
			} else {
				rest = append(rest, b)
			}
		}
		if err := t.commitMerges(ctx, tbl, o, mine, rep); err != nil {
			return nil, err
		}
		if tbl, err = t.cat.LoadTable(ctx, t.ident); err != nil {
			return nil, fmt.Errorf("table %s: %w", t.name, err)
		}
		bins = rest
	}
	return rep, nil
}

// commitMerges writes the merged files of one owner's bins and swaps
// them in, in one replace commit.
func (t *Table) commitMerges(ctx context.Context, tbl *table.Table, o owner, bins [][]liveFile, rep *CompactReport) error {
	var drop, add []string
	var merged int
	var rows int64
	for _, bin := range bins {
		out, n, err := t.mergeBin(ctx, bin)
		if err != nil {
			return err
		}
		for _, f := range bin {
			drop = append(drop, t.cat.URL(f.key))
		}
		add = append(add, t.cat.URL(out))
		merged += len(bin)
		rows += n
	}
	props := iceberg.Properties{
		PropRunID:          "compaction/" + compact.MergeID(drop),
		PropCompactedFiles: strconv.Itoa(merged),
		PropWrittenFiles:   strconv.Itoa(len(add)),
		PropCompactedRows:  strconv.FormatInt(rows, 10),
	}
	if o != streamOwner {
		props[PropSourceBucket], props[PropSourceKey], props[PropSourceETag] = o.bucket, o.key, o.etag
	}
	txn := tbl.NewTransaction()
	if err := txn.ReplaceDataFiles(ctx, drop, add, props); err != nil {
		return fmt.Errorf("table %s: stage the compaction: %w", t.name, err)
	}
	next, err := txn.Commit(ctx)
	if err != nil {
		return fmt.Errorf("table %s: commit the compaction: %w", t.name, err)
	}
	rep.Merged += merged
	rep.Written += len(add)
	rep.Rows += rows
	rep.FilesAfter = rep.FilesBefore - rep.Merged + rep.Written
	if s := next.CurrentSnapshot(); s != nil {
		rep.Snapshot = s.SnapshotID
	}
	return nil
}

// owners maps each snapshot to the owner of the files it added.
func owners(snaps []table.Snapshot) map[int64]owner {
	m := make(map[int64]owner, len(snaps))
	for _, s := range snaps {
		var p iceberg.Properties
		if s.Summary != nil {
			p = s.Summary.Properties
		}
		switch {
		case p[PropStreamShard] != "" || p[PropSourceKey] == "":
			m[s.SnapshotID] = streamOwner
		default:
			m[s.SnapshotID] = owner{bucket: p[PropSourceBucket], key: p[PropSourceKey], etag: p[PropSourceETag]}
		}
	}
	return m
}

// liveFiles lists the current snapshot's data files, in key order.
func (t *Table) liveFiles(ctx context.Context, tbl *table.Table) ([]liveFile, error) {
	var files []liveFile
	var keyErr error
	who := owners(tbl.Metadata().Snapshots())
	err := eachLiveEntry(ctx, tbl, func(e iceberg.ManifestEntry) {
		df := e.DataFile()
		key, err := t.cat.Key(df.FilePath())
		if err != nil {
			keyErr = err
			return
		}
		part, err := layout.PartitionOf(t.prefix, key)
		if err != nil {
			part = "?" + key // a file another writer put elsewhere: merged with none
		}
		files = append(files, liveFile{key: key, partition: part, bytes: df.FileSizeBytes(), rows: df.Count(), owner: who[e.SnapshotID()]})
	})
	if err == nil {
		err = keyErr
	}
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.name, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].key < files[j].key })
	return files, nil
}

// binsOf groups the small files of each partition and owner, in key
// order, into merges of at most targetBytes and at least minFiles files.
func binsOf(files []liveFile, targetBytes int64, minFiles int) [][]liveFile {
	type group struct {
		partition string
		owner     owner
	}
	byPart := map[group][]liveFile{}
	var parts []group
	for _, f := range files {
		if f.bytes >= targetBytes || strings.HasPrefix(f.partition, "?") {
			continue
		}
		g := group{f.partition, f.owner}
		if _, ok := byPart[g]; !ok {
			parts = append(parts, g)
		}
		byPart[g] = append(byPart[g], f)
	}
	var bins [][]liveFile
	for _, p := range parts {
		var cur []liveFile
		var size int64
		for _, f := range byPart[p] {
			if size+f.bytes > targetBytes && len(cur) > 0 {
				if len(cur) >= minFiles {
					bins = append(bins, cur)
				}
				cur, size = nil, 0
			}
			cur = append(cur, f)
			size += f.bytes
		}
		if len(cur) >= minFiles {
			bins = append(bins, cur)
		}
	}
	return bins
}

// mergeBin writes the merged file of one bin and checks its rows.
func (t *Table) mergeBin(ctx context.Context, bin []liveFile) (string, int64, error) {
	keys := make([]string, len(bin))
	var want int64
	for i, f := range bin {
		keys[i] = f.key
		want += f.rows
	}
	out := layout.CompactPartKey(t.prefix, bin[0].partition, compact.MergeID(keys), ".parquet")
	b := t.cat.Files()
	w, err := b.NewWriter(ctx, out)
	if err != nil {
		return "", 0, fmt.Errorf("table %s: create %s: %w", t.name, out, err)
	}
	got, err := compact.MergeParquet(ctx, b, keys, w)
	if err != nil {
		_ = w.Abort()
		return "", 0, fmt.Errorf("table %s: %w", t.name, err)
	}
	if err := w.Close(); err != nil {
		return "", 0, fmt.Errorf("table %s: write %s: %w", t.name, out, err)
	}
	if got != want {
		_ = b.Delete(ctx, out)
		return "", 0, fmt.Errorf("table %s: merged %d rows into %s, its inputs hold %d", t.name, got, out, want)
	}
	return out, got, nil
}

// removeUnusedMerges removes merged files no snapshot names: those of a
// compaction killed before its commit, or redone on a new table.
func (t *Table) removeUnusedMerges(ctx context.Context) error {
	tbl, err := t.cat.LoadTable(ctx, t.ident)
	if err != nil {
		return fmt.Errorf("table %s: %w", t.name, err)
	}
	named := map[string]bool{}
	for _, s := range tbl.Metadata().Snapshots() {
		files, err := t.addedFiles(ctx, tbl, s.SnapshotID)
		if err != nil {
			return err
		}
		for _, f := range files {
			named[f.Key] = true
		}
	}
	b := t.cat.Files()
	objs, err := b.List(ctx, layout.Dir(t.prefix))
	if err != nil {
		return fmt.Errorf("table %s: list data files: %w", t.name, err)
	}
	for _, o := range objs {
		if layout.IsCompactPart(o.Key) && !named[o.Key] {
			if err := b.Delete(ctx, o.Key); err != nil {
				return fmt.Errorf("table %s: remove unused %s: %w", t.name, o.Key, err)
			}
		}
	}
	return nil
}
