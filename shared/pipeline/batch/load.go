package batch

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/deadline"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/profile"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// MisalignedError says a chunk did not start where the previous chunk's
// last record ended (a quoted line break crossed the planned boundary).
// The chunk must be transformed again from Want.
type MisalignedError struct {
	Chunk int
	Want  int64
}

func (e *MisalignedError) Error() string {
	return fmt.Sprintf("chunk %d must start at byte %d: the planned boundary fell inside a record", e.Chunk, e.Want)
}

// ErrRejectRatio is the failure when rejects exceed rejects.max_ratio.
var ErrRejectRatio = errors.New("reject ratio over rejects.max_ratio")

// LoadOptions configure a Loader.
type LoadOptions struct {
	StagingPrefix string
	OutPrefix     string
	// ManifestPrefix is where the manifest and the success marker go (default
	// OutPrefix).
	ManifestPrefix string
	// RejectsPrefix is where quarantined records go (default
	// OutPrefix/rejects).
	RejectsPrefix string
	// SourcesPrefix is the source index (default OutPrefix/_sources): a
	// run of a new version of a source object replaces the output the
	// index lists for that object.
	SourcesPrefix string
	// Table receives the rows when the spec's sink is dynamodb.
	Table output.TableWriter
	// Lake is the table the iceberg sink commits to.
	Lake Lake
	// Catalog, if set, registers each succeeded run's output (sink.catalog
	// glue on a jsonl, csv or parquet sink).
	Catalog   Catalog
	StartedAt time.Time
	Stages    map[string]output.StageStats
	// Clock stamps the manifest and times the stage (default time.Now).
	Clock func() time.Time
}

// Loader commits runs staged in one bucket to their outputs in another.
type Loader struct {
	staging, out storage.Bucket
	opt          LoadOptions
}

// NewLoader returns a Loader from staging to out.
func NewLoader(staging, out storage.Bucket, optFns ...func(*LoadOptions)) *Loader {
	l := &Loader{staging: staging, out: out}
	for _, fn := range optFns {
		fn(&l.opt)
	}
	if l.opt.Clock == nil {
		l.opt.Clock = time.Now
	}
	return l
}

// CheckAlignment verifies that each chunk began where the one before ended.
func CheckAlignment(job *Job, results []*ChunkResult) error {
	if len(results) != len(job.Chunks) {
		return fmt.Errorf("load: %d chunk results for %d chunks", len(results), len(job.Chunks))
	}
	for i, r := range results {
		if r == nil || r.Index != i {
			return fmt.Errorf("load: result for chunk %d is missing", i)
		}
		if i > 0 && results[i-1].End != job.Chunks[i].Start {
			return &MisalignedError{Chunk: i, Want: results[i-1].End}
		}
	}
	return nil
}

// Load commits a run and then finalizes it: Commit followed by Finalize.
func (l *Loader) Load(ctx context.Context, p *plan.Plan, job *Job, results []*ChunkResult) (*output.Manifest, error) {
	m, err := l.Commit(ctx, p, job, results)
	if err != nil {
		return nil, err
	}
	return m, l.Finalize(ctx, m)
}

// Commit checks chunk alignment and the accounting, copies staged parts
// to their final keys, and publishes the rejects with absolute line and
// record numbers. It removes outputs of an earlier attempt at the same run
// that this attempt did not produce. The manifest it returns is not yet
// written; a run whose rejects exceed rejects.max_ratio comes back with
// status failed and no data published.
func (l *Loader) Commit(ctx context.Context, p *plan.Plan, job *Job, results []*ChunkResult) (*output.Manifest, error) {
	began := l.opt.Clock()
	if err := CheckAlignment(job, results); err != nil {
		return nil, err
	}
	c := &commit{Loader: l, p: p, job: job, results: results, m: l.newManifest(job)}
	if err := c.rejectsAndCounts(ctx); err != nil {
		return nil, err
	}
	if err := c.publish(ctx); err != nil {
		return nil, err
	}
	for _, prefix := range []string{l.opt.OutPrefix, l.rejectsPrefix()} {
		if err := removeStale(ctx, l.out, prefix, job.RunID, c.m, layout.IsRunPart); err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
	}
	if err := c.replaceEarlierVersion(ctx); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := c.writeProfile(ctx); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	m := c.m
	m.Stages["load"] = output.StageStats{DurationMS: float64(l.opt.Clock().Sub(began)) / 1e6, Records: m.Out, Bytes: m.BytesOut}
	return m, nil
}

