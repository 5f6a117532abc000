// Command load is the load Lambda: it commits a run's staged parts,
// finalizes the run (manifest, the success marker, metrics) and records failures.
package main

import (
	"context"
	"os"

	"github.com/sluice-etl/sluice/shared/pipeline/output"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-etl/sluice/shared/adapter/claims/dynamoclaims"
	"github.com/sluice-etl/sluice/shared/adapter/metrics/dynamometrics"
	"github.com/sluice-etl/sluice/shared/adapter/sink/dynamosink"
	"github.com/sluice-etl/sluice/shared/adapter/storage/s3blob"
	"github.com/sluice-etl/sluice/shared/handler"
)

func main() {
	log := lambdacontext.NewLogger()
	settings, err := handler.SettingsFromEnv("load", os.Getenv)
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
	deps := handler.Deps{
		Open:    handler.S3Opener(s3.NewFromConfig(cfg, s3blob.LocalEndpointOptions)),
		Metrics: dynamometrics.New(ddb, settings.MetricsTable),
		Tables: func(table string, key []string) output.TableWriter {
			return dynamosink.New(ddb, table, key)
		},
		EMF: os.Stdout,
		Log: log,
	}
	if settings.IdempotencyTable != "" {
		deps.Claims = dynamoclaims.New(ddb, settings.IdempotencyTable, nil)
	}
	h := handler.NewLoader(settings, deps)
	lambda.Start(h.Handle)
}
