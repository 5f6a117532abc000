// Package compact merges the small files of an output into files of a
// target size: the stream path writes one file per batch, partition and
// shard, and engines read many small files slowly.
//
// Plain outputs (jsonl, csv, parquet) have no table to swap files in
// atomically: readers list the partition's folder. A merge here is made
// safe by its order and by a record written before anything else:
//
//  1. the record <out>/_compactions/<id>.json names the input files, their
//     rows and the output file, with state "started";
//  2. the merged file is written (its rows counted as they pass), then
//     read back and counted again: in must equal out, or nothing is
//     removed and the merged file is deleted;
//  3. the source index of a batch run whose files were merged is updated
//     to name the merged file;
//  4. the inputs are deleted and the record says "done".
//
// A merge killed anywhere is finished by running compaction again: the id
// is a hash of the inputs, the merged file's name follows from it, and a
// started record is resumed from its last step. Between steps 2 and 4 a
// reader listing the folder sees the rows twice, never missing; readers
// that must never see that (Athena's) should query an iceberg table, whose
// compaction is one atomic commit (icebergtable.Compact).
//
// Files are merged only with files of the same partition, format and
// owner: the stream path's files together, a batch run's files with that
// run's only, so that a new version of a source object can still replace
// exactly its rows.
package compact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// Options tune a compaction.
type Options struct {
	// TargetBytes is the size a merged file aims at (default 128 MiB);
	// files at or above it are left alone.
	TargetBytes int64
	// MinFiles is the fewest small files of a group worth merging
	// (default 2).
	MinFiles int
	// MinAge leaves files younger than it for a later compaction: the
	// stream path may be publishing them (default 0).
	MinAge time.Duration
	// SourcesPrefix is where the batch path's source index lives (see
	// layout); empty, batch runs' files are not merged.
	SourcesPrefix string
	// Clock is the time (default time.Now).
	Clock func() time.Time
}

