package batch

import (
	"bytes"
	"context"
	"fmt"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"io"
	"sync/atomic"
	"time"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/accounting"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/deadline"
	"github.com/sluice-etl/sluice/shared/core/plan"
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
	Parts    []Part            `json:"parts"`
	Rejects  *Part             `json:"rejects,omitempty"`
	Duration time.Duration     `json:"duration_ns"`
}

// TransformOptions configure one Transform call.
type TransformOptions struct {
	// StagingPrefix is where staged parts and rejects go.
	StagingPrefix string
	// Progress, if set, is advanced by decoded bytes as the chunk goes.
	Progress *atomic.Int64
	// OnReject, if set, sees each quarantined record (debug sampling).
	OnReject func(*RejectRecord)
	// OnKeep, if set, sees each kept record's outcome (local windows).
	OnKeep func(*plan.Outcome)
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
	began := time.Now()
	prefix := layout.ChunkPrefix(opt.StagingPrefix, job.RunID, chunk.Index)
	if err := deletePrefix(ctx, staging, prefix+"/"); err != nil {
		return nil, fmt.Errorf("transform: clear %s: %w", prefix, err)
	}
	r, err := in.NewRangeReader(ctx, job.Source.Key, chunk.Start, -1)
	if err != nil {
		return nil, fmt.Errorf("transform: read %s at %d: %w", job.Source.Key, chunk.Start, err)
	}
	defer r.Close()
	cr := &progressReader{r: r, p: opt.Progress}
	src := io.Reader(cr)
	if chunk.Start == 0 {
		dr, _, err := codec.Decompress(cr, job.Compression, job.Limits)
		if err != nil {
			return nil, fmt.Errorf("transform: %s: %w", job.Source.Key, err)
		}
		defer dr.Close()
		src = dr
		if job.Compression != codec.CompressionNone {
			// Decompress on another core while this one parses.
			ra := codec.ReadAhead(dr, 1<<20, 4)
			defer ra.Close()
			src = ra
		}
	}
	dec, err := newDecoder(src, p, job, chunk)
	if err != nil {
		return nil, fmt.Errorf("transform: %s: %w", job.Source.Key, err)
	}

	res := &ChunkResult{Index: chunk.Index, Start: chunk.Start}
	parts := newPartSet(ctx, staging, prefix, p.Spec, &p.Out)
	rejects := newRejectWriter(ctx, staging, layout.StagedRejectsKey(prefix), job.Source.Key, chunk.Index)
	rejects.onReject = opt.OnReject
	fail := func(err error) (*ChunkResult, error) {
		parts.abort()
		rejects.abort()
		return nil, err
	}
	pt := newPartitioner(p.Spec, &p.Full)
	proc := p.NewProcessor()
	failOnReject := p.Spec.Rejects.Policy == "fail"
	reserve := deadline.Reserve(ctx)
	var n int
	for {
		rec, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("transform: %s chunk %d: %w", job.Source.Key, chunk.Index, err))
		}
		if n++; n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return fail(err)
			}
			if deadline.Near(ctx, reserve) {
				// Stop with nothing staged rather than be killed half way;
				// the retry transforms the chunk again from its start.
				return fail(&deadline.StoppedError{What: fmt.Sprintf("transform %s chunk %d", job.Source.Key, chunk.Index), Done: n, Of: -1})
			}
		}
		out, err := proc.Process(rec)
		if err != nil {
			return fail(fmt.Errorf("transform: %s chunk %d: %w", job.Source.Key, chunk.Index, err))
		}
		switch out.Verdict {
		case plan.Keep:
			var part []byte
			if len(pt.idx) > 0 {
				part = pt.path(out.Full)
			}
			if err := parts.write(part, out.Row); err != nil {
				return fail(fmt.Errorf("transform: %w", err))
			}
			if opt.OnKeep != nil {
				opt.OnKeep(out)
			}
			res.Counts.AddOut()
		case plan.Filtered:
			res.Counts.AddFiltered(out.FilterReason)
		case plan.Reject:
			res.Counts.AddRejected(out.RuleKey())
			if err := rejects.write(rec, out); err != nil {
				return fail(fmt.Errorf("transform: %w", err))
			}
			if failOnReject {
				return fail(&RejectError{Line: rec.Line, Record: rec.Index, Rule: out.RuleKey(), Reason: out.Reason})
			}
		}
	}
	if res.Parts, err = parts.close(); err != nil {
		rejects.abort()
		return nil, fmt.Errorf("transform: %w", err)
	}
	if res.Rejects, err = rejects.close(); err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	res.End = dec.End()
	res.Lines = dec.Lines()
	res.Records = res.Counts.In
	res.BytesIn = cr.n
	res.Duration = time.Since(began)
	return res, nil
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
		return codec.NewCSVDecoder(r, p.Columns, *job.CSV, rng)
	case codec.FormatJSONL:
		return codec.NewJSONLDecoder(r, p.Columns, job.MaxRecord, rng), nil
	case codec.FormatJSON:
		return codec.NewJSONDecoder(r, p.Columns, job.MaxRecord), nil
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

