package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/pipeline/compact"
)

// cmdCompact is `sluice compact`: the small files of an output's
// partitions merged into files of sink.compact.target_bytes, as the
// stack's schedule does on AWS.
func cmdCompact(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return exit(stderr, "sluice compact", runCompact(ctx, args, stdout, stderr))
}

// CompactResult is what `sluice compact --json` prints.
type CompactResult struct {
	Sink        string `json:"sink"`
	FilesBefore int    `json:"files_before"`
	FilesAfter  int    `json:"files_after"`
	Merged      int    `json:"files_merged"`
	Written     int    `json:"files_written"`
	Rows        int64  `json:"rows"`
	Resumed     int    `json:"merges_resumed,omitempty"`
	Snapshot    int64  `json:"snapshot_id,omitempty"`
}

func runCompact(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := &runCmd{stdout: stdout, stderr: stderr}
	fs := newFlagSet("sluice compact", stderr)
	fs.StringVar(&c.specPath, "spec", "", "the pipeline spec whose output to compact")
	fs.StringVar(&c.output, "output", "", "the output: a folder or s3://bucket/prefix, as sluice run was given")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	c.aws.add(fs)
	if err := fs.Parse(args); err != nil {
		return silent(err)
	}
	if c.specPath == "" || c.output == "" {
		return exitf(2, "usage: sluice compact --spec FILE --output DIR|s3://BUCKET/PREFIX [--endpoint URL] [--region R] [--json]\n")
	}
	p, err := plan.FromFile(c.specPath)
	if err != nil {
		return err
	}
	c.pl = p
	// Not while a run writes the same folder.
	unlock, err := lockOutput(ctx, c.output, c.stderr)
	if err != nil {
		return err
	}
	defer unlock()
	res, err := c.compact(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "compacted %s: %d files merged into %d (%d rows); %d data files before, %d after\n",
		res.Sink, res.Merged, res.Written, res.Rows, res.FilesBefore, res.FilesAfter)
	return nil
}

// compact compacts the spec's output: the iceberg table in one replace
// commit, or a plain output's partitions.
func (c *runCmd) compact(ctx context.Context) (*CompactResult, error) {
	k := c.pl.Spec.Sink
	switch k.Format {
	case codec.SinkDynamoDB:
		return nil, fmt.Errorf("the dynamodb sink writes no files to compact")
	case codec.SinkIceberg:
		if err := c.openLake(ctx); err != nil {
			return nil, err
		}
		defer c.lake.Close()
		rep, err := c.lake.Compact(ctx, k.Compact.TargetBytesOrDefault(), k.Compact.MinFilesOrDefault())
		if err != nil {
			return nil, err
		}
		return &CompactResult{Sink: c.lake.Name(), FilesBefore: rep.FilesBefore, FilesAfter: rep.FilesAfter, Merged: rep.Merged,
			Written: rep.Written, Rows: rep.Rows, Snapshot: rep.Snapshot}, nil
	}
	out, prefix, err := c.openOutput(ctx)
	if err != nil {
		return nil, err
	}
	rep, err := compact.Plain(ctx, out, prefix, func(o *compact.Options) {
		o.TargetBytes, o.MinFiles, o.MinAge = k.Compact.TargetBytesOrDefault(), k.Compact.MinFilesOrDefault(), time.Duration(k.Compact.MinAge)
		o.SourcesPrefix = layout.LocalSources(prefix)
	})
	if err != nil {
		return nil, err
	}
	return &CompactResult{Sink: c.output, FilesBefore: rep.FilesBefore, FilesAfter: rep.FilesAfter, Merged: rep.Merged,
		Written: rep.Merges, Rows: rep.Rows, Resumed: rep.Resumed}, nil
}
