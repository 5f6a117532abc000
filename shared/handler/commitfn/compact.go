package commitfn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/handler"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/compact"
)

// compact compacts the output of spec loc, or of every spec the
// deployment runs when loc is empty (the schedule's call). A spec whose
// compaction fails does not stop the others'; the errors are returned
// together.
func (c *Committer) compact(ctx context.Context, loc string) (*handler.LakeOutput, error) {
	locs := []string{loc}
	if loc == "" {
		locs = c.specs()
	} else if !c.configured(loc) {
		return nil, fmt.Errorf("commit: spec %s is not one this deployment runs (%s)", loc, handler.EnvSpecs)
	}
	out := &handler.LakeOutput{Done: true}
	var errs []error
	for _, l := range locs {
		done, err := c.compactSpec(ctx, l)
		if err != nil {
			errs = append(errs, fmt.Errorf("compact %s: %w", l, err))
			continue
		}
		if done != nil {
			out.Compacted = append(out.Compacted, *done)
		}
	}
	if len(errs) > 0 {
		out.Done = false
	}
	return out, errors.Join(errs...)
}

// specs lists the deployment's spec locations, once each.
func (c *Committer) specs() []string {
	var locs []string
	for _, m := range []map[string]string{c.s.Specs, c.s.StreamSpecs} {
		for _, l := range m {
			locs = append(locs, l)
		}
	}
	slices.Sort(locs)
	return slices.Compact(locs)
}

// compactSpec compacts one spec's output: its iceberg table, or its
// plain output's partitions (nil for a dynamodb sink).
func (c *Committer) compactSpec(ctx context.Context, loc string) (*handler.Compacted, error) {
	p, err := c.plans.Load(ctx, c.d.Open, loc)
	if err != nil {
		return nil, err
	}
	k := p.Spec.Sink.Compact
	switch p.Spec.Sink.Format {
	case codec.SinkDynamoDB:
		return nil, nil
	case codec.SinkIceberg:
		t, err := c.table(ctx, p, batch.SpecHash(p.Spec))
		if err != nil {
			return nil, err
		}
		rep, err := t.Compact(ctx, k.TargetBytesOrDefault(), k.MinFilesOrDefault())
		if err != nil {
			return nil, err
		}
		return &handler.Compacted{Spec: loc, Sink: t.Name(), FilesBefore: rep.FilesBefore, FilesAfter: rep.FilesAfter, Merged: rep.Merged, Rows: rep.Rows}, nil
	}
	return c.compactPlain(ctx, loc, p)
}

// compactPlain compacts a plain sink's output in the output bucket.
func (c *Committer) compactPlain(ctx context.Context, loc string, p *plan.Plan) (*handler.Compacted, error) {
	if c.s.OutputBucket == "" {
		return nil, fmt.Errorf("this function has no output bucket (%s)", handler.EnvOutputBucket)
	}
	b, err := c.d.Open(ctx, c.s.OutputBucket)
	if err != nil {
		return nil, err
	}
	name := handler.PipelineName(p.Spec.Name)
	out := layout.PipelinePrefix(c.s.OutputPrefix, name)
	k := p.Spec.Sink.Compact
	rep, err := compact.Plain(ctx, b, out, func(o *compact.Options) {
		o.TargetBytes, o.MinFiles, o.MinAge = k.TargetBytesOrDefault(), k.MinFilesOrDefault(), time.Duration(k.MinAge)
		o.SourcesPrefix = layout.PipelineSources(c.s.OutputPrefix, name)
	})
	if err != nil {
		return nil, err
	}
	return &handler.Compacted{Spec: loc, Sink: "s3://" + c.s.OutputBucket + "/" + out, FilesBefore: rep.FilesBefore, FilesAfter: rep.FilesAfter,
		Merged: rep.Merged, Rows: rep.Rows}, nil
}
