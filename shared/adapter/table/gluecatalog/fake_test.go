package gluecatalog_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/sluice-etl/sluice/shared/adapter/table/gluecatalog"
)

// fakeGlue is an in-memory Glue database with one table at most. It
// records each call, and a test overrides one operation through its
// hooks.
type fakeGlue struct {
	mu         sync.Mutex
	noDatabase bool
	table      *types.Table // nil: no table
	partitions map[string]types.PartitionInput
	calls      []string
	// batches holds the partition values of each BatchCreatePartition.
	batches [][][]string

	onCreate func(*glue.CreateTableInput) error
	onBatch  func(*glue.BatchCreatePartitionInput) (*glue.BatchCreatePartitionOutput, error)
}

var _ gluecatalog.API = (*fakeGlue)(nil)

func (f *fakeGlue) record(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op)
}

func (f *fakeGlue) GetDatabase(_ context.Context, in *glue.GetDatabaseInput, _ ...func(*glue.Options)) (*glue.GetDatabaseOutput, error) {
	f.record("GetDatabase")
	if f.noDatabase {
		return nil, &types.EntityNotFoundException{Message: aws.String("Database " + aws.ToString(in.Name) + " not found.")}
	}
	return &glue.GetDatabaseOutput{Database: &types.Database{Name: in.Name}}, nil
}

func (f *fakeGlue) GetTable(_ context.Context, in *glue.GetTableInput, _ ...func(*glue.Options)) (*glue.GetTableOutput, error) {
	f.record("GetTable")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noDatabase || f.table == nil {
		return nil, &types.EntityNotFoundException{Message: aws.String("Table " + aws.ToString(in.Name) + " not found.")}
	}
	t := *f.table
	return &glue.GetTableOutput{Table: &t}, nil
}

func (f *fakeGlue) CreateTable(_ context.Context, in *glue.CreateTableInput, _ ...func(*glue.Options)) (*glue.CreateTableOutput, error) {
	f.record("CreateTable")
	if f.onCreate != nil {
		if err := f.onCreate(in); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.table != nil {
		return nil, &types.AlreadyExistsException{Message: aws.String("Table already exists.")}
	}
	f.table = tableOf(in.DatabaseName, in.TableInput, "1")
	return &glue.CreateTableOutput{}, nil
}

func (f *fakeGlue) UpdateTable(_ context.Context, in *glue.UpdateTableInput, _ ...func(*glue.Options)) (*glue.UpdateTableOutput, error) {
	f.record("UpdateTable")
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.VersionId != nil && aws.ToString(in.VersionId) != aws.ToString(f.table.VersionId) {
		return nil, &types.ConcurrentModificationException{Message: aws.String("stale version")}
	}
	var v int
	fmt.Sscan(aws.ToString(f.table.VersionId), &v)
	f.table = tableOf(in.DatabaseName, in.TableInput, fmt.Sprint(v+1))
	return &glue.UpdateTableOutput{}, nil
}

func (f *fakeGlue) BatchCreatePartition(_ context.Context, in *glue.BatchCreatePartitionInput, _ ...func(*glue.Options)) (*glue.BatchCreatePartitionOutput, error) {
	f.record("BatchCreatePartition")
	var values [][]string
	for _, p := range in.PartitionInputList {
		values = append(values, p.Values)
	}
	f.mu.Lock()
	f.batches = append(f.batches, values)
	f.mu.Unlock()
	if f.onBatch != nil {
		return f.onBatch(in)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.partitions == nil {
		f.partitions = map[string]types.PartitionInput{}
	}
	out := &glue.BatchCreatePartitionOutput{}
	for _, p := range in.PartitionInputList {
		key := fmt.Sprint(p.Values)
		if _, ok := f.partitions[key]; ok {
			out.Errors = append(out.Errors, types.PartitionError{PartitionValues: p.Values,
				ErrorDetail: &types.ErrorDetail{ErrorCode: aws.String("AlreadyExistsException"), ErrorMessage: aws.String("Partition already exists.")}})
			continue
		}
		f.partitions[key] = p
	}
	return out, nil
}

// tableOf is the table GetTable returns for a table input.
func tableOf(db *string, in *types.TableInput, version string) *types.Table {
	return &types.Table{DatabaseName: db, Name: in.Name, TableType: in.TableType, Parameters: in.Parameters,
		PartitionKeys: in.PartitionKeys, StorageDescriptor: in.StorageDescriptor, Description: in.Description,
		VersionId: aws.String(version)}
}
