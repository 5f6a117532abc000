package handler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/sluice-etl/sluice/shared/adapter/claims"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
)

// ExecutionStarter starts Step Functions executions (*sfn.Client).
type ExecutionStarter interface {
	StartExecution(context.Context, *sfn.StartExecutionInput, ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
}

var _ ExecutionStarter = (*sfn.Client)(nil)

// ExecutionDescriber tells whether an execution still runs (*sfn.Client).
type ExecutionDescriber interface {
	DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

var _ ExecutionDescriber = (*sfn.Client)(nil)

// ObjectRef names one input object; it is the state machine's input when
// the extract function starts an execution, and a valid task input.
type ObjectRef struct {
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	VersionID string `json:"version_id,omitempty"`
	ETag      string `json:"etag,omitempty"`
}

// ChunkTask is one item of the Map state: a pointer to the job and one
// chunk's byte range.
type ChunkTask struct {
	StagingBucket string `json:"staging_bucket"`
	JobKey        string `json:"job_key"`
	Index         int    `json:"index"`
	Start         int64  `json:"start"`
	End           int64  `json:"end"`
}

// Planned is the extract task's output: pointers only. With more chunks
// than fit inline, the chunk list is written to S3 and Distributed is set.
type Planned struct {
	RunID          string      `json:"run_id"`
	Pipeline       string      `json:"pipeline"`
	Source         ObjectRef   `json:"source"`
	StagingBucket  string      `json:"staging_bucket"`
	JobKey         string      `json:"job_key"`
	ChunkCount     int         `json:"chunk_count"`
	Distributed    bool        `json:"distributed"`
	Chunks         []ChunkTask `json:"chunks,omitempty"`
	ChunksKey      string      `json:"chunks_key,omitempty"`
	MaxConcurrency int         `json:"max_concurrency"`
	// Skip says another execution is running this run, or has completed
	// it (SkipReason in_progress or done): the state machine ends here.
	Skip       bool   `json:"skip"`
	SkipReason string `json:"skip_reason,omitempty"`
}

// TaskInput is how the state machine calls extract: the execution's
// input, its name and its ARN, which owns the run's claim.
type TaskInput struct {
	Event        json.RawMessage `json:"event"`
	Execution    string          `json:"execution"`
	ExecutionArn string          `json:"execution_arn,omitempty"`
}

// Claim times. As Powertools' idempotency does, an in-progress claim
// lives as long as the invocation holding it may run (its remaining time)
// plus ClaimGrace for the state machine's retry backoff and the next
// task's start; each task of the run extends it the same way. A run whose
// invocations died is free to retry ClaimGrace after the last deadline.
// ClaimTTL is the life of a claim taken without a deadline (tests, the
// CLI). A completed run stays done long enough to absorb repeated
// deliveries.
const (
	ClaimTTL   = 2 * time.Hour
	ClaimGrace = 10 * time.Minute
	ClaimKeep  = 7 * 24 * time.Hour
)

// claimTTL is how long a claim taken or extended now must live.
func claimTTL(ctx context.Context, now time.Time) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(dl.Sub(now), 0) + ClaimGrace
	}
	return ClaimTTL
}

// extendClaim keeps the run's claim alive while this task runs.
func extendClaim(ctx context.Context, d *Deps, runID string) error {
	if d.Claims == nil || runID == "" {
		return nil
	}
	if err := d.Claims.Extend(ctx, runID, claimTTL(ctx, d.Now())); err != nil {
		return fmt.Errorf("extend the claim of run %s: %w", runID, err)
	}
	return nil
}

// Started is the extract function's answer to an S3 notification.
type Started struct {
	Started    []string `json:"started"`
	Duplicates []string `json:"duplicates"`
	Ignored    int      `json:"ignored"`
}

// Extractor is the extract function.
type Extractor struct {
	s     Settings
	d     Deps
	plans PlanCache
	pipes streamPipes
}

// NewExtractor returns the extract handler.
func NewExtractor(s Settings, d Deps) *Extractor {
	d.defaults()
	return &Extractor{s: s, d: d}
}

// HandleEventBridge plans the run of an EventBridge "Object Created" event.
func (e *Extractor) HandleEventBridge(ctx context.Context, ev events.EventBridgeEvent) (*Planned, error) {
	return e.planEventBridge(ctx, ev, "")
}

func (e *Extractor) planEventBridge(ctx context.Context, ev events.EventBridgeEvent, owner string) (*Planned, error) {
	ref, err := objectFromEventBridge(ev)
	if err != nil {
		return nil, err
	}
	return e.plan(ctx, ref, owner)
}

