package batch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/accounting"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/deadline"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/profile"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// ChunkResult is what Transform reports for one chunk. Line and record
// numbers in its staged rejects are relative to the chunk; Load makes them
// absolute with Lines and Records.
type ChunkResult struct {
	Index int   `json:"index"`
	Start int64 `json:"start"`
	// End is where decoding really stopped: the start of the first record
	// the chunk did not take. It must equal the next chunk's Start.
	End      int64             `json:"end"`
	Lines    int64             `json:"lines"`
	Records  int64             `json:"records"`
	BytesIn  int64             `json:"bytes_in"`
	Counts   accounting.Counts `json:"counts"`
	Parts    []output.Part     `json:"parts"`
	Rejects  *output.Part      `json:"rejects,omitempty"`
	Duration time.Duration     `json:"duration_ns"`
	// ProfileKey is the staged profile of the chunk's output rows; Load
	// merges the chunks' profiles into the run's, one at a time.
	ProfileKey string `json:"profile_key,omitempty"`
}

// TransformOptions configure one Transform call.
type TransformOptions struct {
	// StagingPrefix is where staged parts and rejects go.
	StagingPrefix string
	// Progress, if set, is advanced by decoded bytes as the chunk goes.
	Progress *atomic.Int64
	// OnReject, if set, sees each quarantined record (debug sampling).
	OnReject func(*output.RejectRecord)
	// OnKeep, if set, sees each kept record's outcome (local windows).
	OnKeep func(*plan.Outcome)
	// Clock times the chunk (default time.Now).
	Clock func() time.Time
	// ProfileValues keeps record values in the chunk's profile, as the
	// spec's report.show_values does.
	ProfileValues bool
}

// RejectError is returned under the fail reject policy.
type RejectError struct {
	Line, Record int64
	Rule, Reason string
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("record %d (chunk line %d) rejected by %s: %s (rejects.policy is fail)", e.Record, e.Line, e.Rule, e.Reason)
}

// Transform decodes one chunk of the source, applies the plan, and writes
// kept rows to staged part files and rejects to a staged quarantine file.
// Staged keys are deterministic; anything left by an earlier attempt at the
// same chunk is removed first, so a retry never duplicates.
func Transform(ctx context.Context, in, staging storage.Bucket, p *plan.Plan, job *Job, chunk Chunk, opt TransformOptions) (*ChunkResult, error) {
	now := opt.Clock
	if now == nil {
		now = time.Now
	}
	began := now()
	prefix := layout.ChunkPrefix(opt.StagingPrefix, job.RunID, chunk.Index)
	t := &chunkRun{ctx: ctx, p: p, job: job, chunk: chunk, opt: opt, staging: staging, prefix: prefix,
		res:  &ChunkResult{Index: chunk.Index, Start: chunk.Start},
		prof: profile.New(&p.Out, profile.Options{Values: opt.ProfileValues || p.Spec.ShowValues()})}
	if err := deletePrefix(ctx, staging, layout.Dir(prefix)); err != nil {
		return nil, fmt.Errorf("transform: clear %s: %w", prefix, err)
	}
	if n := len(job.FieldIDs); n > 0 && n != len(p.Out.Fields) {
		return nil, fmt.Errorf("transform: the job has %d field ids for %d output columns: it was planned for another spec", n, len(p.Out.Fields))
	}
	if err := t.open(in); err != nil {
		return nil, err
	}
	defer t.close()
	t.rows = output.NewRowWriter(ctx, staging, prefix, p, func(o *output.RowOptions) { o.FieldIDs = job.FieldIDs })
	t.rejects = output.NewRejectWriter(ctx, staging, layout.StagedRejectsKey(prefix), func(o *output.RejectOptions) {
		o.Source, o.Chunk, o.OnReject = job.Source.Key, chunk.Index, opt.OnReject
	})
	if err := t.run(); err != nil {
		t.rows.Abort()
		t.rejects.Abort()
		return nil, err
	}
	if err := t.finish(); err != nil {
		return nil, err
	}
	t.res.Duration = now().Sub(began)
	return t.res, nil
}

// chunkRun is the state of one Transform call.
type chunkRun struct {
	ctx     context.Context
	p       *plan.Plan
	job     *Job
	chunk   Chunk
	opt     TransformOptions
	res     *ChunkResult
	cr      *progressReader
	dec     codec.Decoder
	closers []io.Closer
	rows    *output.RowWriter
	rejects *output.RejectWriter
	// staging and prefix are where the chunk stages its outputs; prof
	// profiles its kept rows as they are written.
	staging storage.Bucket
	prefix  string
	prof    *profile.Profile
}

// open reads the source from the chunk's start, decompressing the first
// chunk (the only one of a compressed source), and starts the decoder.
func (t *chunkRun) open(in storage.Bucket) error {
	key := t.job.Source.Key
	r, err := in.NewRangeReader(t.ctx, key, t.chunk.Start, -1)
	if err != nil {
		return fmt.Errorf("transform: read %s at %d: %w", key, t.chunk.Start, err)
	}
	t.closers = append(t.closers, r)
	t.cr = &progressReader{r: r, p: t.opt.Progress}
	src := io.Reader(t.cr)
	if t.chunk.Start == 0 {
		dr, _, err := codec.Decompress(t.cr, t.job.Compression, t.job.Limits)
		if err != nil {
			t.close()
			return fmt.Errorf("transform: %s: %w", key, err)
		}
		t.closers = append(t.closers, dr)
		src = dr
		if t.job.Compression != codec.CompressionNone {
			// Decompress on another core while this one parses.
			ra := codec.ReadAhead(dr, 256<<10, 4)
			t.closers = append(t.closers, ra)
			src = ra
		}
	}
	if t.dec, err = newDecoder(src, t.p, t.job, t.chunk); err != nil {
		t.close()
		return fmt.Errorf("transform: %s: %w", key, err)
	}
	return nil
}

