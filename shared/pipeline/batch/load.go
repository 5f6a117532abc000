package batch

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/pipeline/output"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/deadline"
	"github.com/sluice-etl/sluice/shared/core/plan"
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

// LoadOptions configure Load.
type LoadOptions struct {
	StagingPrefix string
	OutPrefix     string
	// ManifestPrefix is where the manifest and the success marker go (default
	// OutPrefix).
	ManifestPrefix string
	// RejectsPrefix is where quarantined records go (default
	// OutPrefix/rejects).
	RejectsPrefix string
	// Table receives the rows when the spec's sink is dynamodb.
	Table     output.TableWriter
	StartedAt time.Time
	Stages    map[string]output.StageStats
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
func Load(ctx context.Context, staging, out storage.Bucket, p *plan.Plan, job *Job, results []*ChunkResult, opt LoadOptions) (*output.Manifest, error) {
	m, err := Commit(ctx, staging, out, p, job, results, opt)
	if err != nil {
		return nil, err
	}
	return m, Finalize(ctx, staging, out, m, opt)
}

// Commit checks chunk alignment and the accounting, copies staged parts
// to their final keys, and publishes the rejects with absolute line and
// record numbers. It removes outputs of an earlier attempt at the same run
// that this attempt did not produce. The manifest it returns is not yet
// written; a run whose rejects exceed rejects.max_ratio comes back with
// status failed and no data published.
func Commit(ctx context.Context, staging, out storage.Bucket, p *plan.Plan, job *Job, results []*ChunkResult, opt LoadOptions) (*output.Manifest, error) {
	began := time.Now()
	if err := CheckAlignment(job, results); err != nil {
		return nil, err
	}
	m := newManifest(job, opt)
	var lineBase, recBase int64
	var tstats output.StageStats
	for _, r := range results {
		m.Counts.Merge(r.Counts)
		tstats.DurationMS += float64(r.Duration) / 1e6
		tstats.Records += r.Records
		tstats.Bytes += r.BytesIn
		if r.Rejects != nil {
			key := layout.RejectsKey(opt.rejectsPrefix(), job.RunID, r.Index)
			if err := publishRejects(ctx, staging, out, r.Rejects.Key, key, lineBase, recBase); err != nil {
				return nil, fmt.Errorf("load: %w", err)
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
		return nil, fmt.Errorf("load: %w", err)
	}
	m.RejectRatio = m.Counts.RejectRatio()
	if mr := p.Spec.Rejects.MaxRatio; mr > 0 && m.RejectRatio > mr {
		m.Status = output.StatusFailed
		m.Error = fmt.Sprintf("%v: %d of %d records rejected (%.4f > %.4f)", ErrRejectRatio, m.Rejected, m.In, m.RejectRatio, mr)
	}
	if m.Status == output.StatusSucceeded && codec.SinkFormat(p.Spec.Sink.Format) == output.SinkDynamoDB {
		if opt.Table == nil {
			return nil, errors.New("load: the spec's sink is dynamodb but no table writer is configured")
		}
		for _, r := range results {
			for _, part := range r.Parts {
				n, err := output.UpsertPart(ctx, staging, part.Key, opt.Table)
				if err != nil {
					return nil, fmt.Errorf("load: %w", err)
				}
				if n != part.Records {
					return nil, fmt.Errorf("load: %s held %d rows, the chunk wrote %d", part.Key, n, part.Records)
				}
				m.Parts = append(m.Parts, output.Part{Key: "dynamodb:" + p.Spec.Sink.Table, Partition: part.Partition, Records: part.Records})
			}
		}
	} else if m.Status == output.StatusSucceeded {
		// A retried load resumes: parts an earlier attempt published (same
		// key, same size) are not copied again.
		have, err := publishedSizes(ctx, out, opt.OutPrefix)
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		reserve := deadline.Reserve(ctx)
		total, done := 0, 0
		for _, r := range results {
			total += len(r.Parts)
		}
		for _, r := range results {
			for _, part := range r.Parts {
				key := layout.PartKey(opt.OutPrefix, part.Partition, job.RunID, r.Index, part.Key)
				if size, ok := have[key]; !ok || size != part.Bytes {
					if deadline.Near(ctx, reserve) {
						return nil, &deadline.StoppedError{What: "load: publish parts of run " + job.RunID, Done: done, Of: total}
					}
					if err := storage.CopyBetween(ctx, out, key, staging, part.Key); err != nil {
						return nil, fmt.Errorf("load: publish %s: %w", key, err)
					}
				}
				done++
				m.Parts = append(m.Parts, output.Part{Key: key, Partition: part.Partition, Records: part.Records, Bytes: part.Bytes})
				m.BytesOut += part.Bytes
			}
		}
	}
	for _, prefix := range []string{opt.OutPrefix, opt.rejectsPrefix()} {
		if err := removeStale(ctx, out, prefix, job.RunID, m); err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
	}
	m.Stages["load"] = output.StageStats{DurationMS: float64(time.Since(began)) / 1e6, Records: m.Out, Bytes: m.BytesOut}
	return m, nil
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

// Finalize writes the manifest and, for a successful run, the success marker
// last, then removes the run's staging objects. It returns an error for a
// run whose manifest says it failed.
func Finalize(ctx context.Context, staging, out storage.Bucket, m *output.Manifest, opt LoadOptions) error {
	if err := WriteManifest(ctx, out, opt.manifestPrefix(), m); err != nil {
		return err
	}
	if err := deletePrefix(ctx, staging, layout.Dir(layout.RunPrefix(opt.StagingPrefix, m.RunID))); err != nil {
		return fmt.Errorf("load: clear staging: %w", err)
	}
	if m.Status == output.StatusFailed {
		return errors.New(m.Error)
	}
	return nil
}

func (o LoadOptions) rejectsPrefix() string {
	if o.RejectsPrefix != "" {
		return o.RejectsPrefix
	}
	return layout.LocalRejects(o.OutPrefix)
}

func (o LoadOptions) manifestPrefix() string {
	if o.ManifestPrefix != "" {
		return o.ManifestPrefix
	}
	return o.OutPrefix
}

func newManifest(job *Job, opt LoadOptions) *output.Manifest {
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
		StartedAt:       opt.StartedAt,
	}
	for k, v := range opt.Stages {
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
func WriteManifest(ctx context.Context, out storage.Bucket, outPrefix string, m *output.Manifest) error {
	if m.StartedAt.IsZero() {
		m.StartedAt = time.Now().UTC()
	}
	m.FinishedAt = time.Now().UTC()
	m.DurationMS = float64(m.FinishedAt.Sub(m.StartedAt)) / 1e6
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("load: encode manifest: %w", err)
	}
	successKey := layout.SuccessKey(outPrefix)
	if m.Status != output.StatusSucceeded {
		if err := out.Delete(ctx, successKey); err != nil {
			return fmt.Errorf("load: remove %s: %w", successKey, err)
		}
	}
	if err := storage.WriteAll(ctx, out, layout.ManifestKey(outPrefix), append(data, '\n')); err != nil {
		return fmt.Errorf("load: write manifest: %w", err)
	}
	if m.Status == output.StatusSucceeded {
		if err := storage.WriteAll(ctx, out, successKey, nil); err != nil {
			return fmt.Errorf("load: write %s: %w", successKey, err)
		}
	}
	return nil
}

// FailManifest records a run that failed before Load could commit it.
func FailManifest(ctx context.Context, out storage.Bucket, job *Job, results []*ChunkResult, runErr error, opt LoadOptions) (*output.Manifest, error) {
	m := newManifest(job, opt)
	m.Status = output.StatusFailed
	m.Error = runErr.Error()
	for _, r := range results {
		if r != nil {
			m.Counts.Merge(r.Counts)
		}
	}
	m.RejectRatio = m.Counts.RejectRatio()
	if err := WriteManifest(ctx, out, opt.manifestPrefix(), m); err != nil {
		return m, errors.Join(runErr, err)
	}
	return m, runErr
}

// removeStale deletes published objects of this run id that m does not
// list (left by an earlier attempt with other chunking or a failed run).
func removeStale(ctx context.Context, out storage.Bucket, outPrefix, runID string, m *output.Manifest) error {
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
		if layout.IsRunPart(o.Key, runID) && !keep[o.Key] {
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
