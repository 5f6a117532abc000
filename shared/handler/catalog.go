package handler

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/sluice-etl/sluice/shared/adapter/table/gluecatalog"
	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
)

// registersInGlue reports whether p's jsonl, csv or parquet sink
// registers its output in Glue (sink.catalog glue).
func registersInGlue(p *plan.Plan) bool {
	switch p.Spec.Sink.Format.OrDefault() {
	case codec.SinkJSONL, codec.SinkCSV, codec.SinkParquet:
		return p.Spec.Sink.Catalog == spec.CatalogGlue
	}
	return false
}

// catalog opens the Glue registration of p's output, whose parts go
// under prefix in the output bucket; nil for a sink that registers
// nothing, or for a function without a Glue client (the load then fails
// with batch.ErrNoCatalog before publishing anything).
func (l *Loader) catalog(p *plan.Plan, prefix string) (batch.Catalog, error) {
	if !registersInGlue(p) || l.d.Catalogs == nil {
		return nil, nil
	}
	t := p.Spec.Sink.Table
	if db := l.s.GlueDatabase; db != "" && t.Namespace != db {
		return nil, fmt.Errorf("spec %q: table %s.%s is outside this deployment's Glue database %s (%s)", p.Spec.Name, t.Namespace, t.Name, db, EnvGlueDatabase)
	}
	return l.d.Catalogs(p, "s3://"+l.s.OutputBucket+"/"+prefix)
}

// Catalogs is Deps.Catalogs: Glue registrations through the function's
// Glue client.
func (env *Env) Catalogs() func(p *plan.Plan, location string) (batch.Catalog, error) {
	client := glue.NewFromConfig(env.AWS)
	return func(p *plan.Plan, location string) (batch.Catalog, error) {
		c, err := gluecatalog.New(client, p.Spec, &p.Out, location)
		if err != nil {
			return nil, fmt.Errorf("glue registration: %w", err)
		}
		return c, nil
	}
}
