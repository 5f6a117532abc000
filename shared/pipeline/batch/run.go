package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// RunOptions configure an in-process run.
type RunOptions struct {
	Input     storage.Bucket
	Key       string
	Output    storage.Bucket
	OutPrefix string
	// RejectsPrefix is where quarantined records go (default
	// OutPrefix/rejects).
	RejectsPrefix string
	// Staging defaults to Output; StagingPrefix defaults to layout.LocalStaging.
	Staging       storage.Bucket
	StagingPrefix string
	// Parallel is the number of chunks transformed at once (default 1).
	Parallel int
	// ChunkBytes overrides the chunk size Run picks from Parallel.
	ChunkBytes int64
	// Progress, if set, counts source bytes read.
	Progress *atomic.Int64
	// Log receives one line per stage; record contents are never logged.
	Log *slog.Logger
	// Table receives the rows when the spec's sink is dynamodb.
	Table output.TableWriter
	// Lake is the table the iceberg sink commits to; Run prepares it
	// (creates it, or evolves it to the spec's output, or refuses the
	// spec) before any data is written.
	Lake Lake
	// Catalog, if set, registers the output of a succeeded run before its
	// manifest and success marker are written.
	Catalog Catalog
	// Fold, if set, gives each chunk's transform a callback for its kept
	// records; a chunk transformed again gets a fresh one, which replaces
	// the first.
	Fold func(chunk int) func(*plan.Outcome)
	// Clock stamps the manifest and times the stages (default time.Now).
	Clock func() time.Time
	// ProfileValues keeps record values in the run's profile (the top
	// values of low-cardinality string columns), as the spec's
	// report.show_values does.
	ProfileValues bool
}

// Run drives extract, transform and load in-process, through the same
// stage functions the Lambdas call. It always leaves a manifest in
// the output; the returned error is non-nil when the run failed.
func Run(ctx context.Context, p *plan.Plan, opt RunOptions) (*output.Manifest, error) {
	r := newRun(p, opt)
	job, err := r.extract(ctx)
	if err == nil && opt.Lake != nil {
		err = r.prepareLake(ctx, job)
	}
	if err != nil {
		return r.fail(ctx, job, nil, err)
	}
	results, err := r.transform(ctx, job)
	if err != nil {
		return r.fail(ctx, job, results, err)
	}
	m, err := r.loader.Load(ctx, p, job, results)
	if m == nil && err != nil {
		return r.fail(ctx, job, results, err)
	}
	r.log.Info("load done", "run_id", job.RunID, "status", m.Status, "in", m.In, "out", m.Out, "rejected", m.Rejected, "filtered", m.Filtered, "parts", len(m.Parts))
	return m, err
}

// prepareLake creates or evolves the table, and has the data files carry
// the field ids the table gives the output columns.
func (r *run) prepareLake(ctx context.Context, job *Job) error {
	if err := r.opt.Lake.Prepare(ctx); err != nil {
		return err
	}
	if l, ok := r.opt.Lake.(LakeFieldIDs); ok {
		job.FieldIDs = l.FieldIDs()
	}
	return nil
}

// run is the state of one Run call.
type run struct {
	p      *plan.Plan
	opt    RunOptions
	log    *slog.Logger
	lo     LoadOptions
	loader *Loader
}

// newRun applies Run's defaults.
func newRun(p *plan.Plan, opt RunOptions) *run {
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	if opt.Staging == nil {
		opt.Staging = opt.Output
	}
	if opt.StagingPrefix == "" {
		opt.StagingPrefix = layout.LocalStagingPrefix(opt.OutPrefix)
	}
	if opt.Parallel < 1 {
		opt.Parallel = 1
	}
	r := &run{p: p, opt: opt, log: opt.Log}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.lo = LoadOptions{StagingPrefix: opt.StagingPrefix, OutPrefix: opt.OutPrefix, RejectsPrefix: opt.RejectsPrefix, StartedAt: opt.Clock().UTC(), Table: opt.Table, Lake: opt.Lake, Catalog: opt.Catalog,
		Stages: map[string]output.StageStats{}, Clock: opt.Clock}
	r.loader = NewLoader(opt.Staging, opt.Output, func(o *LoadOptions) { *o = r.lo })
	return r
}

