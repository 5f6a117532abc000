// Command extract is the extract Lambda: it turns S3 notifications into
// state machine executions, plans a run's chunks as a task, and applies
// Kinesis batches (the stream path) exactly once.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/sluice-etl/sluice/shared/handler"
	"github.com/sluice-etl/sluice/shared/handler/invoker"
)

func main() {
	handler.Main("extract", func(env *handler.Env) any {
		executions := sfn.NewFromConfig(env.AWS)
		d := env.Deps
		d.Starter, d.Executions = executions, executions
		d.Tables, d.Windows, d.Lakes = env.Tables, env.Windows, invoker.Lakes(env)
		d.Shards = invoker.ShardLister(kinesis.NewFromConfig(env.AWS))
		// The extractor implements lambda.Handler: it takes the raw payload.
		return handler.NewExtractor(env.Settings, d)
	})
}