func (o *Options) defaults() {
	if o.TargetBytes <= 0 {
		o.TargetBytes = 128 << 20
	}
	if o.MinFiles < 2 {
		o.MinFiles = 2
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
}

// Report is what a compaction did.
type Report struct {
	// FilesBefore and FilesAfter count the data files under the output.
	FilesBefore, FilesAfter int
	// Merges is the merges done (resumed ones included); Merged the
	// files they removed; Rows the rows they moved.
	Merges, Merged int
	Rows           int64
	// Resumed counts merges a killed compaction had started.
	Resumed int
	// Abandoned counts merges a new version of their source overtook.
	Abandoned int
}

// Record is one merge, as stored before it starts (layout.CompactionKey).
type Record struct {
	ID        string      `json:"id"`
	State     string      `json:"state"`
	Partition string      `json:"partition"`
	Inputs    []InputFile `json:"inputs"`
	Output    string      `json:"output"`
	Rows      int64       `json:"rows"`
	Bytes     int64       `json:"bytes"`
	// Source is the source index entry of a batch run's merged files.
	Source  string    `json:"source,omitempty"`
	Started time.Time `json:"started"`
	Done    time.Time `json:"done,omitzero"`
}

// InputFile is one file a merge reads.
type InputFile struct {
	Key   string `json:"key"`
	Bytes int64  `json:"bytes"`
}

// Record states.
const (
	StateStarted = "started"
	StateDone    = "done"
	// StateAbandoned is a merge overtaken by a new version of its
	// source, which removed its inputs: its merged file is removed.
	StateAbandoned = "abandoned"
)

// Plain compacts the jsonl, csv or parquet output under out in b.
func Plain(ctx context.Context, b storage.Bucket, out string, optFns ...func(*Options)) (*Report, error) {
	var opt Options
	for _, fn := range optFns {
		fn(&opt)
	}
	opt.defaults()
	c := &compaction{b: b, out: out, opt: opt, rep: &Report{}}
	if err := c.resume(ctx); err != nil {
		return c.rep, err
	}
	groups, err := c.groups(ctx)
	if err != nil {
		return c.rep, err
	}
	for _, g := range groups {
		for _, bin := range c.bins(g) {
			if err := c.merge(ctx, g, bin); err != nil {
				return c.rep, err
			}
		}
	}
	files, err := c.dataFiles(ctx)
	c.rep.FilesAfter = len(files)
	return c.rep, err
}

// compaction is the state of one Plain call.
type compaction struct {
	b   storage.Bucket
	out string
	opt Options
	rep *Report
	// owner maps a batch run's file to its source index entry.
	owner map[string]string
}

// group is the files that may be merged together.
type group struct {
	partition, ext, owner string
	files                 []storage.Attributes
}

// dataFiles lists the data files under out: the parts directly under
// it or in partition folders (key=value), not the rejects, the late
// records, the manifests or the records, which live in other folders.
func (c *compaction) dataFiles(ctx context.Context) ([]storage.Attributes, error) {
	objs, err := c.b.List(ctx, layout.Dir(c.out))
	if err != nil {
		return nil, fmt.Errorf("compact: list %s: %w", c.out, err)
	}
	var files []storage.Attributes
	for _, o := range objs {
		if extOf(o.Key) == "" || !(layout.IsPart(o.Key) || layout.IsStreamPart(o.Key)) {
			continue
		}
		part, err := layout.PartitionOf(c.out, o.Key)
		if err != nil || strings.HasPrefix(path.Base(o.Key), ".") {
			continue
		}
		if _, err := layout.ParsePartition(part); err != nil {
			continue // not a partition folder
		}
		files = append(files, o)
	}
	return files, nil
}

// groups sorts the small, old enough data files into groups.
func (c *compaction) groups(ctx context.Context) ([]*group, error) {
	files, err := c.dataFiles(ctx)
	if err != nil {
		return nil, err
	}
	c.rep.FilesBefore = len(files)
	if err := c.loadOwners(ctx); err != nil {
		return nil, err
	}
	now := c.opt.Clock()
	byKey := map[string]*group{}
	var out []*group
	for _, f := range files {
		if f.Size >= c.opt.TargetBytes || now.Sub(f.ModTime) < c.opt.MinAge {
			continue
		}
		owner, ok := c.ownerOf(f.Key)
		if !ok {
			continue
		}
		part, err := layout.PartitionOf(c.out, f.Key)
		if err != nil {
			return nil, err
		}
		k := part + "\x00" + extOf(f.Key) + "\x00" + owner
		g := byKey[k]
		if g == nil {
			g = &group{partition: part, ext: extOf(f.Key), owner: owner}
			byKey[k] = g
			out = append(out, g)
		}
		g.files = append(g.files, f)
	}
	return out, nil
}

// ownerOf is who may share a merge with key: "stream", the batch run's
// source index entry, or for a merged file, whoever its record names.
// ok is false for a batch file no index names (an earlier version's, not
// yet removed): it is left alone.
func (c *compaction) ownerOf(key string) (string, bool) {
	if o, ok := c.owner[key]; ok {
		return o, true
	}
	if layout.IsStreamPart(key) || layout.IsCompactPart(key) {
		return "stream", true
	}
	return "", false
}

// bins splits a group's files, in key order, into merges of at most the
// target size, each of at least MinFiles files.
func (c *compaction) bins(g *group) [][]storage.Attributes {
	var bins [][]storage.Attributes
	var cur []storage.Attributes
	var size int64
	flush := func() {
		if len(cur) >= c.opt.MinFiles {
			bins = append(bins, cur)
		}
		cur, size = nil, 0
	}
	for _, f := range g.files {
		if size+f.Size > c.opt.TargetBytes && len(cur) > 0 {
			flush()
		}
		cur = append(cur, f)
		size += f.Size
	}
	flush()
	return bins
}

// MergeID names a merge by its inputs.
func MergeID(keys []string) string {
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// merge runs one merge from its record on.
func (c *compaction) merge(ctx context.Context, g *group, bin []storage.Attributes) error {
	rec := &Record{State: StateStarted, Partition: g.partition, Started: c.opt.Clock().UTC()}
	keys := make([]string, len(bin))
	for i, f := range bin {
		keys[i] = f.Key
		rec.Inputs = append(rec.Inputs, InputFile{Key: f.Key, Bytes: f.Size})
	}
	rec.ID = MergeID(keys)
	rec.Output = layout.CompactPartKey(c.out, g.partition, rec.ID, g.ext)
	if g.owner != "stream" {
		rec.Source = g.owner
	}
	if err := c.save(ctx, rec); err != nil {
		return err
	}
	return c.finish(ctx, rec)
}

// finish takes a started merge to done: write and check the merged file
// (unless a killed run did), repoint the source index, remove the inputs.
func (c *compaction) finish(ctx context.Context, rec *Record) error {
	in, err := c.writeMerged(ctx, rec)
	if err == nil && rec.Source != "" {
		err = c.repoint(ctx, rec)
	}
	if errors.Is(err, ErrReplaced) {
		return c.abandon(ctx, rec)
	}
	if err != nil {
		return err
	}
	for _, f := range rec.Inputs {
		if err := c.b.Delete(ctx, f.Key); err != nil {
			return fmt.Errorf("compact: remove %s: %w", f.Key, err)
		}
	}
	rec.State, rec.Done = StateDone, c.opt.Clock().UTC()
	if err := c.save(ctx, rec); err != nil {
		return err
	}
	c.rep.Merges++
	c.rep.Merged += len(rec.Inputs)
	c.rep.Rows += in
	return nil
}

// writeMerged writes the merged file unless it is there already, and
// checks that it holds exactly the inputs' rows. It returns the rows.
func (c *compaction) writeMerged(ctx context.Context, rec *Record) (int64, error) {
	f := formatOf(rec.Output)
	if _, err := c.b.Attributes(ctx, rec.Output); err == nil && rec.Rows > 0 {
		// A killed merge wrote it and counted it; the inputs may be gone.
		got, err := CountRows(ctx, c.b, rec.Output, f)
		if err != nil || got != rec.Rows {
			return 0, fmt.Errorf("compact: merged file %s holds %d rows, its record %d: %v", rec.Output, got, rec.Rows, err)
		}
		return got, nil
	}
	keys := make([]string, len(rec.Inputs))
	for i, in := range rec.Inputs {
		keys[i] = in.Key
		if _, err := c.b.Attributes(ctx, in.Key); errors.Is(err, storage.ErrNotFound) {
			return 0, fmt.Errorf("compact: %w: input %s is gone", ErrReplaced, in.Key)
		}
	}
	w, err := c.b.NewWriter(ctx, rec.Output)
	if err != nil {
		return 0, fmt.Errorf("compact: create %s: %w", rec.Output, err)
	}
	cw := &countingWriter{w: w}
	in, err := merge(ctx, c.b, keys, f, cw)
	if err != nil {
		_ = w.Abort()
		return 0, fmt.Errorf("compact: %w", err)
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("compact: write %s: %w", rec.Output, err)
	}
	out, err := CountRows(ctx, c.b, rec.Output, f)
	if err == nil && out != in {
		err = fmt.Errorf("%d rows in, %d in the merged file", in, out)
	}
	if err != nil {
		_ = c.b.Delete(ctx, rec.Output)
		return 0, fmt.Errorf("compact: check %s: %w", rec.Output, err)
	}
	rec.Rows, rec.Bytes = in, cw.n
	return in, c.save(ctx, rec)
}

type countingWriter struct {
	w storage.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// save stores the record.
func (c *compaction) save(ctx context.Context, rec *Record) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	key := layout.CompactionKey(c.out, rec.ID)
	if err := storage.WriteAll(ctx, c.b, key, data); err != nil {
		return fmt.Errorf("compact: record %s: %w", key, err)
	}
	return nil
}

// resume finishes the merges a killed compaction started.
func (c *compaction) resume(ctx context.Context) error {
	objs, err := c.b.List(ctx, layout.CompactionsPrefix(c.out))
	if err != nil {
		return fmt.Errorf("compact: list records: %w", err)
	}
	for _, o := range objs {
		var rec Record
		data, err := storage.ReadAll(ctx, c.b, o.Key)
		if err != nil {
			return fmt.Errorf("compact: %w", err)
		}
		if err := json.Unmarshal(data, &rec); err != nil {
			return fmt.Errorf("compact: record %s: %w", o.Key, err)
		}
		if rec.State != StateStarted {
			continue
		}
		if err := c.finish(ctx, &rec); err != nil {
			return err
		}
		c.rep.Resumed++
	}
	return nil
}

// loadOwners reads the source index: which batch run's files each key is.
func (c *compaction) loadOwners(ctx context.Context) error {
	c.owner = map[string]string{}
	if c.opt.SourcesPrefix == "" {
		return nil
	}
	objs, err := c.b.List(ctx, layout.Dir(c.opt.SourcesPrefix))
	if err != nil {
		return fmt.Errorf("compact: list the source index: %w", err)
	}
	for _, o := range objs {
		idx, err := readIndex(ctx, c.b, o.Key)
		if err != nil {
			return err
		}
		for _, k := range idx.Keys {
			c.owner[k] = o.Key
		}
	}
	return nil
}

func readIndex(ctx context.Context, b storage.Bucket, key string) (*output.SourceIndex, error) {
	data, err := storage.ReadAll(ctx, b, key)
	if err != nil {
		return nil, fmt.Errorf("compact: source index %s: %w", key, err)
	}
	var idx output.SourceIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("compact: source index %s: %w", key, err)
	}
	return &idx, nil
}

// repoint replaces the merged inputs with the merged file in the source
// index entry that lists them. An entry that no longer lists them (a new
// version of the source replaced the run meanwhile) fails the merge: the
// merged file is removed and the inputs, if still there, are left.
func (c *compaction) repoint(ctx context.Context, rec *Record) error {
	idx, err := readIndex(ctx, c.b, rec.Source)
	if err != nil {
		return err
	}
	gone := map[string]bool{}
	for _, in := range rec.Inputs {
		gone[in.Key] = true
	}
	keys := []string{rec.Output}
	found := 0
	for _, k := range idx.Keys {
		switch {
		case gone[k]:
			found++
		case k != rec.Output:
			keys = append(keys, k)
		}
	}
	if found == 0 && !contains(idx.Keys, rec.Output) {
		return fmt.Errorf("compact: %w: %s no longer names the files of merge %s", ErrReplaced, rec.Source, rec.ID)
	}
	sort.Strings(keys)
	idx.Keys = keys
	data, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return storage.WriteAll(ctx, c.b, rec.Source, data)
}

// abandon ends a merge whose inputs a new version of their source
// replaced: its merged file, if written, holds rows no longer live.
func (c *compaction) abandon(ctx context.Context, rec *Record) error {
	if err := c.b.Delete(ctx, rec.Output); err != nil {
		return fmt.Errorf("compact: remove %s: %w", rec.Output, err)
	}
	rec.State, rec.Done = StateAbandoned, c.opt.Clock().UTC()
	c.rep.Abandoned++
	return c.save(ctx, rec)
}

// ErrReplaced is a merge of a batch run's files that a new version of
// its source replaced while the merge ran.
var ErrReplaced = errors.New("the merged files were replaced")

func contains(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// exts are the data files' extensions, longest first.
var exts = []string{".jsonl.gz", ".jsonl.zst", ".csv.gz", ".csv.zst", ".jsonl", ".csv", ".parquet"}

// extOf is a data file's extension ("" for another file).
func extOf(key string) string {
	base := path.Base(key)
	for _, e := range exts {
		if strings.HasSuffix(base, e) {
			return e
		}
	}
	return ""
}

// formatOf is the format of a data file, by its extension.
func formatOf(key string) Format {
	e := extOf(key)
	var f Format
	switch {
	case strings.HasPrefix(e, ".jsonl"):
		f.Sink = codec.SinkJSONL
	case strings.HasPrefix(e, ".csv"):
		f.Sink = codec.SinkCSV
	default:
		f.Sink = codec.SinkParquet
	}
	switch {
	case strings.HasSuffix(e, ".gz"):
		f.Compression = codec.Gzip
	case strings.HasSuffix(e, ".zst"):
		f.Compression = codec.Zstd
	default:
		f.Compression = codec.CompressionNone
	}
	return f
}
