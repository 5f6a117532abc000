// Package commitfn is the commit function: the one Lambda that links
// iceberg-go. Extract and load reach an iceberg sink's table through it
// (handler.RemoteLake): it prepares the table, finds a run's snapshot and
// commits a run's data files, on the Glue catalog with an s3:// warehouse.
//
// It commits only what the deployment allows: the spec must be one the
// functions are configured with, its table's namespace must be the
// deployment's Glue database and its warehouse must lie in the
// deployment's, which is what the function's IAM grants cover.
package commitfn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/sluice-etl/sluice/shared/adapter/table/gluecatalog"
	"github.com/sluice-etl/sluice/shared/adapter/table/icebergtable"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/handler"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
)

// Options configure a Committer.
type Options struct {
	// Endpoint reaches Glue and S3 on a local stack (AWS_ENDPOINT_URL);
	// empty is AWS.
	Endpoint string
	// Region is Glue's and S3's (empty: the SDK's, AWS_REGION).
	Region string
	// Table configures each table (commit retries).
	Table func(*icebergtable.Options)
	// Glue registers plain sinks' outputs (the register operation).
	Glue gluecatalog.API
}

// Committer answers the commit function's calls.
type Committer struct {
	s     handler.Settings
	d     handler.Deps
	opt   Options
	plans handler.PlanCache

	mu     sync.Mutex
	tables map[string]*icebergtable.Table // by spec hash
}

// New returns the commit function's handler.
func New(s handler.Settings, d handler.Deps, optFns ...func(*Options)) *Committer {
	c := &Committer{s: s, d: d, tables: map[string]*icebergtable.Table{}}
	for _, fn := range optFns {
		fn(&c.opt)
	}
	return c
}

// Close closes the tables' catalogs.
func (c *Committer) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, t := range c.tables {
		t.Close()
		delete(c.tables, h)
	}
	return nil
}

