// Command commit is the commit Lambda: the one function that links
// iceberg-go. Extract and load call it to prepare an iceberg sink's table
// and to commit a run's data files to it, exactly once, on Glue.
package main

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/sluice-etl/sluice/shared/handler"
	"github.com/sluice-etl/sluice/shared/handler/commitfn"
)

func main() {
	handler.Main("commit", func(env *handler.Env) any {
		return commitfn.New(env.Settings, env.Deps, func(o *commitfn.Options) {
			o.Endpoint, o.Region = os.Getenv("AWS_ENDPOINT_URL"), env.AWS.Region
			o.Glue = glue.NewFromConfig(env.AWS)
		}).Handle
	})
}
