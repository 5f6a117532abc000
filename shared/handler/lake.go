package handler

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sluice-etl/sluice/shared/adapter/storage"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/enum"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
	"github.com/sluice-etl/sluice/shared/pipeline/stream"
)

// The iceberg sink on AWS. The commit function (functions/commit) is the
// only one that links iceberg-go: extract and load reach the table through
// it, by a synchronous Lambda invoke per call of batch.Lake, so their
// bootstraps stay small. LakeInput and LakeOutput are that call's payload.

// LakeOp is what the commit function is asked to do.
type LakeOp string

// Operations of the commit function, one per method of batch.Lake that
// needs the catalog.
const (
	// LakeOpPrepare creates the table, or evolves it to the spec's output,
	// or refuses the spec; it answers the table's field ids.
	LakeOpPrepare LakeOp = "prepare"
	// LakeOpLookup finds a run's snapshot.
	LakeOpLookup LakeOp = "lookup"
	// LakeOpCommit commits a run's data files.
	LakeOpCommit LakeOp = "commit"
	// LakeOpCommitStream commits a shard's held batches.
	LakeOpCommitStream LakeOp = "commit-stream"
	// LakeOpRegister registers a plain sink's run output in Glue.
	LakeOpRegister LakeOp = "register"
	// LakeOpCompact compacts a spec's output, or with no spec every
	// configured spec's (the stack's schedule).
	LakeOpCompact LakeOp = "compact"
)

// LakeOps are the commit function's operations.
var LakeOps = enum.Set[LakeOp]{Name: "operation", Values: []LakeOp{LakeOpPrepare, LakeOpLookup, LakeOpCommit, LakeOpCommitStream, LakeOpRegister, LakeOpCompact}}

// Check validates an operation against LakeOps.
func (o LakeOp) Check() error { return LakeOps.Check(o) }

// LakeInput is the commit function's input.
type LakeInput struct {
	Op LakeOp `json:"op"`
	// Spec is the spec's location, as the functions' SLUICE_SPECS name
	// it, and SpecHash the hash of the spec the run planned with.
	Spec     string           `json:"spec"`
	SpecHash string           `json:"spec_hash"`
	RunID    string           `json:"run_id,omitempty"`
	Manifest *output.Manifest `json:"manifest,omitempty"`
	// Stream is the shard's commit, for commit-stream.
	Stream *stream.Commit `json:"stream,omitempty"`
	// Location is where a plain sink's parts go (s3://bucket/prefix),
	// for register.
	Location string `json:"location,omitempty"`
}

// LakeOutput is the commit function's answer: for lookup and commit, the
// data files of the run's snapshot; for lookup, whether there is one; for
// commit-stream, the number of files added.
type LakeOutput struct {
	Table string        `json:"table"`
	Parts []output.Part `json:"parts,omitempty"`
	Done  bool          `json:"done,omitempty"`
	Added int           `json:"added,omitempty"`
	// Compacted is what a compact operation did, per spec.
	Compacted []Compacted `json:"compacted,omitempty"`
	// FieldIDs are the prepared table's field ids of the spec's output
	// columns, in order: the ids the data files must carry.
	FieldIDs []int `json:"field_ids,omitempty"`
}

// Compacted is one spec's output compacted.
type Compacted struct {
	Spec        string `json:"spec"`
	Sink        string `json:"sink"`
	FilesBefore int    `json:"files_before"`
	FilesAfter  int    `json:"files_after"`
	Merged      int    `json:"files_merged"`
	Rows        int64  `json:"rows"`
}

// LakeInvoker calls the commit function with a payload and returns its
// answer; a function error comes back as an error.
type LakeInvoker interface {
	InvokeLake(ctx context.Context, payload []byte) ([]byte, error)
}

// Warehouse is the warehouse of sp's glue catalog: sink.warehouse, or
// the deployment's (SLUICE_WAREHOUSE) when the spec names none.
func Warehouse(sp *spec.Spec, deployment string) (string, error) {
	k := sp.Sink
	if k.Catalog != spec.CatalogGlue {
		return "", fmt.Errorf("the iceberg sink's %s catalog is for sluice run on one machine; the AWS functions commit to catalog: glue", k.Catalog)
	}
	switch {
	case k.Warehouse != "":
		return k.Warehouse, nil
	case deployment != "":
		return deployment, nil
	}
	return "", fmt.Errorf("spec %q names no sink.warehouse, and this function has no %s", sp.Name, EnvWarehouse)
}

// LakeClient reaches iceberg sinks' tables through the commit function.
type LakeClient struct {
	Invoker LakeInvoker
	Open    Opener
	// Warehouse is the deployment's warehouse, s3://bucket/prefix.
	Warehouse string
}

