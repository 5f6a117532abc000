// Package spectest runs a spec's test cases, for `sluice test`. A case's
// inline records go through what `sluice run` and the stream function
// use: the compiled plan, the stage functions (batch.Run, or
// stream.Pipeline.Apply for a case with arrival times) and the encoders,
// on in-memory buckets, with no AWS. What the run wrote (its parts, its
// rejects, its manifest counts and its closed windows) is read back and
// compared with what the case expects; each difference is one line.
package spectest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/adapter/storage/memblob"
	"github.com/sluice-etl/sluice/shared/core/accounting"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/core/window"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
	"github.com/sluice-etl/sluice/shared/pipeline/stream"
)

// Result is how one case went.
type Result struct {
	Test *spec.Test
	// Diffs are the differences between what the case expects and what
	// its run produced, one line each; none when it passed.
	Diffs []string
	// Err is set when the case could not be run at all.
	Err      error
	Duration time.Duration
}

// Passed reports whether the case ran and matched.
func (r *Result) Passed() bool { return r.Err == nil && len(r.Diffs) == 0 }

// Options tune Run.
type Options struct {
	// Clock stamps the runs and times the cases (default time.Now).
	Clock func() time.Time
}

// Run runs one case of p's spec.
func Run(ctx context.Context, p *plan.Plan, t *spec.Test, optFns ...func(*Options)) *Result {
	opt := Options{Clock: time.Now}
	for _, fn := range optFns {
		fn(&opt)
	}
	began := opt.Clock()
	res := &Result{Test: t}
	var g *got
	var err error
	if t.Context.Stream() {
		g, err = runStream(ctx, p, t)
	} else {
		g, err = runBatch(ctx, p, t, opt.Clock)
	}
	if err != nil {
		res.Err = err
	} else {
		res.Diffs = compare(p, t, g)
	}
	res.Duration = opt.Clock().Sub(began)
	return res
}

// got is what a case's run produced.
type got struct {
	rows    []row
	rejects []output.RejectRecord
	counts  accounting.Counts
	windows []window.Cell
	// err is the run's failure.
	err error
}

// The prefixes a case's run writes under, in its in-memory output.
const (
	outPrefix  = "out"
	lakePrefix = "lake/data"
)

// runBatch runs the case as `sluice run` runs a file: batch.Run, with
// the windows folded over the whole input.
func runBatch(ctx context.Context, p *plan.Plan, t *spec.Test, clock func() time.Time) (*got, error) {
	in, out := memblob.NewNamed("input"), memblob.NewNamed("output")
	key, data, err := batchInput(p.Spec, t)
	if err != nil {
		return nil, err
	}
	if err := storage.WriteAll(ctx, in, key, data); err != nil {
		return nil, fmt.Errorf("write the input: %w", err)
	}
	opt := batch.RunOptions{Input: in, Key: key, Output: out, OutPrefix: outPrefix, Clock: clock}
	table, lake := newSinks(p.Spec, out)
	switch {
	case table != nil:
		opt.Table = table
	case lake != nil:
		opt.Lake = lake
	case p.Spec.Sink.Catalog == spec.CatalogGlue:
		opt.Catalog = memCatalog{}
	}
	var folder *stream.Folder
	if p.Spec.Window != nil {
		folder, err = stream.NewFolder(p)
		if err != nil && !errors.Is(err, stream.ErrArrivalWindows) {
			return nil, fmt.Errorf("window: %w", err)
		}
		if folder != nil {
			opt.Fold = folder.Chunk
		}
	}
	m, runErr := batch.Run(ctx, p, opt)
	g := &got{err: runErr}
	if m == nil {
		return g, nil
	}
	g.counts = m.Counts
	if g.rejects, err = readRejects(ctx, out, m.Rejects); err != nil {
		return nil, err
	}
	if g.rows, err = readOutput(ctx, p, out, m.Parts, table); err != nil {
		return nil, err
	}
	if runErr == nil && folder != nil {
		g.windows = folder.Cells()
	}
	return g, nil
}

// newSinks returns the table of a dynamodb sink or the lake of an
// iceberg sink, in memory; nil for the others.
func newSinks(sp *spec.Spec, out storage.Bucket) (*memTable, *memLake) {
	switch sp.Sink.Format {
	case codec.SinkDynamoDB:
		return newMemTable(sp.Sink.Key), nil
	case codec.SinkIceberg:
		return nil, newMemLake(out, lakePrefix)
	}
	return nil, nil
}

// batchInput is the case's input object: its key, and its bytes as the
// spec's source reads them (JSON records as JSON Lines, or as one array
// for source.format json; compressed if the spec says so).
func batchInput(sp *spec.Spec, t *spec.Test) (string, []byte, error) {
	key := t.Context.SourceKey
	var data []byte
	if in := t.Input; in.CSV != nil {
		if key == "" {
			key = "input.csv"
		}
		data = []byte(*in.CSV)
	} else {
		if key == "" {
			key = "input.jsonl"
			if sp.Source.Format == codec.FormatJSON {
				key = "input.json"
			}
		}
		data = jsonInput(in.JSON, settledFormat(sp, key) == codec.FormatJSON)
	}
	data, err := compress(data, sp.Source.Compression)
	return key, data, err
}

