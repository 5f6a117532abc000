// Command extract is the extract Lambda: it turns S3 notifications into
// state machine executions, and plans a run's chunks as a task.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/sluice-etl/sluice/shared/claims/dynamoclaims"
	"github.com/sluice-etl/sluice/shared/handler"
	"github.com/sluice-etl/sluice/shared/storage/s3blob"
)

func main() {
	log := lambdacontext.NewLogger()
	settings, err := handler.SettingsFromEnv("extract", os.Getenv)
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
		Open:    handler.S3Opener(s3.NewFromConfig(cfg, s3blob.LocalEndpointOptions)),
		Starter: sfn.NewFromConfig(cfg),
		Log:     log,
	}
	if settings.IdempotencyTable != "" {
		deps.Claims = dynamoclaims.New(dynamodb.NewFromConfig(cfg), settings.IdempotencyTable, nil)
	}
	h := handler.NewExtractor(settings, deps)
	lambda.Start(h.Handle)
}
