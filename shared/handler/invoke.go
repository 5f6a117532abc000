package handler

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/sluice-etl/sluice/shared/core/plan"
	"github.com/sluice-etl/sluice/shared/pipeline/batch"
)

// LambdaAPI is the Lambda call the commit function's callers make.
type LambdaAPI interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// LambdaInvoker calls a function synchronously: LakeInvoker over Lambda.
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
			fe.Message = truncate(out.Payload, 500)
		}
		return nil, fmt.Errorf("%s: %s", l.Function, fe.Message)
	}
	return out.Payload, nil
}

// Lakes is Deps.Lakes for a function whose settings name the commit
// function: iceberg tables through it. Without one it is nil, and a spec
// with an iceberg sink fails with an error that says so.
func (env *Env) Lakes() func(ctx context.Context, p *plan.Plan, specLoc string) (batch.Lake, error) {
	fn := env.Settings.CommitFunction
	if fn == "" {
		return nil
	}
	c := LakeClient{
		Invoker:   LambdaInvoker{API: lambda.NewFromConfig(env.AWS), Function: fn},
		Open:      env.Deps.Open,
		Warehouse: env.Settings.Warehouse,
	}
	return c.Lake
}
