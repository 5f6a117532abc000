// Command extract is the extract Lambda: it turns S3 notifications into
// state machine executions, plans a run's chunks as a task, and applies
// Kinesis batches (the stream path) exactly once.
package main

import (
	"context"
	"os"
	"time"

	"github.com/sluice-etl/sluice/shared/pipeline/output"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/sluice-etl/sluice/shared/adapter/claims/dynamoclaims"
	"github.com/sluice-etl/sluice/shared/adapter/sink/dynamosink"
	"github.com/sluice-etl/sluice/shared/adapter/storage/s3blob"
	"github.com/sluice-etl/sluice/shared/adapter/windowstate/dynamostate"
	"github.com/sluice-etl/sluice/shared/handler"
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
	ddb := dynamodb.NewFromConfig(cfg)
	sfnc := sfn.NewFromConfig(cfg)
	deps := handler.Deps{
		Open:       handler.S3Opener(s3.NewFromConfig(cfg, s3blob.LocalEndpointOptions)),
		Starter:    sfnc,
		Executions: sfnc,
		Tables: func(table string, key []string) output.TableWriter {
			return dynamosink.New(ddb, table, key)
		},
		Windows: func(table string, keep time.Duration) handler.WindowStore {
			st := dynamostate.New(ddb, table)
			if keep > 0 {
				st.Keep = keep
			}
			return st
		},
		EMF: os.Stdout,
		Log: log,
	}
	if settings.IdempotencyTable != "" {
		deps.Claims = dynamoclaims.New(ddb, settings.IdempotencyTable, nil)
	}
	// The extractor implements lambda.Handler: it takes the raw payload.
	lambda.Start(handler.NewExtractor(settings, deps))
}
