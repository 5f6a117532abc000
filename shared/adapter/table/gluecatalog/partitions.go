package gluecatalog

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/sluice-etl/sluice/shared/core/layout"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// PartitionError lists the partitions BatchCreatePartition refused for a
// reason other than their existing already. The other partitions of the
// call were added; the data files stay.
type PartitionError struct {
	Table  string
	Failed []types.PartitionError
}

func (e *PartitionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "glue table %s: %d partitions not added:", e.Table, len(e.Failed))
	for i, f := range e.Failed {
		if i == 5 {
			fmt.Fprintf(&b, " and %d more", len(e.Failed)-i)
			break
		}
		d := f.ErrorDetail
		if d == nil {
			d = &types.ErrorDetail{}
		}
		fmt.Fprintf(&b, " [%s] %s: %s;", strings.Join(f.PartitionValues, ", "), aws.ToString(d.ErrorCode), aws.ToString(d.ErrorMessage))
	}
	return strings.TrimSuffix(b.String(), ";")
}

// alreadyExists is the error code of a partition that exists.
const alreadyExists = "AlreadyExistsException"

// partition is one partition of a run: its folder under the output
// prefix and its values, one per partition key.
type partition struct {
	folder string
	values []string
}

// partitions are the distinct partitions of m's parts, in folder order,
// read from the parts' keys; a part outside the output prefix, or in a
// folder that is not the spec's partition keys, is an error.
func (c *Catalog) partitions(m *output.Manifest) ([]partition, error) {
	seen := map[string]bool{}
	var out []partition
	for _, p := range m.Parts {
		folder, err := layout.PartitionOf(c.out, p.Key)
		if err != nil {
			return nil, err
		}
		if seen[folder] {
			continue
		}
		seen[folder] = true
		values, err := c.values(folder)
		if err != nil {
			return nil, fmt.Errorf("part %s: %w", p.Key, err)
		}
		if values != nil {
			out = append(out, partition{folder: folder, values: values})
		}
	}
	slices.SortFunc(out, func(a, b partition) int { return strings.Compare(a.folder, b.folder) })
	return out, nil
}

// values are the partition values of a folder, which must hold the
// table's partition keys in order.
func (c *Catalog) values(folder string) ([]string, error) {
	levels, err := layout.ParsePartition(folder)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(levels))
	values := make([]string, len(levels))
	for i, l := range levels {
		keys[i], values[i] = l.Key, l.Value
	}
	if !slices.Equal(keys, c.partitionKey) {
		return nil, fmt.Errorf("folder %q is not partitioned by the table's keys [%s]", folder, strings.Join(c.partitionKey, ", "))
	}
	return values, nil
}

// addPartitions adds the partitions, MaxPartitionsPerCall a call. Those
// that exist count as added.
func (c *Catalog) addPartitions(ctx context.Context, sd *types.StorageDescriptor, partitions []partition) error {
	var failed []types.PartitionError
	for batch := range slices.Chunk(partitions, MaxPartitionsPerCall) {
		in := &glue.BatchCreatePartitionInput{CatalogId: c.catalogID(), DatabaseName: &c.db, TableName: &c.name}
		for _, p := range batch {
			in.PartitionInputList = append(in.PartitionInputList, c.partitionInput(sd, p))
		}
		out, err := c.api.BatchCreatePartition(ctx, in)
		if err != nil {
			return fmt.Errorf("glue table %s: add %d partitions from [%s]: %w", c.Table(), len(batch), strings.Join(batch[0].values, ", "), err)
		}
		for _, e := range out.Errors {
			if e.ErrorDetail == nil || aws.ToString(e.ErrorDetail.ErrorCode) != alreadyExists {
				failed = append(failed, e)
			}
		}
	}
	if len(failed) > 0 {
		return &PartitionError{Table: c.Table(), Failed: failed}
	}
	return nil
}

// partitionInput is one partition: the table's storage descriptor
// tableSD, its columns included, at the partition's folder.
func (c *Catalog) partitionInput(tableSD *types.StorageDescriptor, p partition) types.PartitionInput {
	sd := *tableSD
	sd.Location = aws.String("s3://" + c.bucket + "/" + layout.PartitionPrefix(c.out, p.folder))
	return types.PartitionInput{Values: p.values, StorageDescriptor: &sd}
}