// Lake returns the table of p's iceberg sink (nil for another sink), for
// the batch and the stream paths. specLoc is the spec's location as
// SLUICE_SPECS or SLUICE_STREAM_SPECS names it: the commit function loads
// the same spec.
func (c LakeClient) Lake(ctx context.Context, p *plan.Plan, specLoc string) (Lake, error) {
	if p.Spec.Sink.Format != codec.SinkIceberg {
		return nil, nil
	}
	wh, err := Warehouse(p.Spec, c.Warehouse)
	if err != nil {
		return nil, fmt.Errorf("iceberg sink: %w", err)
	}
	bucket, whPrefix, err := spec.ParseWarehouse(wh)
	if err != nil {
		return nil, fmt.Errorf("iceberg sink: %w", err)
	}
	files, err := c.Open(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("iceberg sink: open the warehouse %s: %w", bucket, err)
	}
	// The commit function's catalog puts the table there too (layout).
	t := p.Spec.Sink.Table
	prefix := layout.TableDataPrefix(layout.TableLocation(whPrefix, t.Namespace, t.Name))
	return &remoteLake{inv: c.Invoker, files: files, prefix: prefix, spec: specLoc, hash: batch.SpecHash(p.Spec)}, nil
}

// remoteLake is batch.Lake over the commit function.
type remoteLake struct {
	inv    LakeInvoker
	files  storage.Bucket
	prefix string
	spec   string
	hash   string
	ids    []int // the field ids Prepare answered
}

var (
	_ batch.LakeFieldIDs = (*remoteLake)(nil)
	_ stream.Lake        = (*remoteLake)(nil)
)

// FieldIDs are the table's field ids of the output columns, once
// prepared.
func (r *remoteLake) FieldIDs() []int { return r.ids }

func (r *remoteLake) Files() (storage.Bucket, string) { return r.files, r.prefix }

func (r *remoteLake) Prepare(ctx context.Context) error {
	out, err := r.call(ctx, LakeInput{Op: LakeOpPrepare})
	if err != nil {
		return err
	}
	r.ids = out.FieldIDs
	return nil
}

func (r *remoteLake) Lookup(ctx context.Context, runID string) ([]output.Part, bool, error) {
	out, err := r.call(ctx, LakeInput{Op: LakeOpLookup, RunID: runID})
	if err != nil {
		return nil, false, err
	}
	return out.Parts, out.Done, nil
}

func (r *remoteLake) Commit(ctx context.Context, m *output.Manifest) ([]output.Part, error) {
	out, err := r.call(ctx, LakeInput{Op: LakeOpCommit, RunID: m.RunID, Manifest: m})
	if err != nil {
		return nil, err
	}
	return out.Parts, nil
}

func (r *remoteLake) CommitStream(ctx context.Context, c *stream.Commit) (int, error) {
	out, err := r.call(ctx, LakeInput{Op: LakeOpCommitStream, Stream: c})
	if err != nil {
		return 0, err
	}
	return out.Added, nil
}

// Catalog returns the Glue registration of p's plain output, whose parts
// go under location, through the commit function.
func (c LakeClient) Catalog(_ context.Context, p *plan.Plan, specLoc, location string) (batch.Catalog, error) {
	return &remoteCatalog{r: &remoteLake{inv: c.Invoker, spec: specLoc, hash: batch.SpecHash(p.Spec)}, location: location}, nil
}

// remoteCatalog is batch.Catalog over the commit function.
type remoteCatalog struct {
	r        *remoteLake
	location string
}

var _ batch.Catalog = (*remoteCatalog)(nil)

func (c *remoteCatalog) Register(ctx context.Context, m *output.Manifest) error {
	_, err := c.r.call(ctx, LakeInput{Op: LakeOpRegister, RunID: m.RunID, Manifest: m, Location: c.location})
	return err
}

func (r *remoteLake) call(ctx context.Context, in LakeInput) (*LakeOutput, error) {
	in.Spec, in.SpecHash = r.spec, r.hash
	payload, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", in.Op, err)
	}
	raw, err := r.inv.InvokeLake(ctx, payload)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", in.Op, err)
	}
	var out LakeOutput
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("table %s: the commit function answered %q: %w", in.Op, truncate(raw, 200), err)
	}
	return &out, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// Lake is an iceberg sink's table, for both paths.
type Lake interface {
	batch.Lake
	stream.Lake
}

// lake opens the table of p's iceberg sink; nil for another sink.
func (d *Deps) lake(ctx context.Context, p *plan.Plan, specLoc string) (Lake, error) {
	if p.Spec.Sink.Format != codec.SinkIceberg {
		return nil, nil
	}
	if d.Lakes == nil {
		return nil, fmt.Errorf("spec %s has an iceberg sink, and this function has no commit function (%s)", specLoc, EnvCommitFunction)
	}
	return d.Lakes(ctx, p, specLoc)
}