// settledFormat is the format the spec's source reads key in, when its
// name tells.
func settledFormat(sp *spec.Spec, key string) codec.Format {
	if f := sp.Source.Format; f != "" && f != codec.FormatAuto {
		return f
	}
	return codec.FormatFromName(key)
}

// jsonInput writes JSON records as JSON Lines, or as one array.
func jsonInput(objs []spec.TestObject, array bool) []byte {
	var b bytes.Buffer
	if array {
		b.WriteByte('[')
	}
	for i, o := range objs {
		if array && i > 0 {
			b.WriteString(",\n")
		}
		b.Write(o.JSON())
		if !array {
			b.WriteByte('\n')
		}
	}
	if array {
		b.WriteString("]\n")
	}
	return b.Bytes()
}

// compress compresses the input as a spec that names its compression
// expects it.
func compress(data []byte, c codec.Compression) ([]byte, error) {
	var b bytes.Buffer
	switch c {
	case codec.Gzip:
		w := gzip.NewWriter(&b)
		if _, err := w.Write(data); err != nil {
			return nil, fmt.Errorf("gzip the input: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("gzip the input: %w", err)
		}
	case codec.Zstd:
		w, err := zstd.NewWriter(&b)
		if err != nil {
			return nil, fmt.Errorf("zstd the input: %w", err)
		}
		_, _ = w.Write(data) // errors come back from Close
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("zstd the input: %w", err)
		}
	default:
		return data, nil
	}
	return b.Bytes(), nil
}

// shard is the shard a stream case's records arrive on.
const shard = "spectest/shardId-000000000000"

// runStream runs the case as the stream function applies a shard's
// batch: one message per record, with its arrival time, applied once.
func runStream(ctx context.Context, p *plan.Plan, t *spec.Test) (*got, error) {
	staging, out := memblob.NewNamed("staging"), memblob.NewNamed("output")
	msgs, err := messages(p.Spec, t)
	if err != nil {
		return nil, err
	}
	now := latest(msgs)
	if t.Context.Now != nil {
		now = time.Time(*t.Context.Now)
	}
	cfg := stream.Config{Plan: p, Staging: staging, Out: out, StagingPrefix: "staging", OutPrefix: outPrefix,
		Store: &window.MemStore{}, Now: func() time.Time { return now }}
	table, lake := newSinks(p.Spec, out)
	if table != nil {
		cfg.Table = table
	}
	if lake != nil {
		cfg.Lake = lake
	}
	pl, err := stream.New(cfg)
	if err != nil {
		return &got{err: err}, nil
	}
	res, err := pl.Apply(ctx, shard, msgs)
	g := &got{err: err, counts: res.Counts, windows: window.MergeShards(res.Closed)}
	if err != nil {
		return g, nil
	}
	return g, g.readStream(ctx, p, out, res.Published, table, msgs[0].Seq)
}

// readStream reads the rows and rejects a stream batch published.
func (g *got) readStream(ctx context.Context, p *plan.Plan, out storage.Bucket, published []string, table *memTable, first string) error {
	base := layout.PipelinePrefix(outPrefix, p.Spec.Name)
	rejectsKey := layout.StreamRejectsKey(layout.LocalRejects(base), shard, first)
	lateKey := layout.LateKey(base, shard, first)
	var parts []output.Part
	for _, k := range published {
		switch k {
		case rejectsKey:
			rr, err := readRejects(ctx, out, []output.Part{{Key: k}})
			if err != nil {
				return err
			}
			g.rejects = rr
		case lateKey:
		default:
			parts = append(parts, output.Part{Key: k})
		}
	}
	rows, err := readOutput(ctx, p, out, parts, table)
	g.rows = rows
	return err
}

// messages are the case's records as stream messages: one per JSON
// record or CSV line (the header left out), numbered from 1.
func messages(sp *spec.Spec, t *spec.Test) ([]stream.Message, error) {
	var data [][]byte
	if t.Input.CSV != nil {
		header := sp.Source.CSV.HasHeader()
		for _, l := range bytes.Split([]byte(*t.Input.CSV), []byte("\n")) {
			switch {
			case len(bytes.TrimSpace(l)) == 0:
			case header:
				header = false
			default:
				data = append(data, bytes.TrimSuffix(l, []byte("\r")))
			}
		}
	} else {
		for _, o := range t.Input.JSON {
			data = append(data, o.JSON())
		}
	}
	if len(data) == 0 || len(data) != len(t.Context.Arrivals) {
		return nil, fmt.Errorf("%d arrival times for %d input records", len(t.Context.Arrivals), len(data))
	}
	msgs := make([]stream.Message, len(data))
	for i, d := range data {
		msgs[i] = stream.Message{Shard: shard, Seq: fmt.Sprint(i + 1), Arrival: time.Time(t.Context.Arrivals[i]), Data: d}
	}
	return msgs, nil
}

// latest is the latest arrival.
func latest(msgs []stream.Message) time.Time {
	var t time.Time
	for _, m := range msgs {
		if m.Arrival.After(t) {
			t = m.Arrival
		}
	}
	return t
}
