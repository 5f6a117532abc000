// Package gluecatalog registers the output of a jsonl, csv or parquet
// sink in the AWS Glue Data Catalog (sink.catalog: glue), so Athena and
// other Glue-aware engines query each run's files as soon as the run
// succeeds, with no crawler and no MSCK REPAIR TABLE. It implements
// batch.Catalog.
//
// The table, sink.table's namespace (a Glue database, which must exist)
// and name, is an EXTERNAL_TABLE whose location is the output prefix:
// its columns are the spec's output fields in order with Hive types, its
// partition keys the sink's partition_by keys (strings), and its storage
// descriptor reads the format sluice writes (TableInput says how).
//
// Register is idempotent, so a retried finalize or a rerun registers
// again safely:
//   - the table is created if missing (a CreateTable that loses a race
//     reads the winner's table), and updated with UpdateTable, on the
//     VersionId it was read at, when its columns, storage or SerDe differ
//     from the spec's: its columns evolve (evolve.go: new ones added at
//     the end, those no longer written kept, types widened), and a
//     narrowed or incompatible type, another location or other
//     partition keys is an IncompatibleError, changed by nobody;
//   - the run's partitions, read from its parts' keys, are added with
//     BatchCreatePartition, at most MaxPartitionsPerCall a call, each
//     with the table's storage descriptor at its folder. A partition
//     that exists already is done; any other per-partition failure is a
//     PartitionError.
//
// The Glue calls go through API, which *glue.Client satisfies.
package gluecatalog

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/sluice-etl/sluice/shared/core/codec"
	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/core/record"
	"github.com/sluice-etl/sluice/shared/core/spec"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// API is the part of *glue.Client the catalog uses.
type API interface {
	GetDatabase(context.Context, *glue.GetDatabaseInput, ...func(*glue.Options)) (*glue.GetDatabaseOutput, error)
	GetTable(context.Context, *glue.GetTableInput, ...func(*glue.Options)) (*glue.GetTableOutput, error)
	CreateTable(context.Context, *glue.CreateTableInput, ...func(*glue.Options)) (*glue.CreateTableOutput, error)
	UpdateTable(context.Context, *glue.UpdateTableInput, ...func(*glue.Options)) (*glue.UpdateTableOutput, error)
	BatchCreatePartition(context.Context, *glue.BatchCreatePartitionInput, ...func(*glue.Options)) (*glue.BatchCreatePartitionOutput, error)
}

var _ API = (*glue.Client)(nil)

// MaxPartitionsPerCall is BatchCreatePartition's limit.
const MaxPartitionsPerCall = 100

// Options tune a Catalog.
type Options struct {
	// CatalogID is the Glue Data Catalog's account id (default: the
	// caller's account).
	CatalogID string
	// Attempts bounds the tries at creating or updating the table when
	// another writer changed it in between (default 5).
	Attempts int
}

// Catalog registers runs' output in one Glue table.
type Catalog struct {
	api          API
	db, name     string
	bucket, out  string // the output prefix: a bucket and a key prefix
	partitionKey []string
	want         *types.TableInput
	opt          Options
}

var _ batch.Catalog = (*Catalog)(nil)

// Errors of New and Register.
var (
	// ErrNotRegistrable is returned by New for a spec whose sink does
	// not register in Glue: not jsonl, csv or parquet, or no catalog glue.
	ErrNotRegistrable = errors.New("the sink does not register its output in glue")
	// ErrLocation is returned by New for a location that is not
	// s3://bucket[/prefix].
	ErrLocation = errors.New("the output of a table registered in glue must be s3://bucket[/prefix]")
	// ErrNoDatabase is returned when sink.table's namespace is not a Glue
	// database: sluice does not create databases.
	ErrNoDatabase = errors.New("glue database not found")
)

// New returns the catalog of a spec whose jsonl, csv or parquet sink has
// catalog glue. out is the output schema (the plan's Out); location is
// the output prefix, s3://bucket[/prefix], under which the run's parts
// are published (their keys are keys in that bucket).
func New(api API, sp *spec.Spec, out *record.Schema, location string, optFns ...func(*Options)) (*Catalog, error) {
	k := sp.Sink
	switch k.Format.OrDefault() {
	case codec.SinkJSONL, codec.SinkCSV, codec.SinkParquet:
	default:
		return nil, fmt.Errorf("%w: format %s", ErrNotRegistrable, k.Format)
	}
	if k.Catalog != spec.CatalogGlue || k.Table.Namespace == "" || k.Table.Name == "" {
		return nil, fmt.Errorf("%w: sink.catalog is %q, sink.table %q", ErrNotRegistrable, k.Catalog, k.Table)
	}
	bucket, prefix, err := parseLocation(location)
	if err != nil {
		return nil, err
	}
	want, err := TableInput(sp, out, "s3://"+bucket+"/"+layout.Dir(prefix))
	if err != nil {
		return nil, fmt.Errorf("glue table %s: %w", k.Table, err)
	}
	c := &Catalog{api: api, db: k.Table.Namespace, name: k.Table.Name, bucket: bucket, out: prefix, want: want, opt: Options{Attempts: 5}}
	for _, p := range k.PartitionBy {
		c.partitionKey = append(c.partitionKey, p.Key)
	}
	for _, fn := range optFns {
		fn(&c.opt)
	}
	return c, nil
}

// parseLocation splits s3://bucket[/prefix].
func parseLocation(location string) (bucket, prefix string, err error) {
	u, err := url.Parse(location)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("%w, not %q", ErrLocation, location)
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}

// Table is the Glue table, database.name.
func (c *Catalog) Table() string { return c.db + "." + c.name }

// Register creates or updates the table and adds the partitions of a
// succeeded run m: the folders of its parts, under the output prefix.
func (c *Catalog) Register(ctx context.Context, m *output.Manifest) error {
	partitions, err := c.partitions(m)
	var sd *types.StorageDescriptor
	if err == nil {
		sd, err = c.ensureTable(ctx)
	}
	if err != nil {
		return c.wrap(err)
	}
	return c.addPartitions(ctx, sd, partitions)
}

// wrap names the table in err, unless err names it already.
func (c *Catalog) wrap(err error) error {
	var ie *IncompatibleError
	if errors.As(err, &ie) {
		return err
	}
	return fmt.Errorf("glue table %s: %w", c.Table(), err)
}

// catalogID is the CatalogId of a request: nil for the caller's account.
func (c *Catalog) catalogID() *string {
	if c.opt.CatalogID == "" {
		return nil
	}
	return &c.opt.CatalogID
}