// commit is the state of one Commit call.
type commit struct {
	*Loader
	p       *plan.Plan
	job     *Job
	results []*ChunkResult
	m       *output.Manifest
}

// rejectsAndCounts merges the chunks' counts, publishes their rejects with
// absolute numbers, checks the balance and applies rejects.max_ratio.
func (c *commit) rejectsAndCounts(ctx context.Context) error {
	m := c.m
	var lineBase, recBase int64
	var tstats output.StageStats
	for _, r := range c.results {
		m.Counts.Merge(r.Counts)
		tstats.DurationMS += float64(r.Duration) / 1e6
		tstats.Records += r.Records
		tstats.Bytes += r.BytesIn
		if r.Rejects != nil {
			key := layout.RejectsKey(c.rejectsPrefix(), c.job.RunID, r.Index)
			if err := publishRejects(ctx, c.staging, c.out, r.Rejects.Key, key, lineBase, recBase); err != nil {
				return fmt.Errorf("load: %w", err)
			}
			m.Rejects = append(m.Rejects, output.Part{Key: key, Records: r.Rejects.Records, Bytes: r.Rejects.Bytes})
		}
		lineBase += r.Lines
		recBase += r.Records
	}
	if _, ok := m.Stages["transform"]; !ok {
		m.Stages["transform"] = tstats
	}
	if err := m.Counts.Check(); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	m.RejectRatio = m.Counts.RejectRatio()
	if mr := c.p.Spec.Rejects.MaxRatio; mr > 0 && m.RejectRatio > mr {
		m.Status = output.StatusFailed
		m.Error = fmt.Sprintf("%v: %d of %d records rejected (%.4f > %.4f)", ErrRejectRatio, m.Rejected, m.In, m.RejectRatio, mr)
	}
	return nil
}