// HandleTask plans a run for the state machine: the task input names the
// execution, which owns the run's claim, and carries the execution's
// input, an EventBridge event or an ObjectRef.
func (e *Extractor) HandleTask(ctx context.Context, task TaskInput) (*Planned, error) {
	owner := task.Execution
	if task.ExecutionArn != "" {
		owner = task.ExecutionArn
	}
	kind, err := kindOf(task.Event)
	if err != nil {
		return nil, err
	}
	switch kind {
	case payloadEventBridge:
		var ev events.EventBridgeEvent
		if err := json.Unmarshal(task.Event, &ev); err != nil {
			return nil, fmt.Errorf("extract: decode EventBridge event: %w", err)
		}
		return e.planEventBridge(ctx, ev, owner)
	case payloadObject:
		var ref ObjectRef
		if err := json.Unmarshal(task.Event, &ref); err != nil {
			return nil, fmt.Errorf("extract: decode task input: %w", err)
		}
		return e.plan(ctx, ref, owner)
	}
	return nil, fmt.Errorf("%w (a task's event is an EventBridge event or {bucket, key})", ErrUnknownEvent)
}

func objectFromEventBridge(ev events.EventBridgeEvent) (ObjectRef, error) {
	if ev.Source != "aws.s3" || ev.DetailType != "Object Created" {
		return ObjectRef{}, fmt.Errorf("%w (got %s %q)", ErrUnknownEvent, ev.Source, ev.DetailType)
	}
	var d struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string `json:"key"`
			ETag      string `json:"etag"`
			VersionID string `json:"version-id"`
		} `json:"object"`
	}
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		return ObjectRef{}, fmt.Errorf("extract: decode EventBridge detail: %w", err)
	}
	return ObjectRef{Bucket: d.Bucket.Name, Key: d.Object.Key, ETag: d.Object.ETag, VersionID: d.Object.VersionID}, nil
}

// ExecutionName is deterministic in the object version, so a repeated
// notification for the same upload starts nothing new.
func ExecutionName(ref ObjectRef) string {
	v := ref.VersionID
	if v == "" {
		v = ref.ETag
	}
	h := sha256.Sum256([]byte(ref.Bucket + "\x00" + ref.Key + "\x00" + v))
	return "s3-" + hex.EncodeToString(h[:])[:40]
}

// HandleS3Event starts one state machine execution per object of an S3
// notification.
func (e *Extractor) HandleS3Event(ctx context.Context, ev events.S3Event) (Started, error) {
	out := Started{Started: []string{}, Duplicates: []string{}}
	if e.s.StateMachineArn == "" {
		return out, fmt.Errorf("extract: an S3 notification needs %s", EnvStateMachineArn)
	}
	for _, r := range ev.Records {
		if r.EventSource != "aws:s3" || len(r.EventName) < 13 || r.EventName[:13] != "ObjectCreated" {
			out.Ignored++
			continue
		}
		ref := ObjectRef{Bucket: r.S3.Bucket.Name, Key: r.S3.Object.URLDecodedKey, VersionID: r.S3.Object.VersionID, ETag: r.S3.Object.ETag}
		if err := storage.CheckKey(ref.Key); err != nil {
			return out, fmt.Errorf("extract: %w", err)
		}
		if _, err := e.s.route(ref.Key); err != nil {
			e.d.Log.WarnContext(ctx, "no spec for object; ignored", "bucket", ref.Bucket, "key", ref.Key)
			out.Ignored++
			continue
		}
		input, _ := json.Marshal(ref)
		name := ExecutionName(ref)
		_, err := e.d.Starter.StartExecution(ctx, &sfn.StartExecutionInput{
			StateMachineArn: aws.String(e.s.StateMachineArn), Name: aws.String(name), Input: aws.String(string(input)),
		})
		var exists *sfntypes.ExecutionAlreadyExists
		switch {
		case errors.As(err, &exists):
			out.Duplicates = append(out.Duplicates, name)
		case err != nil:
			return out, fmt.Errorf("extract: start execution for s3://%s/%s: %w", ref.Bucket, ref.Key, err)
		default:
			out.Started = append(out.Started, name)
		}
	}
	e.d.Log.InfoContext(ctx, "notifications handled", "started", len(out.Started), "duplicates", len(out.Duplicates), "ignored", out.Ignored)
	return out, nil
}

// Plan settles format and compression, plans the chunks and stores the
// job in the staging bucket: the entry point for a task input {bucket, key}.
func (e *Extractor) Plan(ctx context.Context, ref ObjectRef) (*Planned, error) {
	return e.plan(ctx, ref, "")
}

