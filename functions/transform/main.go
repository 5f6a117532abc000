// Command transform is the transform Lambda: one chunk in, staged parts
// and rejects out.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-etl/sluice/shared/adapter/claims/dynamoclaims"
	"github.com/sluice-etl/sluice/shared/adapter/storage/s3blob"
	"github.com/sluice-etl/sluice/shared/handler"
)

func main() {
	log := lambdacontext.NewLogger()
	settings, err := handler.SettingsFromEnv("transform", os.Getenv)
	if err != nil {
		log.Error("configuration", "err", err)
		os.Exit(1)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("AWS configuration", "err", err)
		os.Exit(1)
	}
	deps := handler.Deps{
		Open: handler.S3Opener(s3.NewFromConfig(cfg, s3blob.LocalEndpointOptions)),
		Log:  log,
	}
	if settings.IdempotencyTable != "" {
		deps.Claims = dynamoclaims.New(dynamodb.NewFromConfig(cfg), settings.IdempotencyTable, nil)
	}
	lambda.Start(handler.NewTransformer(settings, deps).Handle)
}