// RejectRecord is one quarantined record as written to the rejects folder.
type RejectRecord struct {
	Source string `json:"source"`
	// Shard and Seq place a stream record: its shard and sequence number
	// (SubSeq numbers the user records of a KPL aggregate).
	Shard  string `json:"shard,omitempty"`
	Seq    string `json:"sequence_number,omitempty"`
	SubSeq int    `json:"sub_sequence_number,omitempty"`
	Chunk  int    `json:"chunk"`
	Line   int64  `json:"line,omitempty"`
	Record int64  `json:"record"`
	Offset int64  `json:"offset"`
	Field  string `json:"field,omitempty"`
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
	Raw    string `json:"raw"`
}

type rejectWriter struct {
	onReject func(*RejectRecord)
	ctx      context.Context
	b        storage.Bucket
	key      string
	source   string
	chunk    int
	w        storage.Writer
	cw       *countWriter
	n        int64
	line     []byte
}

func newRejectWriter(ctx context.Context, b storage.Bucket, key, source string, chunk int) *rejectWriter {
	return &rejectWriter{ctx: ctx, b: b, key: key, source: source, chunk: chunk}
}

// write appends one reject as a JSON line.
func (rw *rejectWriter) write(rec *codec.RawRecord, out *plan.Outcome) error {
	// Invalid UTF-8, including a rune cut by the size limit, becomes U+FFFD.
	raw := bytes.TrimRight(rec.Raw, "\r\n")
	if len(raw) > maxRawInReject {
		raw = raw[:maxRawInReject]
	}
	rr := RejectRecord{Source: rw.source, Chunk: rw.chunk, Line: rec.Line, Record: rec.Index, Offset: rec.Offset,
		Field: out.Field, Rule: out.Rule, Reason: out.Reason, Raw: string(raw)}
	if rw.onReject != nil {
		rw.onReject(&rr)
	}
	return rw.writeRecord(&rr)
}

// writeRecord appends a reject built by the caller.
func (rw *rejectWriter) writeRecord(rr *RejectRecord) error {
	if rw.w == nil {
		w, err := rw.b.NewWriter(rw.ctx, rw.key)
		if err != nil {
			return fmt.Errorf("create %s: %w", rw.key, err)
		}
		rw.w, rw.cw = w, &countWriter{w: w}
	}
	if len(rr.Raw) > maxRawInReject {
		rr.Raw = rr.Raw[:maxRawInReject]
	}
	rw.line = appendReject(rw.line[:0], rr)
	rw.n++
	_, err := rw.cw.Write(rw.line)
	return err
}

func (rw *rejectWriter) close() (*Part, error) {
	if rw.w == nil {
		return nil, nil
	}
	if err := rw.w.Close(); err != nil {
		return nil, fmt.Errorf("commit %s: %w", rw.key, err)
	}
	return &Part{Key: rw.key, Records: rw.n, Bytes: rw.cw.n}, nil
}

func (rw *rejectWriter) abort() {
	if rw.w != nil {
		_ = rw.w.Abort()
	}
}

// maxRawInReject bounds the source text kept with a reject.
const maxRawInReject = 4096