// close closes what open opened, last first.
func (t *chunkRun) close() {
	for i := len(t.closers) - 1; i >= 0; i-- {
		_ = t.closers[i].Close()
	}
	t.closers = nil
}

// run decodes, processes and routes every record of the chunk.
func (t *chunkRun) run() error {
	// The processor stops with ctx, even inside a long expression.
	proc := t.p.NewProcessor(func(o *plan.ProcessorOptions) { o.Context = t.ctx })
	failOnReject := t.p.Spec.Rejects.Policy == spec.RejectFail
	reserve := deadline.Reserve(t.ctx)
	for n := 1; ; n++ {
		rec, err := t.dec.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return t.errorf(err)
		}
		if n&4095 == 0 {
			if err := t.checkStop(n, reserve); err != nil {
				return err
			}
		}
		out, err := proc.Process(rec)
		if err != nil {
			return t.errorf(err)
		}
		if err := t.route(rec, out, failOnReject); err != nil {
			return err
		}
	}
}

// checkStop stops a cancelled run, and one near its deadline with nothing
// staged rather than be killed half way; the retry transforms the chunk
// again from its start.
func (t *chunkRun) checkStop(n int, reserve time.Duration) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	if deadline.Near(t.ctx, reserve) {
		return &deadline.StoppedError{What: fmt.Sprintf("transform %s chunk %d", t.job.Source.Key, t.chunk.Index), Done: n, Of: -1}
	}
	return nil
}

// route writes a record by its verdict and counts it.
func (t *chunkRun) route(rec *codec.RawRecord, out *plan.Outcome, failOnReject bool) error {
	if out.Verdict == plan.Keep {
		t.rows.Admit(out) // a row that cannot be partitioned becomes a reject
	}
	switch out.Verdict {
	case plan.Keep:
		if err := t.rows.Write(out); err != nil {
			return fmt.Errorf("transform: %w", err)
		}
		t.prof.Observe(out.Row)
		if t.opt.OnKeep != nil {
			t.opt.OnKeep(out)
		}
		t.res.Counts.AddOut()
	case plan.Filtered:
		t.res.Counts.AddFiltered(out.FilterReason)
	case plan.Reject:
		t.res.Counts.AddRejected(out.RuleKey())
		if err := t.rejects.WriteRaw(rec, out); err != nil {
			return fmt.Errorf("transform: %w", err)
		}
		if failOnReject {
			return &RejectError{Line: rec.Line, Record: rec.Index, Rule: out.RuleKey(), Reason: out.Reason}
		}
	}
	return nil
}

func (t *chunkRun) errorf(err error) error {
	return fmt.Errorf("transform: %s chunk %d: %w", t.job.Source.Key, t.chunk.Index, err)
}

// finish commits the staged parts and rejects and completes the result.
func (t *chunkRun) finish() error {
	var err error
	if t.res.Parts, err = t.rows.Close(); err != nil {
		t.rejects.Abort()
		return fmt.Errorf("transform: %w", err)
	}
	if t.res.Rejects, err = t.rejects.Close(); err != nil {
		return fmt.Errorf("transform: %w", err)
	}
	if err := t.stageProfile(); err != nil {
		return fmt.Errorf("transform: %w", err)
	}
	t.res.End = t.dec.End()
	t.res.Lines = t.dec.Lines()
	t.res.Records = t.res.Counts.In
	t.res.BytesIn = t.cr.n
	return nil
}

// stageProfile writes the chunk's profile beside its staged rows.
func (t *chunkRun) stageProfile() error {
	data, err := json.Marshal(t.prof)
	if err != nil {
		return fmt.Errorf("encode profile: %w", err)
	}
	key := layout.StagedProfileKey(t.prefix)
	if err := storage.WriteAll(t.ctx, t.staging, key, data); err != nil {
		return fmt.Errorf("stage profile %s: %w", key, err)
	}
	t.res.ProfileKey = key
	return nil
}

func newDecoder(r io.Reader, p *plan.Plan, job *Job, chunk Chunk) (codec.Decoder, error) {
	rng := codec.Range{Start: chunk.Start}
	if chunk.End < job.Source.Size {
		rng.Limit = chunk.End
	}
	switch job.Format {
	case codec.FormatCSV:
		if chunk.Start > 0 {
			rng.Header = job.Header
		}
		return codec.NewCSVDecoder(r, p.Columns, *job.CSV, rng, p.DecodeOptions)
	case codec.FormatJSONL:
		return codec.NewJSONLDecoder(r, p.Columns, job.MaxRecord, rng, p.DecodeOptions), nil
	case codec.FormatJSON:
		return codec.NewJSONDecoder(r, p.Columns, job.MaxRecord, p.DecodeOptions), nil
	}
	return nil, fmt.Errorf("unknown format %q", job.Format)
}

type progressReader struct {
	r io.Reader
	n int64
	p *atomic.Int64
}

func (c *progressReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if c.p != nil {
		c.p.Add(int64(n))
	}
	return n, err
}

func deletePrefix(ctx context.Context, b storage.Bucket, prefix string) error {
	objs, err := b.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := b.Delete(ctx, o.Key); err != nil {
			return err
		}
	}
	return nil
}