// extract plans the run's chunks. On failure it returns a job that names
// the run, for the failed manifest.
func (r *run) extract(ctx context.Context) (*Job, error) {
	opt, p := r.opt, r.p
	t0 := opt.Clock()
	attrs, err := opt.Input.Attributes(ctx, opt.Key)
	if err != nil {
		return nil, fmt.Errorf("run: %s: %w", opt.Key, err)
	}
	eo := ExtractOptions{ChunkBytes: opt.ChunkBytes}
	if eo.ChunkBytes == 0 {
		eo.ChunkBytes = attrs.Size + 1
		if opt.Parallel > 1 {
			// Several chunks per worker balance the load; keep chunks big
			// enough that per-chunk cost does not show.
			eo.ChunkBytes = min(max(attrs.Size/int64(opt.Parallel*4), 4<<20), 256<<20)
		}
	}
	job, err := Extract(ctx, opt.Input, opt.Key, p, eo)
	r.lo.Stages["extract"] = output.StageStats{DurationMS: float64(opt.Clock().Sub(t0)) / 1e6, Bytes: attrs.Size}
	if err != nil {
		src := output.Source{Bucket: opt.Input.String(), Key: opt.Key, Size: attrs.Size, ETag: attrs.ETag}
		job = &Job{Spec: p.Spec.File(), SpecHash: SpecHash(p.Spec), Source: src, RunID: RunID(src, SpecHash(p.Spec))}
		r.log.Error("extract failed", "run_id", job.RunID, "err", err)
		return job, err
	}
	r.log.Info("extract done", "run_id", job.RunID, "format", job.Format, "compression", job.Compression, "chunks", len(job.Chunks), "bytes", job.Source.Size)
	return job, nil
}

// transform transforms every chunk and realigns them.
func (r *run) transform(ctx context.Context, job *Job) ([]*ChunkResult, error) {
	t1 := r.opt.Clock()
	results, err := transformAll(ctx, r.opt, r.p, job)
	if err == nil {
		err = realign(ctx, r.opt, r.p, job, results)
	}
	if err != nil {
		r.log.Error("transform failed", "run_id", job.RunID, "err", err)
		return results, err
	}
	var ts output.StageStats
	for _, c := range results {
		ts.Records += c.Records
		ts.Bytes += c.BytesIn
	}
	ts.DurationMS = float64(r.opt.Clock().Sub(t1)) / 1e6
	r.lo.Stages["transform"] = ts
	r.log.Info("transform done", "run_id", job.RunID, "records", ts.Records, "ms", ts.DurationMS)
	return results, nil
}

// fail writes the failed run's manifest, even when ctx was cancelled.
func (r *run) fail(ctx context.Context, job *Job, results []*ChunkResult, err error) (*output.Manifest, error) {
	if job == nil {
		return nil, err
	}
	return r.loader.Fail(context.WithoutCancel(ctx), job, results, err)
}

// transformAll transforms every chunk with opt.Parallel workers. On the
// first error it cancels the rest.
func transformAll(ctx context.Context, opt RunOptions, p *plan.Plan, job *Job) ([]*ChunkResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]*ChunkResult, len(job.Chunks))
	next := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	to := TransformOptions{StagingPrefix: opt.StagingPrefix, Progress: opt.Progress, Clock: opt.Clock, ProfileValues: opt.ProfileValues}
	for range min(opt.Parallel, len(job.Chunks)) {
		wg.Go(func() {
			for i := range next {
				to := to
				if opt.Fold != nil {
					to.OnKeep = opt.Fold(i)
				}
				r, err := Transform(ctx, opt.Input, opt.Staging, p, job, job.Chunks[i], to)
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					continue
				}
				results[i] = r
			}
		})
	}
	for i := range job.Chunks {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return results, firstErr
}

// realign re-transforms chunks whose planned start fell inside a record
// (a quoted line break across the boundary), from where the previous chunk
// really ended, until all chunks meet.
func realign(ctx context.Context, opt RunOptions, p *plan.Plan, job *Job, results []*ChunkResult) error {
	to := TransformOptions{StagingPrefix: opt.StagingPrefix, Clock: opt.Clock, ProfileValues: opt.ProfileValues}
	for {
		err := CheckAlignment(job, results)
		var mis *MisalignedError
		if !errors.As(err, &mis) {
			return err
		}
		c := &job.Chunks[mis.Chunk]
		c.Start = mis.Want
		if c.End < c.Start {
			c.End = c.Start
		}
		if opt.Fold != nil {
			to.OnKeep = opt.Fold(c.Index)
		}
		r, err := Transform(ctx, opt.Input, opt.Staging, p, job, *c, to)
		if err != nil {
			return err
		}
		results[mis.Chunk] = r
	}
}
