package dynamoclaims_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-etl/sluice/internal/motoserver"
	"github.com/sluice-etl/sluice/shared/adapter/claims"
	"github.com/sluice-etl/sluice/shared/adapter/claims/claimstest"
	"github.com/sluice-etl/sluice/shared/adapter/claims/dynamoclaims"
)

var (
	db     *dynamodb.Client
	dbErr  error
	tables int
)

func TestMain(m *testing.M) {
	srv, err := motoserver.Start(context.Background())
	dbErr = err
	if err == nil {
		cfg, err := srv.Config(context.Background())
		dbErr = err
		db = dynamodb.NewFromConfig(cfg)
	}
	code := m.Run()
	srv.Stop()
	os.Exit(code)
}

func TestConformanceOnMoto(t *testing.T) {
	motoserver.Need(t, dbErr)
	claimstest.Run(t, func(t *testing.T, now *time.Time) claims.Store {
		tables++
		name := fmt.Sprintf("idem-%d", tables)
		if _, err := db.CreateTable(context.Background(), &dynamodb.CreateTableInput{
			TableName: aws.String(name), BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		}); err != nil {
			t.Fatal(err)
		}
		return dynamoclaims.New(db, name, func(o *dynamoclaims.Options) { o.Clock = func() time.Time { return *now } })
	})
}
