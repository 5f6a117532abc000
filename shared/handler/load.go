package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
	"github.com/sluice-etl/sluice/shared/pipeline/report"

	"github.com/sluice-etl/sluice/shared/adapter/metrics"
	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
)

// Action is what the state machine asks of the load function.
type Action string

// Actions of the load function.
const (
	ActionLoad     Action = "load"
	ActionFinalize Action = "finalize"
	ActionFail     Action = "fail"
)

// LoadInput is the load function's input: the extract output plus the
// action, and for fail the error the state machine caught.
type LoadInput struct {
	Action      Action          `json:"action"`
	Run         Planned         `json:"run"`
	ManifestKey string          `json:"manifest_key,omitempty"`
	Error       *CaughtError    `json:"error,omitempty"`
	Input       json.RawMessage `json:"input,omitempty"`
}

// CaughtError is what a Catch puts at its ResultPath.
type CaughtError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// LoadOutput is the load function's answer.
type LoadOutput struct {
	RunID       string        `json:"run_id"`
	Pipeline    string        `json:"pipeline"`
	Status      output.Status `json:"status"`
	ManifestKey string        `json:"manifest_key,omitempty"`
	In          int64         `json:"records_in"`
	Out         int64         `json:"records_out"`
	Rejected    int64         `json:"records_rejected"`
	Filtered    int64         `json:"records_filtered"`
	Error       string        `json:"error,omitempty"`
}

// Loader is the load function: it commits a run, finalizes it (manifest,
// the success marker, metrics) and records failed runs.
type Loader struct {
	s     Settings
	d     Deps
	plans PlanCache
}

// NewLoader returns the load handler.
func NewLoader(s Settings, d Deps) *Loader {
	d.defaults()
	return &Loader{s: s, d: d}
}

// Handle dispatches on the action.
func (l *Loader) Handle(ctx context.Context, in LoadInput) (*LoadOutput, error) {
	if in.Action == ActionLoad || in.Action == ActionFinalize {
		if err := extendClaim(ctx, &l.d, in.Run.RunID); err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
	}
	switch in.Action {
	case ActionLoad:
		return l.load(ctx, in)
	case ActionFinalize:
		return l.finalize(ctx, in)
	case ActionFail:
		return l.fail(ctx, in)
	}
	return nil, fmt.Errorf("load: unknown action %q (want load, finalize or fail)", in.Action)
}

func (l *Loader) outPrefix(pipeline string) string {
	return layout.PipelinePrefix(l.s.OutputPrefix, pipeline)
}

func (l *Loader) loadOptions(pipeline, runID string, started time.Time) batch.LoadOptions {
	out := l.outPrefix(pipeline)
	return batch.LoadOptions{StagingPrefix: layout.StagingRoot, OutPrefix: out, ManifestPrefix: layout.RunManifestPrefix(out, runID),
		RejectsPrefix: layout.QuarantinePrefix(pipeline), SourcesPrefix: layout.PipelineSources(l.s.OutputPrefix, pipeline),
		StartedAt: started, Clock: l.d.Now}
}

// runLoader commits and finalizes runs with opt.
func runLoader(staging, out storage.Bucket, opt batch.LoadOptions) *batch.Loader {
	return batch.NewLoader(staging, out, func(o *batch.LoadOptions) { *o = opt })
}

// load reads the chunk results, re-transforms any chunk whose planned
// start fell inside a record, and commits the run.
func (l *Loader) load(ctx context.Context, in LoadInput) (*LoadOutput, error) {
	staging, out, err := l.buckets(ctx)
	if err != nil {
		return nil, err
	}
	var job batch.Job
	if err := getJSON(ctx, staging, in.Run.JobKey, &job); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	p, input, err := openRun(ctx, &l.plans, l.d.Open, &job)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	results := make([]*batch.ChunkResult, len(job.Chunks))
	for i := range job.Chunks {
		var r batch.ChunkResult
		if err := getJSON(ctx, staging, layout.ResultKey(layout.StagingRoot, job.RunID, i), &r); err != nil {
			return nil, fmt.Errorf("load: chunk %d: %w", i, err)
		}
		results[i] = &r
	}
	for {
		err := batch.CheckAlignment(&job, results)
		var mis *batch.MisalignedError
		if !errors.As(err, &mis) {
			if err != nil {
				return nil, err
			}
			break
		}
		c := &job.Chunks[mis.Chunk]
		c.Start = mis.Want
		c.End = max(c.End, c.Start)
		l.d.Log.InfoContext(ctx, "re-transforming misaligned chunk", "run_id", job.RunID, "chunk", c.Index, "start", c.Start)
		r, err := batch.Transform(ctx, input, staging, p, &job, *c, batch.TransformOptions{StagingPrefix: layout.StagingRoot})
		if err != nil {
			return nil, err
		}
		results[mis.Chunk] = r
	}
	started := l.d.Now().UTC()
	if n := len(results); n > 0 {
		started = started.Add(-results[0].Duration)
	}
	opt := l.loadOptions(in.Run.Pipeline, job.RunID, started)
	if p.Spec.Sink.Format == codec.SinkDynamoDB {
		if l.d.Tables == nil {
			return nil, fmt.Errorf("load: spec %s writes to DynamoDB but this function has no table client", job.Spec)
		}
		opt.Table = l.d.Tables(p.Spec.Sink.Table.Name, p.Spec.Sink.Key)
	}
	if err := l.tables(ctx, p, job.Spec, &opt); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	m, err := runLoader(staging, out, opt).Commit(ctx, p, &job, results)
	if err != nil {
		return nil, err
	}
	key := layout.StagedManifestKey(layout.StagingRoot, job.RunID)
	if err := putJSON(ctx, staging, key, m); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	l.d.Log.InfoContext(ctx, "run committed", "run_id", job.RunID, "status", m.Status, "parts", len(m.Parts), "out", m.Out)
	return outputOf(in.Run.Pipeline, key, m), nil
}

