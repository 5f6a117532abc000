package handler

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-etl/sluice/shared/adapter/claims/dynamoclaims"
	"github.com/sluice-etl/sluice/shared/adapter/sink/dynamosink"
	"github.com/sluice-etl/sluice/shared/adapter/storage/s3blob"
	"github.com/sluice-etl/sluice/shared/adapter/windowstate/dynamostate"
	"github.com/sluice-etl/sluice/shared/pipeline/output"
)

// Env is what a function's main builds once per cold start: its settings,
// the AWS configuration and the dependencies all three functions share.
type Env struct {
	Settings Settings
	AWS      aws.Config
	// Deps holds the logger, the S3 opener, the EMF sink and, with an
	// idempotency table, the run claims; a main adds its own clients.
	Deps Deps
	ddb  *dynamodb.Client
}

// Boot reads the settings of function fn and the AWS configuration, and
// wires the shared dependencies.
func Boot(ctx context.Context, fn string, getenv func(string) string, log *slog.Logger) (*Env, error) {
	settings, err := SettingsFromEnv(fn, getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	env := &Env{Settings: settings, AWS: cfg}
	env.Deps = Deps{
		Open: S3Opener(s3.NewFromConfig(cfg, s3blob.LocalEndpointOptions)),
		EMF:  os.Stdout,
		Log:  log,
	}
	if settings.IdempotencyTable != "" {
		env.Deps.Claims = dynamoclaims.New(env.DynamoDB(), settings.IdempotencyTable)
	}
	return env, nil
}

// DynamoDB is the function's DynamoDB client, made on first use.
func (env *Env) DynamoDB() *dynamodb.Client {
	if env.ddb == nil {
		env.ddb = dynamodb.NewFromConfig(env.AWS)
	}
	return env.ddb
}

// Tables opens the writer of a dynamodb sink's table.
func (env *Env) Tables(table string, key []string) output.TableWriter {
	return dynamosink.New(env.DynamoDB(), table, key)
}

// Windows opens the window-state table; keep is how long closed-window
// results live (0: the store's default).
func (env *Env) Windows(table string, keep time.Duration) WindowStore {
	return dynamostate.New(env.DynamoDB(), table, func(o *dynamostate.Options) {
		if keep > 0 {
			o.Keep = keep
		}
	})
}

// Main is a function's main: it boots function fn, builds its handler
// with build and starts the Lambda runtime. A configuration error is
// logged and ends the process before the first invocation.
func Main(fn string, build func(env *Env) any) {
	log := lambdacontext.NewLogger()
	env, err := Boot(context.Background(), fn, os.Getenv, log)
	if err != nil {
		log.Error("start "+fn, "err", err)
		os.Exit(1)
	}
	lambda.Start(NewRuntimeHandler(build(env)))
}