// writeProfile merges the chunks' staged profiles into the run's, reading
// one at a time, and writes it beside the manifest. Chunk results without
// a profile (staged by an earlier version) leave the run without one.
func (c *commit) writeProfile(ctx context.Context) error {
	var run *profile.Profile
	for _, r := range c.results {
		if r.ProfileKey == "" {
			return nil
		}
		p, err := c.readProfile(ctx, r.ProfileKey)
		if err != nil {
			return fmt.Errorf("chunk %d: %w", r.Index, err)
		}
		if run == nil {
			run = p
		} else if err := run.Merge(p); err != nil {
			return fmt.Errorf("chunk %d: %w", r.Index, err)
		}
	}
	if run == nil {
		run = profile.New(&c.p.Out, profile.Options{Values: c.p.Spec.ShowValues()})
	}
	run.RunID = c.job.RunID
	data, err := json.Marshal(run)
	if err != nil {
		return fmt.Errorf("encode profile: %w", err)
	}
	key := layout.ProfileKey(c.manifestPrefix())
	if err := storage.WriteAll(ctx, c.out, key, append(data, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

func (c *commit) readProfile(ctx context.Context, key string) (*profile.Profile, error) {
	data, err := storage.ReadAll(ctx, c.staging, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var p profile.Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return &p, nil
}

// publish sends a succeeded run's rows to the sink.
func (c *commit) publish(ctx context.Context) error {
	p := c.p
	switch {
	case c.m.Status != output.StatusSucceeded:
		return nil
	case p.Spec.Sink.Format == codec.SinkDynamoDB:
		return c.upsert(ctx)
	case p.Spec.Sink.Format == codec.SinkIceberg:
		return c.publishLake(ctx)
	case p.Spec.Sink.Catalog == spec.CatalogGlue && c.opt.Catalog == nil:
		return fmt.Errorf("load: %w", ErrNoCatalog)
	}
	return c.copyPartsTo(ctx, c.out, c.opt.OutPrefix, layout.PartKey)
}

// replaceEarlierVersion removes what an earlier run of the same source
// object published, as the source index lists it, and names this run
// there. A failed run, and a table sink (whose upserts replace rows by
// key), leave the index alone. For the iceberg sink the index lists the
// rejects only: the table's commit replaces the earlier rows. A crash in between is repaired by the
// retry, which finds the earlier run still named.
func (c *commit) replaceEarlierVersion(ctx context.Context) error {
	if c.m.Status != output.StatusSucceeded || c.p.Spec.Sink.Format == codec.SinkDynamoDB {
		return nil
	}
	key := layout.SourceKey(c.sourcesPrefix(), c.job.Source.Bucket, c.job.Source.Key)
	var prev output.SourceIndex
	switch data, err := storage.ReadAll(ctx, c.out, key); {
	case err == nil:
		if err := json.Unmarshal(data, &prev); err != nil {
			return fmt.Errorf("source index %s: %w", key, err)
		}
	case !errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("source index %s: %w", key, err)
	}
	next := output.SourceIndex{Source: c.job.Source, RunID: c.job.RunID, Keys: []string{}}
	lists := [][]output.Part{c.m.Parts, c.m.Rejects}
	if c.p.Spec.Sink.Format == codec.SinkIceberg {
		lists = lists[1:]
	}
	for _, parts := range lists {
		for _, p := range parts {
			next.Keys = append(next.Keys, p.Key)
		}
	}
	if prev.RunID != "" && prev.RunID != next.RunID {
		live := map[string]bool{}
		for _, k := range next.Keys {
			live[k] = true
		}
		for _, k := range prev.Keys {
			if live[k] {
				continue
			}
			if err := c.out.Delete(ctx, k); err != nil {
				return fmt.Errorf("remove %s of the earlier run %s: %w", k, prev.RunID, err)
			}
		}
	}
	data, err := json.Marshal(next)
	if err != nil {
		return err
	}
	return storage.WriteAll(ctx, c.out, key, data)
}

// upsert writes the staged rows into the sink table.
func (c *commit) upsert(ctx context.Context) error {
	if c.opt.Table == nil {
		return errors.New("load: the spec's sink is dynamodb but no table writer is configured")
	}
	for _, r := range c.results {
		for _, part := range r.Parts {
			n, err := output.UpsertPart(ctx, c.staging, part.Key, c.opt.Table)
			if err != nil {
				return fmt.Errorf("load: %w", err)
			}
			if n != part.Records {
				return fmt.Errorf("load: %s held %d rows, the chunk wrote %d", part.Key, n, part.Records)
			}
			c.m.Parts = append(c.m.Parts, output.Part{Key: "dynamodb:" + c.p.Spec.Sink.Table.Name, Partition: part.Partition, Records: part.Records})
		}
	}
	return nil
}

// copyPartsTo publishes the staged parts under prefix in out. A retried
// load resumes: parts an earlier attempt published (same key, same size)
// are not copied again.
func (c *commit) copyPartsTo(ctx context.Context, out storage.Bucket, prefix string, partKey partKeyFunc) error {
	have, err := publishedSizes(ctx, out, prefix)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	reserve := deadline.Reserve(ctx)
	total, done := 0, 0
	for _, r := range c.results {
		total += len(r.Parts)
	}
	for _, r := range c.results {
		for _, part := range r.Parts {
			key := partKey(prefix, part.Partition, c.job.RunID, r.Index, part.Key)
			if size, ok := have[key]; !ok || size != part.Bytes {
				if deadline.Near(ctx, reserve) {
					return &deadline.StoppedError{What: "load: publish parts of run " + c.job.RunID, Done: done, Of: total}
				}
				if err := storage.CopyBetween(ctx, out, key, c.staging, part.Key); err != nil {
					return fmt.Errorf("load: publish %s: %w", key, err)
				}
			}
			done++
			c.m.Parts = append(c.m.Parts, output.Part{Key: key, Partition: part.Partition, Records: part.Records, Bytes: part.Bytes})
			c.m.BytesOut += part.Bytes
		}
	}
	return nil
}

// publishedSizes lists the objects under prefix with their sizes.
func publishedSizes(ctx context.Context, out storage.Bucket, prefix string) (map[string]int64, error) {
	objs, err := out.List(ctx, prefix+"/")
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	have := make(map[string]int64, len(objs))
	for _, o := range objs {
		have[o.Key] = o.Size
	}
	return have, nil
}

// Finalize commits a successful run of the iceberg sink to its table and
// registers a successful run in its catalog, writes the manifest and, for
// a successful run, the success marker last, then removes the run's
// staging objects. It returns an error for a run whose manifest says it
// failed, or that failed to commit or register (wrapping ErrRegister).
// A retried Finalize commits nothing twice (the table finds the run's
// snapshot) and registers again harmlessly.
func (l *Loader) Finalize(ctx context.Context, m *output.Manifest) error {
	var failed error
	if m.Status == output.StatusSucceeded {
		failed = l.toTables(ctx, m)
	}
	if err := l.WriteManifest(ctx, m); err != nil {
		return errors.Join(failed, err)
	}
	if err := deletePrefix(ctx, l.staging, layout.Dir(layout.RunPrefix(l.opt.StagingPrefix, m.RunID))); err != nil {
		return errors.Join(failed, fmt.Errorf("load: clear staging: %w", err))
	}
	switch {
	case failed != nil:
		return failed
	case m.Status == output.StatusFailed:
		return errors.New(m.Error)
	}
	return nil
}

func (l *Loader) rejectsPrefix() string {
	if l.opt.RejectsPrefix != "" {
		return l.opt.RejectsPrefix
	}
	return layout.LocalRejects(l.opt.OutPrefix)
}

func (l *Loader) sourcesPrefix() string {
	if l.opt.SourcesPrefix != "" {
		return l.opt.SourcesPrefix
	}
	return layout.LocalSources(l.opt.OutPrefix)
}

func (l *Loader) manifestPrefix() string {
	if l.opt.ManifestPrefix != "" {
		return l.opt.ManifestPrefix
	}
	return l.opt.OutPrefix
}

func (l *Loader) newManifest(job *Job) *output.Manifest {
	m := &output.Manifest{
		ManifestVersion: 1,
		RunID:           job.RunID,
		Status:          output.StatusSucceeded,
		Spec:            job.Spec,
		SpecHash:        job.SpecHash,
		Source:          job.Source,
		Format:          string(job.Format),
		Compression:     string(job.Compression),
		BytesIn:         job.Source.Size,
		Chunks:          len(job.Chunks),
		Stages:          map[string]output.StageStats{},
		Parts:           []output.Part{},
		Rejects:         []output.Part{},
		StartedAt:       l.opt.StartedAt,
	}
	for k, v := range l.opt.Stages {
		m.Stages[k] = v
	}
	if m.Counts.RejectedByRule == nil {
		m.Counts.RejectedByRule = map[string]int64{}
	}
	if m.Counts.FilteredByReason == nil {
		m.Counts.FilteredByReason = map[string]int64{}
	}
	return m
}

// WriteManifest writes the manifest and then, for a successful run,
// the success marker; for a failed run it removes any success marker.
func (l *Loader) WriteManifest(ctx context.Context, m *output.Manifest) error {
	prefix := l.manifestPrefix()
	if m.StartedAt.IsZero() {
		m.StartedAt = l.opt.Clock().UTC()
	}
	m.FinishedAt = l.opt.Clock().UTC()
	m.DurationMS = float64(m.FinishedAt.Sub(m.StartedAt)) / 1e6
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("load: encode manifest: %w", err)
	}
	successKey := layout.SuccessKey(prefix)
	if m.Status != output.StatusSucceeded {
		if err := l.out.Delete(ctx, successKey); err != nil {
			return fmt.Errorf("load: remove %s: %w", successKey, err)
		}
	}
	if err := storage.WriteAll(ctx, l.out, layout.ManifestKey(prefix), append(data, '\n')); err != nil {
		return fmt.Errorf("load: write manifest: %w", err)
	}
	if m.Status == output.StatusSucceeded {
		if err := storage.WriteAll(ctx, l.out, successKey, nil); err != nil {
			return fmt.Errorf("load: write %s: %w", successKey, err)
		}
	}
	return nil
}

// Fail records a run that failed before Load could commit it, and
// removes what the run staged.
func (l *Loader) Fail(ctx context.Context, job *Job, results []*ChunkResult, runErr error) (*output.Manifest, error) {
	if l.staging != nil {
		if err := deletePrefix(ctx, l.staging, layout.Dir(layout.RunPrefix(l.opt.StagingPrefix, job.RunID))); err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("clear staging: %w", err))
		}
	}
	m := l.newManifest(job)
	m.Status = output.StatusFailed
	m.Error = runErr.Error()
	for _, r := range results {
		if r != nil {
			m.Counts.Merge(r.Counts)
		}
	}
	m.RejectRatio = m.Counts.RejectRatio()
	if err := l.WriteManifest(ctx, m); err != nil {
		return m, errors.Join(runErr, err)
	}
	return m, runErr
}

// partKeyFunc names a published part: layout.PartKey or
// layout.TablePartKey.
type partKeyFunc func(out, partition, runID string, chunk int, stagedKey string) string

// removeStale deletes published objects of this run id (as isRunPart
// tells) that m does not list (left by an earlier attempt with other
// chunking or a failed run).
func removeStale(ctx context.Context, out storage.Bucket, outPrefix, runID string, m *output.Manifest, isRunPart func(key, runID string) bool) error {
	keep := map[string]bool{}
	for _, p := range m.Parts {
		keep[p.Key] = true
	}
	for _, p := range m.Rejects {
		keep[p.Key] = true
	}
	objs, err := out.List(ctx, layout.Dir(outPrefix))
	if err != nil {
		return err
	}
	for _, o := range objs {
		if isRunPart(o.Key, runID) && !keep[o.Key] {
			if err := out.Delete(ctx, o.Key); err != nil {
				return err
			}
		}
	}
	return nil
}

// publishRejects copies staged rejects to their final key, turning chunk
// line and record numbers into absolute ones.
func publishRejects(ctx context.Context, staging, out storage.Bucket, src, dst string, lineBase, recBase int64) error {
	if lineBase == 0 && recBase == 0 {
		// The first chunk's numbers are already absolute.
		return storage.CopyBetween(ctx, out, dst, staging, src)
	}
	r, err := storage.NewReader(ctx, staging, src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	defer r.Close()
	w, err := out.NewWriter(ctx, dst)
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4*output.MaxRawInReject+(64<<10))
	var line []byte
	for sc.Scan() {
		var err error
		line, err = output.RebaseReject(line[:0], sc.Bytes(), lineBase, recBase)
		if err != nil {
			_ = w.Abort()
			return fmt.Errorf("read %s: %w", src, err)
		}
		if _, err := w.Write(line); err != nil {
			_ = w.Abort()
			return fmt.Errorf("write %s: %w", dst, err)
		}
	}
	if err := sc.Err(); err != nil {
		_ = w.Abort()
		return fmt.Errorf("read %s: %w", src, err)
	}
	return w.Close()
}