// finalize writes the manifest and the success marker, records metrics and clears
// staging. It is safe to repeat.
func (l *Loader) finalize(ctx context.Context, in LoadInput) (*LoadOutput, error) {
	staging, out, err := l.buckets(ctx)
	if err != nil {
		return nil, err
	}
	var m output.Manifest
	if err := getJSON(ctx, staging, in.ManifestKey, &m); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return l.alreadyFinal(ctx, out, in)
		}
		return nil, fmt.Errorf("finalize: %w", err)
	}
	opt := l.loadOptions(in.Run.Pipeline, m.RunID, m.StartedAt)
	if err := l.tablesOf(ctx, &m, &opt); err != nil {
		return nil, fmt.Errorf("finalize: %w", err)
	}
	if err := runLoader(staging, out, opt).Finalize(ctx, &m); err != nil && m.Status != output.StatusFailed {
		return nil, err
	}
	l.writeReport(ctx, out, opt.ManifestPrefix, &m)
	return l.settle(ctx, in.Run.Pipeline, &m, true)
}

// writeReport writes the run report beside the manifest when the spec's
// report.html asks for it. The report is an aid, not part of the run: a
// failure to write it is logged, and the run goes on.
func (l *Loader) writeReport(ctx context.Context, out storage.Bucket, prefix string, m *output.Manifest) {
	if m.Spec == "" {
		return
	}
	p, err := l.plans.Load(ctx, l.d.Open, m.Spec)
	if err == nil && !p.Spec.ReportHTML() {
		return
	}
	var r *report.Report
	if err == nil {
		r, err = report.Load(ctx, out, layout.ManifestKey(prefix), p.Spec.ShowValues())
	}
	if err == nil {
		err = report.Write(ctx, out, layout.ReportKey(prefix), layout.ReportJSONKey(prefix), r)
	}
	if err != nil {
		l.d.Log.WarnContext(ctx, "run report not written", "run_id", m.RunID, "err", err)
	}
}

// tablesOf opens the iceberg table a succeeded run commits to, or the
// Glue table it registers in.
func (l *Loader) tablesOf(ctx context.Context, m *output.Manifest, opt *batch.LoadOptions) error {
	if m.Status != output.StatusSucceeded || m.Spec == "" {
		return nil
	}
	p, err := l.plans.Load(ctx, l.d.Open, m.Spec)
	if err != nil {
		return err
	}
	if got := batch.SpecHash(p.Spec); got != m.SpecHash {
		return fmt.Errorf("spec %s changed during run %s (hash %s, the run has %s)", m.Spec, m.RunID, got, m.SpecHash)
	}
	return l.tables(ctx, p, m.Spec, opt)
}

// tables sets the iceberg table or the Glue registration of p's sink in
// opt.
func (l *Loader) tables(ctx context.Context, p *plan.Plan, specLoc string, opt *batch.LoadOptions) error {
	lake, err := l.d.lake(ctx, p, specLoc)
	if err != nil {
		return err
	}
	if lake != nil {
		opt.Lake = lake
	}
	// The rejects stay in the quarantine, outside the table's location.
	opt.Catalog, err = l.catalog(ctx, p, specLoc, opt.OutPrefix)
	return err
}

// settle records a finalized run's metrics and completes or releases its
// claim. Both are idempotent, and a retried finalize whose first attempt
// cleared staging (alreadyFinal) settles again: a metrics write that
// failed after the success marker is not lost.
// EMF counts are summed by CloudWatch, so a repeat writes no EMF line.
func (l *Loader) settle(ctx context.Context, pipeline string, m *output.Manifest, emf bool) (*LoadOutput, error) {
	if err := l.record(ctx, pipeline, m, emf); err != nil {
		return nil, err
	}
	if l.d.Claims != nil {
		var err error
		if m.Status == output.StatusSucceeded {
			err = l.d.Claims.Complete(ctx, m.RunID, ClaimKeep)
		} else {
			err = l.d.Claims.Release(ctx, m.RunID)
		}
		if err != nil {
			return nil, fmt.Errorf("finalize: %w", err)
		}
	}
	return outputOf(pipeline, "", m), nil
}

