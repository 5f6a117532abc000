// Package dynamometrics keeps run records in a DynamoDB table keyed by
// run_id, with expires_at as its TTL attribute.
package dynamometrics

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sluice-etl/sluice/shared/adapter/metrics"
)

// PutItemAPI is the DynamoDB operation the store uses.
type PutItemAPI interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

var _ PutItemAPI = (*dynamodb.Client)(nil)

// Store writes run records to one table.
type Store struct {
	api   PutItemAPI
	table string
}

var _ metrics.Store = (*Store)(nil)

// New returns a Store on table.
func New(api PutItemAPI, table string) *Store { return &Store{api: api, table: table} }

// PutRun implements metrics.Store. A run written twice (a retried Load or
// Finalize) overwrites its own record.
func (s *Store) PutRun(ctx context.Context, r metrics.Run) error {
	item, err := attributevalue.MarshalMap(r)
	if err != nil {
		return fmt.Errorf("metrics: encode run %s: %w", r.RunID, err)
	}
	if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: item}); err != nil {
		return fmt.Errorf("metrics: put run %s into %s: %w", r.RunID, s.table, err)
	}
	return nil
}
