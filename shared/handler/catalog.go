package handler

import (
	"context"
	"fmt"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
)

// RegistersInGlue reports whether p's jsonl, csv or parquet sink
// registers its output in Glue (sink.catalog glue).
func RegistersInGlue(p *plan.Plan) bool {
	switch p.Spec.Sink.Format.OrDefault() {
	case codec.SinkJSONL, codec.SinkCSV, codec.SinkParquet:
		return p.Spec.Sink.Catalog == spec.CatalogGlue
	}
	return false
}

// catalog opens the Glue registration of p's output, whose parts go
// under prefix in the output bucket; nil for a sink that registers
// nothing, or for a function without a commit function (the load then
// fails with batch.ErrNoCatalog before publishing anything).
func (l *Loader) catalog(ctx context.Context, p *plan.Plan, specLoc, prefix string) (batch.Catalog, error) {
	if !RegistersInGlue(p) || l.d.Catalogs == nil {
		return nil, nil
	}
	c, err := l.d.Catalogs(ctx, p, specLoc, "s3://"+l.s.OutputBucket+"/"+prefix)
	if err != nil {
		return nil, fmt.Errorf("glue registration: %w", err)
	}
	return c, nil
}
