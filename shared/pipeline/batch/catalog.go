package batch

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// Catalog registers a succeeded run's published output in a data
// catalog, so that engines such as Athena query it with no crawler: the
// adapter behind it (shared/adapter/table/gluecatalog for sink.catalog
// glue on a jsonl, csv or parquet sink) creates or updates the table and
// adds the run's partitions. The pipeline knows it by this interface
// alone.
//
// The guarantees the Loader builds on:
//   - Finalize calls Register for a succeeded run only, once its parts
//     are published under the keys m.Parts lists, and before the
//     manifest and the success marker.
//   - Register is idempotent: registering a run again, or a run whose
//     partitions exist already, adds nothing and succeeds, so a retried
//     finalize or a rerun registers again safely.
//   - A Register error leaves the data files where they are; the Loader
//     fails the run with it.
type Catalog interface {
	// Register makes the data files m.Parts lists part of the catalog's
	// table.
	Register(ctx context.Context, m *output.Manifest) error
}

// ErrNoCatalog is returned, before anything is published, for a run
// whose jsonl, csv or parquet sink registers in glue but that has no
// Catalog: its output would not be registered.
var ErrNoCatalog = errors.New("the spec's sink registers its output in glue but no catalog is configured")

// ErrRegister wraps the error of a run whose output could not be
// registered in its catalog. The run fails; its data files stay.
var ErrRegister = errors.New("register the output in the catalog")

// toTables commits a succeeded run to its iceberg table and registers it
// in its catalog, if it has them. A failure marks m failed and is
// returned.
func (l *Loader) toTables(ctx context.Context, m *output.Manifest) error {
	if l.opt.Lake != nil {
		if err := l.commitLake(ctx, m); err != nil {
			return failRun(m, fmt.Errorf("commit to the table: %w", err))
		}
	}
	if l.opt.Catalog != nil {
		if err := l.opt.Catalog.Register(ctx, m); err != nil {
			return failRun(m, fmt.Errorf("%w: %w", ErrRegister, err))
		}
	}
	return nil
}

// failRun marks m failed with err, and returns err.
func failRun(m *output.Manifest, err error) error {
	m.Status, m.Error = output.StatusFailed, err.Error()
	return err
}
