package handler

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
)

// ChunkDone is the transform task's output; the full result stays in S3.
type ChunkDone struct {
	Index     int    `json:"index"`
	Records   int64  `json:"records"`
	ResultKey string `json:"result_key"`
}

// Transformer is the transform function.
type Transformer struct {
	s     Settings
	d     Deps
	plans PlanCache
	mu    sync.Mutex
	jobs  map[string]*batch.Job
}

// NewTransformer returns the transform handler.
func NewTransformer(s Settings, d Deps) *Transformer {
	d.defaults()
	return &Transformer{s: s, d: d, jobs: map[string]*batch.Job{}}
}

// Handle transforms one chunk: staged parts and rejects go under the run's
// staging prefix with deterministic keys, so a retried task overwrites.
func (t *Transformer) Handle(ctx context.Context, task ChunkTask) (*ChunkDone, error) {
	if task.StagingBucket != t.s.StagingBucket {
		return nil, fmt.Errorf("transform: staging bucket %q is not the configured %q", task.StagingBucket, t.s.StagingBucket)
	}
	staging, err := t.d.Open(ctx, t.s.StagingBucket)
	if err != nil {
		return nil, fmt.Errorf("transform: open %s: %w", t.s.StagingBucket, err)
	}
	job, err := t.job(ctx, staging, task.JobKey)
	if err != nil {
		return nil, err
	}
	if err := extendClaim(ctx, &t.d, job.RunID); err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	p, in, err := openRun(ctx, &t.plans, t.d.Open, job)
	if err != nil {
		return nil, err
	}
	res, err := batch.Transform(ctx, in, staging, p, job, batch.Chunk{Index: task.Index, Start: task.Start, End: task.End},
		batch.TransformOptions{StagingPrefix: layout.StagingRoot, OnReject: rejectSampler(t.s, &t.d, p.Spec.Name)})
	if err != nil {
		return nil, err
	}
	key := layout.ResultKey(layout.StagingRoot, job.RunID, task.Index)
	if err := putJSON(ctx, staging, key, res); err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	t.d.Log.InfoContext(ctx, "chunk transformed", "run_id", job.RunID, "chunk", task.Index, "records", res.Records, "rejected", res.Counts.Rejected, "ms", res.Duration.Milliseconds())
	return &ChunkDone{Index: task.Index, Records: res.Records, ResultKey: key}, nil
}

func (t *Transformer) job(ctx context.Context, staging storage.Bucket, key string) (*batch.Job, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if j, ok := t.jobs[key]; ok {
		return j, nil
	}
	if !strings.HasPrefix(key, layout.Dir(layout.StagingRoot)) {
		return nil, fmt.Errorf("transform: job key %q is outside %s", key, layout.Dir(layout.StagingRoot))
	}
	var j batch.Job
	if err := getJSON(ctx, staging, key, &j); err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	if len(t.jobs) > 64 {
		clear(t.jobs)
	}
	t.jobs[key] = &j
	return &j, nil
}

// openRun compiles the job's spec and opens its input bucket.
func openRun(ctx context.Context, plans *PlanCache, open Opener, job *batch.Job) (*plan.Plan, storage.Bucket, error) {
	p, err := plans.Load(ctx, open, job.Spec)
	if err != nil {
		return nil, nil, err
	}
	if got := batch.SpecHash(p.Spec); got != job.SpecHash {
		return nil, nil, fmt.Errorf("spec %s changed during run %s (hash %s, job has %s)", job.Spec, job.RunID, got, job.SpecHash)
	}
	in, err := open(ctx, BucketName(job.Source.Bucket))
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", job.Source.Bucket, err)
	}
	return p, in, nil
}

// BucketName strips the scheme from a bucket URL (s3://name → name).
func BucketName(u string) string {
	if _, rest, ok := strings.Cut(u, "://"); ok {
		return rest
	}
	return u
}