// plan is Plan on behalf of an execution: with claims configured, only the
// execution that claims the run id plans it.
func (e *Extractor) plan(ctx context.Context, ref ObjectRef, owner string) (*Planned, error) {
	if err := storage.CheckKey(ref.Key); err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	loc, err := e.s.route(ref.Key)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	p, err := e.plans.Load(ctx, e.d.Open, loc)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	lake, err := e.prepareLake(ctx, p, loc)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	in, err := e.d.Open(ctx, ref.Bucket)
	if err != nil {
		return nil, fmt.Errorf("extract: open %s: %w", ref.Bucket, err)
	}
	staging, err := e.d.Open(ctx, e.s.StagingBucket)
	if err != nil {
		return nil, fmt.Errorf("extract: open %s: %w", e.s.StagingBucket, err)
	}
	job, err := batch.Extract(ctx, in, ref.Key, p, batch.ExtractOptions{ChunkBytes: e.s.ChunkBytes})
	if err != nil {
		return nil, err
	}
	job.Spec = loc
	if l, ok := lake.(batch.LakeFieldIDs); ok {
		// The data files carry the ids the table gives the columns.
		job.FieldIDs = l.FieldIDs()
	}
	out := &Planned{
		RunID: job.RunID, Pipeline: PipelineName(p.Spec.Name), Source: ref,
		StagingBucket: e.s.StagingBucket, JobKey: layout.JobKey(layout.StagingRoot, job.RunID),
		ChunkCount: len(job.Chunks), MaxConcurrency: e.s.MaxConcurrency,
	}
	if err := putJSON(ctx, staging, out.JobKey, job); err != nil {
		return nil, err
	}
	tasks := make([]ChunkTask, len(job.Chunks))
	for i, c := range job.Chunks {
		tasks[i] = ChunkTask{StagingBucket: e.s.StagingBucket, JobKey: out.JobKey, Index: c.Index, Start: c.Start, End: c.End}
	}
	if len(tasks) <= e.s.MaxInlineChunks {
		out.Chunks = tasks
	} else {
		out.Distributed = true
		out.ChunksKey = layout.ChunksKey(layout.StagingRoot, job.RunID)
		if err := putJSON(ctx, staging, out.ChunksKey, tasks); err != nil {
			return nil, err
		}
	}
	// Claim last, once everything the run needs is written: a failure
	// before this point leaves no claim to block a retry. (The job and
	// chunk list are deterministic, so a duplicate rewriting them changes
	// nothing.)
	if e.d.Claims != nil {
		if owner == "" {
			owner = "task-" + job.RunID
		}
		st, err := e.d.Claims.Claim(ctx, job.RunID, owner, claimTTL(ctx, e.d.Now()))
		if err != nil {
			return nil, fmt.Errorf("extract: %w", err)
		}
		if st == claims.InProgress {
			if st, err = e.takeOverFromTheDead(ctx, job.RunID, owner); err != nil {
				return nil, fmt.Errorf("extract: %w", err)
			}
		}
		if st != claims.Claimed {
			e.d.Log.InfoContext(ctx, "run already handled; standing down", "run_id", job.RunID, "state", st)
			skipped := &Planned{RunID: out.RunID, Pipeline: out.Pipeline, Source: out.Source, StagingBucket: out.StagingBucket,
				JobKey: out.JobKey, MaxConcurrency: out.MaxConcurrency, Skip: true, SkipReason: string(st)}
			return skipped, nil
		}
	}
	e.d.Log.InfoContext(ctx, "run planned", "run_id", job.RunID, "pipeline", out.Pipeline, "format", job.Format, "compression", job.Compression, "chunks", len(tasks), "distributed", out.Distributed)
	return out, nil
}

// prepareLake creates the table of an iceberg sink, or evolves it to the
// spec's output, or refuses the spec, before any of the run's data is
// written; nil for another sink.
func (e *Extractor) prepareLake(ctx context.Context, p *plan.Plan, loc string) (Lake, error) {
	lake, err := e.d.lake(ctx, p, loc)
	if err != nil || lake == nil {
		return nil, err
	}
	return lake, lake.Prepare(ctx)
}

// takeOverFromTheDead takes a run's claim from an execution that is no
// longer running (it failed before it could release the claim, or was
// stopped), so a retry does not stand down for a run nobody is doing.
func (e *Extractor) takeOverFromTheDead(ctx context.Context, runID, owner string) (claims.State, error) {
	if e.d.Executions == nil || !strings.HasPrefix(owner, "arn:") {
		return claims.InProgress, nil
	}
	holder, err := e.d.Claims.Holder(ctx, runID)
	if err != nil || !strings.HasPrefix(holder, "arn:") || holder == owner {
		return claims.InProgress, err
	}
	out, err := e.d.Executions.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(holder)})
	if err != nil {
		return "", fmt.Errorf("describe the execution holding run %s: %w", runID, err)
	}
	if out.Status == sfntypes.ExecutionStatusRunning {
		return claims.InProgress, nil
	}
	ok, err := e.d.Claims.TakeOver(ctx, runID, holder, owner, claimTTL(ctx, e.d.Now()))
	if err != nil || !ok {
		return claims.InProgress, err
	}
	e.d.Log.InfoContext(ctx, "took over the claim of an execution that ended", "run_id", runID, "holder_status", out.Status)
	return claims.Claimed, nil
}

// PipelineName names a run's pipeline: the spec's name, which becomes a
// key prefix of its output, or "default".
func PipelineName(name string) string {
	if name != "" && storage.CheckKey(name) == nil {
		return name
	}
	return "default"
}

func putJSON(ctx context.Context, b storage.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	if err := storage.WriteAll(ctx, b, key, data); err != nil {
		return fmt.Errorf("write %s/%s: %w", b, key, err)
	}
	return nil
}

func getJSON(ctx context.Context, b storage.Bucket, key string, v any) error {
	data, err := storage.ReadAll(ctx, b, key)
	if err != nil {
		return fmt.Errorf("read %s/%s: %w", b, key, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s/%s: %w", b, key, err)
	}
	return nil
}
