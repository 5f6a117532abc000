// Package invoker holds the SDK clients of the calls only some functions
// make: the Lambda invoke of the commit function (extract, load) and
// Kinesis's ListShards (extract's flush). The functions' mains import it;
// shared/handler knows the calls by small interfaces, so a function that
// makes none of them links none of these clients.
package invoker

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/handler"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
)

// LambdaAPI is the Lambda call the commit function's callers make.
type LambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// LambdaInvoker calls a function synchronously: handler.LakeInvoker over
// Lambda.
type LambdaInvoker struct {
	API      LambdaAPI
	Function string
}

// InvokeLake invokes the function with payload and returns its answer. A
// function error (the handler returned one, or the function crashed)
// comes back as an error with the function's message.
func (l LambdaInvoker) InvokeLake(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := l.API.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(l.Function), Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", l.Function, err)
	}
	if out.FunctionError != nil {
		var fe struct {
			Message string `json:"errorMessage"`
			Type    string `json:"errorType"`
		}
		if json.Unmarshal(out.Payload, &fe) != nil || fe.Message == "" {
			fe.Message = string(out.Payload[:min(len(out.Payload), 500)])
		}
		return nil, fmt.Errorf("%s: %s", l.Function, fe.Message)
	}
	return out.Payload, nil
}

// Lakes is Deps.Lakes for a function whose settings name the commit
// function: iceberg tables through it. Without one it is nil, and a spec
// with an iceberg sink fails with an error that says so.
func Lakes(env *handler.Env) func(ctx context.Context, p *plan.Plan, specLoc string) (handler.Lake, error) {
	c, ok := client(env)
	if !ok {
		return nil
	}
	return c.Lake
}

// Catalogs is Deps.Catalogs: the commit function registers plain outputs
// in Glue, as it commits iceberg tables.
func Catalogs(env *handler.Env) func(ctx context.Context, p *plan.Plan, specLoc, location string) (batch.Catalog, error) {
	c, ok := client(env)
	if !ok {
		return nil
	}
	return c.Catalog
}

func client(env *handler.Env) (handler.LakeClient, bool) {
	fn := env.Settings.CommitFunction
	if fn == "" {
		return handler.LakeClient{}, false
	}
	return handler.LakeClient{
		Invoker:   LambdaInvoker{API: lambda.NewFromConfig(env.AWS), Function: fn},
		Open:      env.Deps.Open,
		Warehouse: env.Settings.Warehouse,
	}, true
}

// KinesisAPI is the Kinesis call the extract function makes to flush a
// stream's shards.
type KinesisAPI interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
}

// ShardLister lists a stream's shard ids through api: Deps.Shards.
func ShardLister(api KinesisAPI) func(ctx context.Context, stream string) ([]string, error) {
	return func(ctx context.Context, stream string) ([]string, error) {
		var ids []string
		in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
		for {
			page, err := api.ListShards(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("list the shards of %s: %w", stream, err)
			}
			for _, sh := range page.Shards {
				ids = append(ids, aws.ToString(sh.ShardId))
			}
			if page.NextToken == nil {
				break
			}
			// A next page is asked for by its token alone.
			in = &kinesis.ListShardsInput{NextToken: page.NextToken}
		}
		return ids, nil
	}
}
