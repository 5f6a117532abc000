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

// IncompatibleError says the Glue table cannot take the spec's output:
// it is at another location or has other partition keys (sluice changes
// neither, since the partitions registered so far depend on them: drop
// the table, or name another one in sink.table), or a column's type
// would change other than by widening (evolve.go).
type IncompatibleError struct {
	Table string
	// Diffs are the refused changes, one per property or column.
	Diffs []string
}

func (e *IncompatibleError) Error() string {
	return fmt.Sprintf("glue table %s cannot take the spec's output: %s", e.Table, strings.Join(e.Diffs, "; "))
}

// errRace says another writer created or changed the table in between:
// read it again.
var errRace = errors.New("the table changed while it was being written")

// ensureTable creates the table, or evolves it to take the spec's
// output, until it holds them or the attempts run out. It returns the
// table's storage descriptor, which new partitions copy.
func (c *Catalog) ensureTable(ctx context.Context) (*types.StorageDescriptor, error) {
	for attempt := 1; ; attempt++ {
		have, err := c.getTable(ctx)
		var sd *types.StorageDescriptor
		switch {
		case err != nil:
			return nil, err
		case have == nil:
			sd, err = c.want.StorageDescriptor, c.create(ctx)
		default:
			sd, err = c.update(ctx, have)
		}
		if !errors.Is(err, errRace) || attempt >= c.opt.Attempts {
			return sd, err
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

// update evolves an existing table to take the spec's output, on the
// version it was read at, and returns its storage descriptor after; one
// another writer changed first is a race.
func (c *Catalog) update(ctx context.Context, have *types.Table) (*types.StorageDescriptor, error) {
	ev := c.evolution(have)
	if err := ev.Err(); err != nil {
		return nil, err
	}
	if !ev.Update {
		return have.StorageDescriptor, nil
	}
	in := c.merged(have, ev.columns)
	_, err := c.api.UpdateTable(ctx, &glue.UpdateTableInput{CatalogId: c.catalogID(), DatabaseName: &c.db,
		TableInput: in, VersionId: have.VersionId})
	var conflict *types.ConcurrentModificationException
	switch {
	case errors.As(err, &conflict):
		return nil, errRace
	case err != nil:
		return nil, fmt.Errorf("update table: %w", err)
	}
	return in.StorageDescriptor, nil
}

// incompatible lists what sluice will not change in an existing table:
// its location and its partition keys.
func (c *Catalog) incompatible(have *types.Table) []string {
	var diffs []string
	want := c.want.StorageDescriptor.Location
	if sd := have.StorageDescriptor; sd == nil || strings.TrimSuffix(aws.ToString(sd.Location), "/") != strings.TrimSuffix(aws.ToString(want), "/") {
		diffs = append(diffs, fmt.Sprintf("its location %s is not this output's %s", location(have), aws.ToString(want)))
	}
	if h, w := columnNames(have.PartitionKeys), columnNames(c.want.PartitionKeys); !slices.Equal(h, w) {
		diffs = append(diffs, fmt.Sprintf("its partition keys [%s] are not the spec's [%s]", strings.Join(h, ", "), strings.Join(w, ", ")))
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

// current reports whether the table has the columns cols and the spec's
// storage, SerDe, type and parameters.
func (c *Catalog) current(have *types.Table, cols []types.Column) bool {
	h, w := have.StorageDescriptor, c.want.StorageDescriptor
	return h != nil && aws.ToString(have.TableType) == aws.ToString(c.want.TableType) &&
		slices.EqualFunc(h.Columns, cols, sameColumn) &&
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

// merged is the table input of an update: the evolved columns cols, and
// the spec's storage, SerDe and parameters over what the table has,
// keeping the parameters and storage settings sluice does not set.
func (c *Catalog) merged(have *types.Table, cols []types.Column) *types.TableInput {
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
	sd.Columns, sd.Location, sd.InputFormat, sd.OutputFormat = cols, w.Location, w.InputFormat, w.OutputFormat
	sd.SerdeInfo, sd.Compressed = w.SerdeInfo, w.Compressed
	in.StorageDescriptor = &sd
	return &in
}
