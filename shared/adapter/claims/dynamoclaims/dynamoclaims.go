// Package dynamoclaims keeps run claims in the idempotency table (key id,
// TTL attribute expires_at) with conditional writes. Readers ignore
// expired items themselves, since TTL deletes them only eventually.
package dynamoclaims

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-etl/sluice/shared/adapter/claims"
)

// API is the part of *dynamodb.Client the store uses.
type API interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// Options configure a Store.
type Options struct {
	// Clock dates claims and their expiry (default time.Now).
	Clock func() time.Time
}

// Store is a claims.Store on one table.
type Store struct {
	api   API
	table string
	now   func() time.Time
}

var _ claims.Store = (*Store)(nil)

// New returns a Store on table.
func New(api API, table string, optFns ...func(*Options)) *Store {
	opt := Options{Clock: time.Now}
	for _, fn := range optFns {
		fn(&opt)
	}
	return &Store{api: api, table: table, now: opt.Clock}
}

func key(runID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "run#" + runID}}
}

// Claim implements claims.Store: put if the item is absent, expired, or
// already ours; otherwise report what holds it.
func (s *Store) Claim(ctx context.Context, runID, owner string, ttl time.Duration) (claims.State, error) {
	now := s.now().Unix()
	cond := expression.AttributeNotExists(expression.Name("id")).
		Or(expression.Name("expires_at").LessThanEqual(expression.Value(now))).
		Or(expression.Name("status").Equal(expression.Value(string(claims.InProgress))).And(expression.Name("owner").Equal(expression.Value(owner))))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return "", err
	}
	item := key(runID)
	item["status"] = &types.AttributeValueMemberS{Value: string(claims.InProgress)}
	item["owner"] = &types.AttributeValueMemberS{Value: owner}
	item["expires_at"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(now+int64(ttl/time.Second), 10)}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: item,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if st, ok := ccf.Item["status"].(*types.AttributeValueMemberS); ok && st.Value == string(claims.Done) {
			return claims.Done, nil
		}
		return claims.InProgress, nil
	}
	if err != nil {
		return "", fmt.Errorf("claim run %s in %s: %w", runID, s.table, err)
	}
	return claims.Claimed, nil
}

// Complete implements claims.Store.
func (s *Store) Complete(ctx context.Context, runID string, keep time.Duration) error {
	item := key(runID)
	item["status"] = &types.AttributeValueMemberS{Value: string(claims.Done)}
	item["expires_at"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(s.now().Add(keep).Unix(), 10)}
	if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("complete run %s in %s: %w", runID, s.table, err)
	}
	return nil
}

// Release implements claims.Store.
func (s *Store) Release(ctx context.Context, runID string) error {
	if _, err := s.api.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key(runID)}); err != nil {
		return fmt.Errorf("release run %s in %s: %w", runID, s.table, err)
	}
	return nil
}

// Extend implements claims.Store: one conditional update that only moves
// a live in-progress claim's expiry later.
func (s *Store) Extend(ctx context.Context, runID string, ttl time.Duration) error {
	now := s.now()
	at := now.Add(ttl).Unix()
	cond := expression.Name("status").Equal(expression.Value(string(claims.InProgress))).
		And(expression.Name("expires_at").GreaterThan(expression.Value(now.Unix()))).
		And(expression.Name("expires_at").LessThan(expression.Value(at)))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(expression.Set(expression.Name("expires_at"), expression.Value(at))).Build()
	if err != nil {
		return err
	}
	_, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(s.table), Key: key(runID),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("extend run %s in %s: %w", runID, s.table, err)
	}
	return nil
}

// Holder implements claims.Store with a consistent read.
func (s *Store) Holder(ctx context.Context, runID string) (string, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(runID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("read the claim of run %s in %s: %w", runID, s.table, err)
	}
	st, _ := out.Item["status"].(*types.AttributeValueMemberS)
	owner, _ := out.Item["owner"].(*types.AttributeValueMemberS)
	exp, _ := out.Item["expires_at"].(*types.AttributeValueMemberN)
	if st == nil || owner == nil || exp == nil || st.Value != string(claims.InProgress) {
		return "", nil
	}
	if at, _ := strconv.ParseInt(exp.Value, 10, 64); at <= s.now().Unix() {
		return "", nil
	}
	return owner.Value, nil
}

// TakeOver implements claims.Store: a put on condition that from still
// holds the live claim.
func (s *Store) TakeOver(ctx context.Context, runID, from, to string, ttl time.Duration) (bool, error) {
	now := s.now().Unix()
	cond := expression.Name("status").Equal(expression.Value(string(claims.InProgress))).
		And(expression.Name("owner").Equal(expression.Value(from))).
		And(expression.Name("expires_at").GreaterThan(expression.Value(now)))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return false, err
	}
	item := key(runID)
	item["status"] = &types.AttributeValueMemberS{Value: string(claims.InProgress)}
	item["owner"] = &types.AttributeValueMemberS{Value: to}
	item["expires_at"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(now+int64(ttl/time.Second), 10)}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values()})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take over run %s in %s: %w", runID, s.table, err)
	}
	return true, nil
}
