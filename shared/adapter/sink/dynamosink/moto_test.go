package dynamosink_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-etl/sluice/internal/motoserver"
	"github.com/sluice-etl/sluice/shared/adapter/sink/dynamosink"
)

// TestUpsertOnMoto writes through a real DynamoDB API and writes the same
// rows twice: the table ends with one item per key.
func TestUpsertOnMoto(t *testing.T) {
	cfg := motoserver.ForTest(t)
	ctx := context.Background()
	db := dynamodb.NewFromConfig(cfg)
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String("t"), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeN}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	}); err != nil {
		t.Fatal(err)
	}
	w := dynamosink.New(db, "t", []string{"id"})
	for range 2 {
		if err := w.Upsert(ctx, rows(60)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("t"), Select: types.SelectCount})
	if err != nil {
		t.Fatal(err)
	}
	if out.Count != 60 {
		t.Fatalf("%d items, want 60", out.Count)
	}
	got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberN{Value: "7"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Item["name"].(*types.AttributeValueMemberS).Value != "n7" || got.Item["ok"].(*types.AttributeValueMemberBOOL).Value {
		t.Fatalf("item 7 = %v", got.Item)
	}
}
