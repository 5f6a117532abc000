package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/pipeline/output"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/plan"
)

// RunOptions configure an in-process run.
type RunOptions struct {
	Input     storage.Bucket
	Key       string
	Output    storage.Bucket
	OutPrefix string
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
	// Fold, if set, gives each chunk's transform a callback for its kept
	// records; a chunk transformed again gets a fresh one, which replaces
	// the first.
	Fold func(chunk int) func(*plan.Outcome)
}

// Run drives extract, transform and load in-process, through the same
// stage functions the Lambdas call. It always leaves a manifest in
// the output; the returned error is non-nil when the run failed.
func Run(ctx context.Context, p *plan.Plan, opt RunOptions) (*output.Manifest, error) {
	started := time.Now().UTC()
	if opt.Staging == nil {
		opt.Staging = opt.Output
	}
	if opt.StagingPrefix == "" {
		opt.StagingPrefix = layout.LocalStagingPrefix(opt.OutPrefix)
	}
	if opt.Parallel < 1 {
		opt.Parallel = 1
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	t0 := time.Now()
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
	lo := LoadOptions{StagingPrefix: opt.StagingPrefix, OutPrefix: opt.OutPrefix, StartedAt: started, Table: opt.Table,
		Stages: map[string]output.StageStats{"extract": {DurationMS: float64(time.Since(t0)) / 1e6, Bytes: attrs.Size}}}
	if err != nil {
		src := output.Source{Bucket: opt.Input.String(), Key: opt.Key, Size: attrs.Size, ETag: attrs.ETag}
		job = &Job{Spec: p.Spec.File(), SpecHash: SpecHash(p.Spec), Source: src, RunID: RunID(src, SpecHash(p.Spec))}
		log.Error("extract failed", "run_id", job.RunID, "err", err)
		return FailManifest(context.WithoutCancel(ctx), opt.Output, job, nil, err, lo)
	}
	log.Info("extract done", "run_id", job.RunID, "format", job.Format, "compression", job.Compression, "chunks", len(job.Chunks), "bytes", job.Source.Size)

	t1 := time.Now()
	results, err := transformAll(ctx, opt, p, job)
	if err == nil {
		err = realign(ctx, opt, p, job, results)
	}
	if err != nil {
		log.Error("transform failed", "run_id", job.RunID, "err", err)
		return FailManifest(context.WithoutCancel(ctx), opt.Output, job, results, err, lo)
	}
	var ts output.StageStats
	for _, r := range results {
		ts.Records += r.Records
		ts.Bytes += r.BytesIn
	}
	ts.DurationMS = float64(time.Since(t1)) / 1e6
	lo.Stages["transform"] = ts
	log.Info("transform done", "run_id", job.RunID, "records", ts.Records, "ms", ts.DurationMS)

	m, err := Load(ctx, opt.Staging, opt.Output, p, job, results, lo)
	if m == nil && err != nil {
		return FailManifest(context.WithoutCancel(ctx), opt.Output, job, results, err, lo)
	}
	log.Info("load done", "run_id", job.RunID, "status", m.Status, "in", m.In, "out", m.Out, "rejected", m.Rejected, "filtered", m.Filtered, "parts", len(m.Parts))
	return m, err
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
	to := TransformOptions{StagingPrefix: opt.StagingPrefix, Progress: opt.Progress}
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
	to := TransformOptions{StagingPrefix: opt.StagingPrefix}
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