// Handle runs one operation on the table of in.Spec's sink: its iceberg
// table, or, for register, the Glue table of its plain output.
func (c *Committer) Handle(ctx context.Context, in handler.LakeInput) (*handler.LakeOutput, error) {
	if err := in.Op.Check(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	if in.Op == handler.LakeOpCompact {
		return c.compact(ctx, in.Spec)
	}
	p, err := c.plan(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	if in.Op == handler.LakeOpRegister {
		return c.register(ctx, p, in)
	}
	t, err := c.table(ctx, p, in.SpecHash)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	out := &handler.LakeOutput{Table: t.Name()}
	switch in.Op {
	case handler.LakeOpPrepare:
		if err = t.Prepare(ctx); err == nil {
			out.FieldIDs = t.FieldIDs()
		}
	case handler.LakeOpLookup:
		out.Parts, out.Done, err = t.Lookup(ctx, in.RunID)
	case handler.LakeOpCommit:
		if in.Manifest == nil || in.Manifest.RunID != in.RunID {
			return nil, fmt.Errorf("commit: the commit of run %s carries no manifest of it", in.RunID)
		}
		out.Parts, err = t.Commit(ctx, in.Manifest)
		out.Done = err == nil
	case handler.LakeOpCommitStream:
		if in.Stream == nil || len(in.Stream.Batches) == 0 {
			return nil, errors.New("commit: a stream commit carries no batches")
		}
		out.Added, err = t.CommitStream(ctx, in.Stream)
		out.Done = err == nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", in.Op, t.Name(), err)
	}
	return out, nil
}

// plan loads the spec in.Spec names: one of the deployment's, as the
// run planned it.
func (c *Committer) plan(ctx context.Context, in handler.LakeInput) (*plan.Plan, error) {
	if !c.configured(in.Spec) {
		return nil, fmt.Errorf("spec %s is not one this deployment runs (%s)", in.Spec, handler.EnvSpecs)
	}
	p, err := c.plans.Load(ctx, c.d.Open, in.Spec)
	if err != nil {
		return nil, err
	}
	if got := batch.SpecHash(p.Spec); got != in.SpecHash {
		return nil, fmt.Errorf("spec %s changed during the run (hash %s, the run has %s)", in.Spec, got, in.SpecHash)
	}
	return p, nil
}

// table opens (once per warm container and spec) the iceberg table of
// p's sink.
func (c *Committer) table(ctx context.Context, p *plan.Plan, hash string) (*icebergtable.Table, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.tables[hash]; ok {
		return t, nil
	}
	if err := c.allowed(p.Spec); err != nil {
		return nil, err
	}
	t, err := c.open(ctx, p)
	if err != nil {
		return nil, err
	}
	c.tables[hash] = t
	return t, nil
}

// register adds a plain sink's run output to its Glue table, which must
// be in the deployment's database, at a location in its output bucket.
func (c *Committer) register(ctx context.Context, p *plan.Plan, in handler.LakeInput) (*handler.LakeOutput, error) {
	k := p.Spec.Sink
	name := k.Table.Namespace + "." + k.Table.Name
	switch {
	case !handler.RegistersInGlue(p):
		return nil, fmt.Errorf("commit: spec %q does not register its output in glue", p.Spec.Name)
	case k.Table.Namespace != c.s.GlueDatabase:
		return nil, fmt.Errorf("commit: spec %q: table %s is outside this deployment's Glue database %s (%s)", p.Spec.Name, name, c.s.GlueDatabase, handler.EnvGlueDatabase)
	case c.s.OutputBucket != "" && !strings.HasPrefix(in.Location, "s3://"+c.s.OutputBucket+"/"):
		return nil, fmt.Errorf("commit: location %s is outside this deployment's output bucket %s", in.Location, c.s.OutputBucket)
	case in.Manifest == nil || in.Manifest.RunID != in.RunID:
		return nil, fmt.Errorf("commit: the registration of run %s carries no manifest of it", in.RunID)
	case c.opt.Glue == nil:
		return nil, errors.New("commit: this function has no Glue client")
	}
	cat, err := gluecatalog.New(c.opt.Glue, p.Spec, &p.Out, in.Location)
	if err == nil {
		err = cat.Register(ctx, in.Manifest)
	}
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", name, err)
	}
	return &handler.LakeOutput{Table: name, Done: true}, nil
}

func (c *Committer) open(ctx context.Context, p *plan.Plan) (*icebergtable.Table, error) {
	wh, err := handler.Warehouse(p.Spec, c.s.Warehouse)
	if err != nil {
		return nil, err
	}
	loc := icebergtable.Location{Kind: spec.CatalogGlue, Warehouse: wh, Region: c.opt.Region, Endpoint: c.opt.Endpoint}
	// The functions write the table's field ids (Prepare answers them),
	// so the table may evolve into any schema Iceberg allows.
	fns := []func(*icebergtable.Options){func(o *icebergtable.Options) { o.TableFieldIDs = true }}
	if c.opt.Table != nil {
		fns = append(fns, c.opt.Table)
	}
	return icebergtable.New(ctx, loc, p.Spec, &p.Out, fns...)
}

// configured reports whether loc is one of the deployment's specs.
func (c *Committer) configured(loc string) bool {
	for _, m := range []map[string]string{c.s.Specs, c.s.StreamSpecs} {
		for _, l := range m {
			if l == loc {
				return true
			}
		}
	}
	return false
}

// allowed checks the spec's table against what the deployment grants:
// the Glue database and the warehouse.
func (c *Committer) allowed(sp *spec.Spec) error {
	k := sp.Sink
	switch {
	case k.Format != codec.SinkIceberg:
		return fmt.Errorf("spec %q has a %s sink, not iceberg", sp.Name, k.Format)
	case k.Table.Namespace != c.s.GlueDatabase:
		return fmt.Errorf("spec %q: table %s.%s is outside this deployment's Glue database %s (%s)", sp.Name, k.Table.Namespace, k.Table.Name, c.s.GlueDatabase, handler.EnvGlueDatabase)
	}
	wh, err := handler.Warehouse(sp, c.s.Warehouse)
	if err != nil {
		return err
	}
	return within(wh, c.s.Warehouse)
}

// within checks that warehouse lies in the deployment's.
func within(warehouse, deployment string) error {
	b, p, err := spec.ParseWarehouse(warehouse)
	if err != nil {
		return err
	}
	db, dp, err := spec.ParseWarehouse(deployment)
	if err != nil {
		return fmt.Errorf("%s: %w", handler.EnvWarehouse, err)
	}
	under := dp == "" || p == dp || strings.HasPrefix(p, dp+"/")
	if b != db || !under {
		return fmt.Errorf("warehouse %s is outside this deployment's %s (%s)", warehouse, deployment, handler.EnvWarehouse)
	}
	return nil
}