// alreadyFinal answers a repeated finalize whose staging is gone: the
// manifest in the output says how the run ended, and it is settled again.
func (l *Loader) alreadyFinal(ctx context.Context, out storage.Bucket, in LoadInput) (*LoadOutput, error) {
	var m output.Manifest
	key := layout.ManifestKey(l.loadOptions(in.Run.Pipeline, in.Run.RunID, time.Time{}).ManifestPrefix)
	if err := getJSON(ctx, out, key, &m); err != nil {
		return nil, fmt.Errorf("finalize: %w", err)
	}
	return l.settle(ctx, in.Run.Pipeline, &m, false)
}

// fail records a run the state machine caught failing.
func (l *Loader) fail(ctx context.Context, in LoadInput) (*LoadOutput, error) {
	reason := "unknown error"
	if in.Error != nil {
		reason = in.Error.Error + ": " + in.Error.Cause
	}
	if in.Run.Source.Key == "" && len(in.Input) > 0 {
		in.Run = recoverRun(in.Input)
	}
	m := &output.Manifest{
		ManifestVersion: 1, RunID: in.Run.RunID, Status: output.StatusFailed, Error: reason,
		Source:    output.Source{Bucket: "s3://" + in.Run.Source.Bucket, Key: in.Run.Source.Key, ETag: in.Run.Source.ETag},
		StartedAt: l.d.Now().UTC(), FinishedAt: l.d.Now().UTC(), Stages: map[string]output.StageStats{},
		Parts: []output.Part{}, Rejects: []output.Part{},
	}
	if m.RunID == "" {
		m.RunID = ExecutionName(in.Run.Source)
	}
	pipeline := in.Run.Pipeline
	if pipeline == "" {
		pipeline = "unknown"
		if loc, err := l.s.route(in.Run.Source.Key); err == nil {
			pipeline = loc
		}
	}
	if in.Run.Pipeline != "" {
		_, out, err := l.buckets(ctx)
		if err != nil {
			return nil, err
		}
		if err := runLoader(nil, out, l.loadOptions(pipeline, m.RunID, m.StartedAt)).WriteManifest(ctx, m); err != nil {
			return nil, err
		}
	}
	if err := l.record(ctx, pipeline, m, true); err != nil {
		return nil, err
	}
	if l.d.Claims != nil && in.Run.RunID != "" {
		// Let a retry of the same object run again.
		if err := l.d.Claims.Release(ctx, in.Run.RunID); err != nil {
			return nil, fmt.Errorf("fail: %w", err)
		}
	}
	return outputOf(pipeline, "", m), nil
}

func (l *Loader) record(ctx context.Context, pipeline string, m *output.Manifest, emf bool) error {
	r := metrics.FromManifest(pipeline, m, l.d.Now())
	if l.d.EMF != nil && emf {
		if err := metrics.WriteEMF(l.d.EMF, l.s.Stack, r); err != nil {
			return err
		}
	}
	if l.d.Metrics != nil {
		if err := l.d.Metrics.PutRun(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func (l *Loader) buckets(ctx context.Context) (storage.Bucket, storage.Bucket, error) {
	staging, err := l.d.Open(ctx, l.s.StagingBucket)
	if err != nil {
		return nil, nil, fmt.Errorf("load: open %s: %w", l.s.StagingBucket, err)
	}
	out, err := l.d.Open(ctx, l.s.OutputBucket)
	if err != nil {
		return nil, nil, fmt.Errorf("load: open %s: %w", l.s.OutputBucket, err)
	}
	return staging, out, nil
}

func outputOf(pipeline, key string, m *output.Manifest) *LoadOutput {
	return &LoadOutput{RunID: m.RunID, Pipeline: pipeline, Status: m.Status, ManifestKey: key,
		In: m.In, Out: m.Out, Rejected: m.Rejected, Filtered: m.Filtered, Error: m.Error}
}

// recoverRun finds what is known of a run in the state a Catch saw: the
// extract output under "run", else the object the execution started for.
func recoverRun(raw json.RawMessage) Planned {
	var st struct {
		Run     *Planned `json:"run"`
		Extract struct {
			Payload *Planned `json:"Payload"`
		} `json:"extract"`
	}
	if json.Unmarshal(raw, &st) == nil {
		if st.Run != nil && st.Run.Source.Key != "" {
			return *st.Run
		}
		if p := st.Extract.Payload; p != nil && p.Source.Key != "" {
			return *p
		}
	}
	var ref ObjectRef
	if json.Unmarshal(raw, &ref) == nil && ref.Key != "" {
		return Planned{Source: ref}
	}
	var ev events.EventBridgeEvent
	if json.Unmarshal(raw, &ev) == nil {
		if ref, err := objectFromEventBridge(ev); err == nil {
			return Planned{Source: ref}
		}
	}
	return Planned{}
}
