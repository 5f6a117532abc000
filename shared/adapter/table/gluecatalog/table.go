package gluecatalog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
)

// IncompatibleError says the Glue table exists with another location or
// other partition keys than the spec's output: sluice changes neither,
// since the partitions registered so far depend on them. Drop the table,
// or name another one in sink.table.
type IncompatibleError struct {
	Table string
	// Diffs are the differences, one per property.
	Diffs []string
}

func (e *IncompatibleError) Error() string {
	return fmt.Sprintf("glue table %s exists with %s", e.Table, strings.Join(e.Diffs, "; "))
}

// errRace says another writer created or changed the table in between:
// read it again.
var errRace = errors.New("the table changed while it was being written")

// ensureTable creates the table, or updates it to the spec's columns and
// storage, until it holds them or the attempts run out.
func (c *Catalog) ensureTable(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		have, err := c.getTable(ctx)
		switch {
		case err != nil:
			return err
		case have == nil:
			err = c.create(ctx)
		default:
			err = c.update(ctx, have)
		}
		if !errors.Is(err, errRace) || attempt >= c.opt.Attempts {
			return err
		}
	}
}

// getTable reads the table; a missing table is nil, a missing database
// ErrNoDatabase.
func (c *Catalog) getTable(ctx context.Context) (*types.Table, error) {
	out, err := c.api.GetTable(ctx, &glue.GetTableInput{CatalogId: c.catalogID(), DatabaseName: &c.db, Name: &c.name})
	var nf *types.EntityNotFoundException
	switch {
	case errors.As(err, &nf):
		return nil, c.checkDatabase(ctx)
	case err != nil:
		return nil, fmt.Errorf("get table: %w", err)
	}
	return out.Table, nil
}

// checkDatabase returns ErrNoDatabase when the database does not exist.
func (c *Catalog) checkDatabase(ctx context.Context) error {
	_, err := c.api.GetDatabase(ctx, &glue.GetDatabaseInput{CatalogId: c.catalogID(), Name: &c.db})
	var nf *types.EntityNotFoundException
	switch {
	case errors.As(err, &nf):
		return fmt.Errorf("%w: %s (create it, e.g. aws glue create-database --database-input Name=%s)", ErrNoDatabase, c.db, c.db)
	case err != nil:
		return fmt.Errorf("get database %s: %w", c.db, err)
	}
	return nil
}

// create creates the table; one another writer created first is a race.
func (c *Catalog) create(ctx context.Context) error {
	_, err := c.api.CreateTable(ctx, &glue.CreateTableInput{CatalogId: c.catalogID(), DatabaseName: &c.db, TableInput: c.want})
	var exists *types.AlreadyExistsException
	switch {
	case errors.As(err, &exists):
		return errRace
	case err != nil:
		return fmt.Errorf("create table: %w", err)
	}
	return nil
}

// update brings an existing table to the spec's columns and storage, on
// the version it was read at; one another writer changed first is a race.
func (c *Catalog) update(ctx context.Context, have *types.Table) error {
	if diffs := c.incompatible(have); len(diffs) > 0 {
		return &IncompatibleError{Table: c.Table(), Diffs: diffs}
	}
	if c.current(have) {
		return nil
	}
	_, err := c.api.UpdateTable(ctx, &glue.UpdateTableInput{CatalogId: c.catalogID(), DatabaseName: &c.db,
		TableInput: c.merged(have), VersionId: have.VersionId})
	var conflict *types.ConcurrentModificationException
	switch {
	case errors.As(err, &conflict):
		return errRace
	case err != nil:
		return fmt.Errorf("update table: %w", err)
	}
	return nil
}

// incompatible lists what sluice will not change in an existing table:
// its location and its partition keys.
func (c *Catalog) incompatible(have *types.Table) []string {
	var diffs []string
	want := c.want.StorageDescriptor.Location
	if sd := have.StorageDescriptor; sd == nil || strings.TrimSuffix(aws.ToString(sd.Location), "/") != strings.TrimSuffix(aws.ToString(want), "/") {
		diffs = append(diffs, fmt.Sprintf("location %s, not this output's %s", location(have), aws.ToString(want)))
	}
	if h, w := columnNames(have.PartitionKeys), columnNames(c.want.PartitionKeys); !slices.Equal(h, w) {
		diffs = append(diffs, fmt.Sprintf("partition keys [%s], not the spec's [%s]", strings.Join(h, ", "), strings.Join(w, ", ")))
	}
	return diffs
}

func location(t *types.Table) string {
	if t.StorageDescriptor == nil {
		return "(none)"
	}
	return aws.ToString(t.StorageDescriptor.Location)
}

func columnNames(cols []types.Column) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = aws.ToString(c.Name)
	}
	return names
}

// current reports whether the table has the spec's columns, storage,
// SerDe, type and parameters.
func (c *Catalog) current(have *types.Table) bool {
	h, w := have.StorageDescriptor, c.want.StorageDescriptor
	return aws.ToString(have.TableType) == aws.ToString(c.want.TableType) &&
		slices.EqualFunc(h.Columns, w.Columns, sameColumn) &&
		aws.ToString(h.InputFormat) == aws.ToString(w.InputFormat) &&
		aws.ToString(h.OutputFormat) == aws.ToString(w.OutputFormat) &&
		h.Compressed == w.Compressed &&
		sameSerDe(h.SerdeInfo, w.SerdeInfo) &&
		maps.Equal(owned(have.Parameters), c.want.Parameters)
}

func sameColumn(a, b types.Column) bool {
	return aws.ToString(a.Name) == aws.ToString(b.Name) && aws.ToString(a.Type) == aws.ToString(b.Type) &&
		aws.ToString(a.Comment) == aws.ToString(b.Comment)
}

func sameSerDe(a, b *types.SerDeInfo) bool {
	if a == nil || b == nil {
		return a == b
	}
	return aws.ToString(a.SerializationLibrary) == aws.ToString(b.SerializationLibrary) && maps.Equal(a.Parameters, b.Parameters)
}

// owned are the parameters among params that TableInput sets.
func owned(params map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range ownedParameters {
		if v, ok := params[k]; ok {
			out[k] = v
		}
	}
	return out
}

// merged is the table input of an update: the spec's columns, storage,
// SerDe and parameters over what the table has, keeping the parameters
// and storage settings sluice does not set.
func (c *Catalog) merged(have *types.Table) *types.TableInput {
	in := *c.want
	in.Description, in.Owner, in.Retention = have.Description, have.Owner, have.Retention
	in.Parameters = maps.Clone(have.Parameters)
	if in.Parameters == nil {
		in.Parameters = map[string]string{}
	}
	for _, k := range ownedParameters {
		delete(in.Parameters, k)
	}
	maps.Copy(in.Parameters, c.want.Parameters)
	sd := *have.StorageDescriptor
	w := c.want.StorageDescriptor
	sd.Columns, sd.Location, sd.InputFormat, sd.OutputFormat = w.Columns, w.Location, w.InputFormat, w.OutputFormat
	sd.SerdeInfo, sd.Compressed = w.SerdeInfo, w.Compressed
	in.StorageDescriptor = &sd
	return &in
}
